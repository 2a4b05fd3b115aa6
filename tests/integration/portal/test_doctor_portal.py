"""`kioskctl doctor`'s portal check reaches the portal as the kiosk's portal client does:
over mutual TLS with the configured CA and client certificate, and never through a
redirect (the client and the fleet pull refuse them; the doctor must report one)."""

from __future__ import annotations

import dataclasses
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from composition.cli.doctor import FAIL, OK, check_portal_and_clock
from kiosk.errors import ConfigError
from kiosk.i18n import translate
from kiosk.portal_client import PortalClient
from kiosk.settings import PortalSettings, Settings
from portal.devpki import DevPki
from portal.server import RunningPortal
from tests.conftest import another_address, feed_fifo, redirecting_tls_server, within


def with_portal(**fields: str) -> Settings:
    return dataclasses.replace(Settings(), portal=PortalSettings(**fields))


@pytest.mark.parametrize("status", [301, 307])
def test_a_redirecting_portal_is_a_failure_with_its_fix_and_is_never_followed(
    tmp_path: Path, status: int
) -> None:
    """urllib followed the redirect: a portal.url answering 3xx to plain http elsewhere
    passed the doctor, while every call of the kiosk's own client is refused there."""
    reached: list[str] = []

    class Healthy(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            reached.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:
            pass

    address = another_address()
    plain = ThreadingHTTPServer((address, 0), Healthy)
    target = f"http://{address}:{plain.server_address[1]}"
    with redirecting_tls_server(tmp_path, status, target, plain) as (url, ca_file):
        checks = {c.name: c for c in check_portal_and_clock(with_portal(url=url,
                                                                       ca_file=ca_file))}
    assert reached == []  # not followed
    portal = checks["portal"]
    assert (portal.status, portal.fix) == (FAIL, "doctor.fix.portal_redirect")
    assert f"{target}/api/v1/health" in portal.detail
    assert checks["clock"].status == OK  # no Date from a redirect: the clock is judged alone
    for lang, words in (("sv", "omdirigering"), ("en", "redirect")):
        text = translate(portal.fix, lang, **portal.params)
        assert words in text and target in text and url in text


def test_the_check_passes_against_the_reference_portal_over_mutual_tls(
    tls_portal: RunningPortal, pki: DevPki
) -> None:
    """urllib used neither portal.ca_file nor the client certificate: against a real
    portal (client certificates required) the check failed on every kiosk."""
    settings = with_portal(url=tls_portal.url, ca_file=str(pki.ca_cert),
                           client_cert=str(pki.client_cert), client_key=str(pki.client_key))
    checks = {c.name: c for c in check_portal_and_clock(settings)}
    assert checks["portal"].status == OK, checks["portal"].detail
    assert checks["clock"].status == OK


def test_an_unknown_portal_certificate_is_a_tls_failure_with_its_fix(
    tls_portal: RunningPortal, other_pki: DevPki
) -> None:
    settings = with_portal(url=tls_portal.url, ca_file=str(other_pki.ca_cert))
    portal = {c.name: c for c in check_portal_and_clock(settings)}["portal"]
    assert (portal.status, portal.fix) == (FAIL, "doctor.fix.portal_tls")
    for lang in ("sv", "en"):
        assert "portal.ca_file" in translate(portal.fix, lang, **portal.params)


@pytest.mark.parametrize("setting", ["ca_file", "client_cert", "client_key"])
def test_a_portal_tls_file_that_is_a_fifo_is_refused_not_waited_on(
    tls_portal: RunningPortal, pki: DevPki, tmp_path: Path, setting: str
) -> None:
    """The TLS library opens these files at each connection: a FIFO named there hung every
    portal call (the sync worker, a visit's send) and kioskctl doctor for good."""
    fifo = tmp_path / "tls.pem"
    os.mkfifo(fifo)
    files = {"ca_file": str(pki.ca_cert), "client_cert": str(pki.client_cert),
             "client_key": str(pki.client_key), setting: str(fifo)}
    settings = with_portal(url=tls_portal.url, **files)

    def health() -> object:
        with PortalClient.from_settings(settings.portal) as client:
            return client.health()

    with pytest.raises(ConfigError) as caught:
        within(30, health, unblock=lambda: feed_fifo(fifo))
    assert caught.value.data["path"] == f"portal.{setting}"
    checks = within(30, lambda: check_portal_and_clock(settings), unblock=lambda: feed_fifo(fifo))
    portal = {c.name: c for c in checks}["portal"]
    assert (portal.status, portal.fix) == (FAIL, "doctor.fix.portal_tls")
    assert f"portal.{setting}" in portal.detail
