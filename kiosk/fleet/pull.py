"""Pulling the current bundle over HTTPS with conditional requests, then applying it.

The validators (ETag, Last-Modified) of the last processed answer are kept per URL in
the store, so an unchanged bundle costs a 304. A pulled bundle must also be fresh: one
signed longer ago than fleet.max_bundle_age_days is refused ("stale"), so a server stuck
on an old bundle (freeze) shows up as a refusal instead of silently passing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests

from kiosk.errors import BundleRefused
from kiosk.fleet import store
from kiosk.fleet.apply import ApplyResult, apply_bundle
from kiosk.fleet.bundle import MAX_BUNDLE_BYTES
from kiosk.paths import KioskPaths
from kiosk.settings import FleetSettings
from kiosk.urls import check_service_url, check_tls_file

# Refusals that the same bytes will always get: remember the validators so we get a 304.
SETTLED_REFUSALS = frozenset({"replayed_version", "old_version", "rolled_back_version"})


@dataclass(frozen=True)
class Fetched:
    """An answer of the bundle server, its body read in full (at most MAX_BUNDLE_BYTES)."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes


@dataclass(frozen=True)
class PullResult:
    """What a pull did: not_modified, up_to_date, applied."""

    action: str
    http_status: int
    applied: ApplyResult | None = None


def _headers(cache: dict[str, str], url: str) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if f"etag {url}" in cache:
        headers["If-None-Match"] = cache[f"etag {url}"]
    if f"last-modified {url}" in cache:
        headers["If-Modified-Since"] = cache[f"last-modified {url}"]
    return headers


def _remember(paths: KioskPaths, url: str, response: Fetched) -> None:
    cache = store.read_pull_cache(paths)
    for header, key in (("ETag", f"etag {url}"), ("Last-Modified", f"last-modified {url}")):
        value = response.headers.get(header)
        if value:
            cache[key] = value
        else:
            cache.pop(key, None)
    store.write_pull_cache(paths, cache)


def _too_large(url: str) -> BundleRefused:
    return BundleRefused(
        "malformed_bundle", f"{url}: answer larger than {MAX_BUNDLE_BYTES} bytes", url=url
    )


def fetch(url: str, paths: KioskPaths, fleet: FleetSettings) -> Fetched:
    """GET the bundle with the stored validators, streaming: an answer that declares or
    sends more than MAX_BUNDLE_BYTES is refused without reading the rest, one that takes
    longer than pull_timeout_s in all is 'unreachable' (a trickling server cannot hold
    the kiosk). No redirect is followed. BundleRefused('unreachable') on any transport
    failure."""
    verify: bool | str = fleet.pull_ca_file or True
    deadline = time.monotonic() + fleet.pull_timeout_s
    try:
        with requests.get(
            url,
            headers=_headers(store.read_pull_cache(paths), url),
            timeout=fleet.pull_timeout_s,
            verify=verify,
            stream=True,
            # a redirect would lead past check_service_url (to plain http anywhere, where
            # pull_ca_file pins nothing): a 3xx is an answer like any other that is not 200
            allow_redirects=False,
        ) as response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > MAX_BUNDLE_BYTES:
                raise _too_large(url)
            body = bytearray()
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > MAX_BUNDLE_BYTES:
                    raise _too_large(url)
                if time.monotonic() > deadline:
                    raise BundleRefused(
                        "unreachable", f"{url}: the answer took over {fleet.pull_timeout_s} s",
                        url=url,
                    )
            return Fetched(response.status_code, response.headers, bytes(body))
    except requests.RequestException as exc:
        raise BundleRefused("unreachable", f"{url}: {exc}", url=url) from exc


def pull_bundle(
    url: str, paths: KioskPaths, fleet: FleetSettings, now: datetime | None = None
) -> PullResult:
    """Fetch ``url`` and apply it if it changed; refusals raise BundleRefused.

    ConfigError before any connection if the HTTP client would not reach ``url`` safely
    (kiosk/urls.py): the URL may come from the command line, not only from the settings.
    """
    check_service_url(url, "fleet.pull_url")
    if fleet.pull_ca_file:
        check_tls_file(fleet.pull_ca_file, "fleet.pull_ca_file")
    response = fetch(url, paths, fleet)
    if response.status_code == 304:
        return PullResult("not_modified", 304)
    if response.status_code != 200:
        raise BundleRefused(
            "unreachable", f"{url} answered HTTP {response.status_code}", url=url
        )
    try:
        result = apply_bundle(
            response.content, paths, now, max_age=timedelta(days=fleet.max_bundle_age_days)
        )
    except BundleRefused as refused:
        if refused.reason in SETTLED_REFUSALS:
            _remember(paths, url, response)
            if refused.reason == "replayed_version":
                return PullResult("up_to_date", 200)
        raise
    _remember(paths, url, response)
    return PullResult("applied", 200, result)
