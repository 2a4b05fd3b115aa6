"""The one check for a URL the kiosk will connect to, and the one loopback check.

A URL is judged as the HTTP client will read it: requests prepares it and urllib3 parses
it (``parse_url``), so the host checked is the host connected to. ``urlsplit`` reads
``http://10.255.255.1\\@127.0.0.1/`` as host 127.0.0.1 while urllib3 connects to
10.255.255.1; such URLs (user info, a backslash, anything the two read differently) are
refused outright. Plain http is allowed only on loopback (demo and tests).

Every place a URL enters uses ``check_service_url``: the settings (``portal.url``,
``fleet.pull_url``), ``kioskctl config pull URL``, ``PortalClient`` and the bundle pull.
The TLS files those connections load (CA, client certificate and key) go through
``check_tls_file``.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from urllib.parse import urlsplit

from kiosk.errors import ConfigError

SERVICE_URL_HINT = "an https:// URL (http:// only on loopback)"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is localhost or a loopback address (IPv6 in brackets too)."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def service_url_problem(url: str) -> str | None:
    """Why the HTTP client must not connect to ``url``; None if it may."""
    if not url or any(ch in url for ch in "\\\r\n\t ") or not url.isprintable():
        return "contains a backslash, whitespace or a control character" if url else "empty"
    # imported here: the portal's process and is_loopback's callers need no HTTP client
    import requests
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    try:
        prepared = requests.models.PreparedRequest()
        prepared.prepare_url(url, None)
        parts = parse_url(prepared.url or "")
    except (requests.RequestException, LocationParseError, ValueError) as exc:
        return f"not a URL the HTTP client accepts ({type(exc).__name__})"
    if parts.auth is not None or "@" in (urlsplit(url).netloc or ""):
        return "user info (user@host) is not allowed in a service URL"
    if not parts.host:
        return "no host"
    if (urlsplit(url).hostname or "").lower() != parts.host.strip("[]").lower():
        return "the URL names its host ambiguously"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http":
        return None if is_loopback(parts.host) else "plain http is allowed only on loopback"
    return f"scheme {parts.scheme!r} is not https"


def is_service_url(url: str) -> bool:
    """Whether the HTTP client may connect to ``url`` (https, or http on loopback)."""
    return service_url_problem(url) is None


def check_service_url(url: str, what: str) -> str:
    """``url`` unchanged if the HTTP client may connect to it; ConfigError naming ``what``."""
    problem = service_url_problem(url)
    if problem is not None:
        raise ConfigError(f"{what} = {url!r} is not allowed: {problem}; {SERVICE_URL_HINT}",
                          path=what, hint=SERVICE_URL_HINT)
    return url


def check_tls_file(path: str, what: str) -> str:
    """``path`` unchanged unless it names something other than a regular file (a FIFO, a
    device, a folder): ConfigError naming ``what``. The TLS library opens the file at each
    connection, and a FIFO there hung every portal call (the sync worker, a visit's send)
    for good. A missing file is left to the connection, which reports it."""
    try:
        info = os.stat(path)
    except OSError:
        return path
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{what} = {path!r} is not a regular file (a PEM file is needed)",
                          path=what)
    return path
