"""TLS: the kiosk verifies the portal, the portal accepts only kiosks its CA certified."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import requests
from cryptography import x509

from kiosk.demo_cast import demo_holder
from kiosk.errors import PortalAuthError
from kiosk.model import CardStatus
from kiosk.portal_client import PortalClient
from kiosk.settings import PortalSettings
from portal.devpki import DevPki, ensure_dev_pki
from portal.server import (
    PlainHttpRefused,
    RunningPortal,
    _cert_hosts,
    start_in_thread,
    uvicorn_config,
)

from .conftest import ClientFactory, SleepRecorder

pytestmark = pytest.mark.portal


def test_kiosk_with_its_certificate_reaches_the_portal(
    tls_portal: RunningPortal, pki: DevPki, make_client: ClientFactory, today: date
) -> None:
    assert tls_portal.url.startswith("https://127.0.0.1:")
    client = make_client(
        tls_portal.url,
        ca_file=str(pki.ca_cert),
        client_cert=str(pki.client_cert),
        client_key=str(pki.client_key),
    )
    assert client.card(demo_holder("anna", today).card_number).status is CardStatus.SENT


def test_localhost_name_is_covered_by_the_server_certificate(
    tls_portal: RunningPortal, pki: DevPki, make_client: ClientFactory
) -> None:
    client = make_client(
        f"https://localhost:{tls_portal.port}",
        ca_file=str(pki.ca_cert),
        client_cert=str(pki.client_cert),
        client_key=str(pki.client_key),
    )
    assert client.health()["status"] == "ok"


def test_a_server_certificate_from_another_ca_is_refused(
    tls_portal: RunningPortal, pki: DevPki, other_pki: DevPki,
    make_client: ClientFactory, sleeps: SleepRecorder,
) -> None:
    client = make_client(
        tls_portal.url,
        ca_file=str(other_pki.ca_cert),
        client_cert=str(pki.client_cert),
        client_key=str(pki.client_key),
    )
    with pytest.raises(PortalAuthError) as caught:
        client.health()
    assert "certificate" in caught.value.detail.lower()
    assert sleeps.delays == []


def test_an_unknown_client_certificate_is_refused(
    tls_portal: RunningPortal, pki: DevPki, other_pki: DevPki,
    make_client: ClientFactory, sleeps: SleepRecorder,
) -> None:
    client = make_client(
        tls_portal.url,
        ca_file=str(pki.ca_cert),
        client_cert=str(other_pki.client_cert),
        client_key=str(other_pki.client_key),
    )
    with pytest.raises(PortalAuthError):
        client.health()
    assert sleeps.delays == []


def test_a_kiosk_without_client_certificate_is_refused(
    tls_portal: RunningPortal, pki: DevPki, make_client: ClientFactory
) -> None:
    client = make_client(tls_portal.url, ca_file=str(pki.ca_cert))
    with pytest.raises(PortalAuthError):
        client.health()


def test_plain_http_to_the_tls_port_gets_no_answer(tls_portal: RunningPortal) -> None:
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{tls_portal.port}/api/v1/health", timeout=3)


def test_plain_http_is_refused_off_loopback(tmp_path: Path) -> None:
    with pytest.raises(PlainHttpRefused):
        uvicorn_config(object(), "0.0.0.0", 8443, None)  # noqa: S104
    with pytest.raises(PlainHttpRefused):
        start_in_thread(tmp_path / "portal.db", host="192.0.2.10")
    assert not (tmp_path / "portal.db").exists()


def test_a_client_from_the_kiosk_settings_uses_its_ca_and_certificate(
    tls_portal: RunningPortal, pki: DevPki, today: date
) -> None:
    settings = PortalSettings(
        url=tls_portal.url,
        ca_file=str(pki.ca_cert),
        client_cert=str(pki.client_cert),
        client_key=str(pki.client_key),
        connect_timeout_s=2.0,
        read_timeout_s=4.0,
        retries=1,
    )
    with PortalClient.from_settings(settings, "demo-kiosk-1") as client:
        assert client.timeout == (2.0, 4.0)
        client.heartbeat({"outbox_depth": 0})
        assert client.card(demo_holder("eva", today).card_number).status is CardStatus.ACTIVE


def test_a_generated_server_certificate_covers_the_listen_address(tmp_path: Path) -> None:
    pki = ensure_dev_pki(tmp_path / "tls", _cert_hosts("192.0.2.10"))
    cert = x509.load_pem_x509_certificate(pki.server_cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    addresses = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    assert {"127.0.0.1", "::1", "192.0.2.10"} <= addresses
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert pki.client_key.stat().st_mode & 0o077 == 0
