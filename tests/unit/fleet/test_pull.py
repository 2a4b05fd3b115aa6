"""Pulling bundles from a real HTTP(S) server on loopback, with conditional requests."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kiosk.errors import BundleRefused, ConfigError
from kiosk.fleet import store
from kiosk.fleet.pull import pull_bundle
from kiosk.settings import FleetSettings
from portal.devpki import generate_dev_pki
from tests.conftest import another_address, feed_fifo, redirecting_tls_server, within

from .conftest import Fleet


@dataclass
class Feed:
    """What the bundle server serves and what it was asked."""

    body: bytes = b""
    etag: str = '"v0"'
    status: int = 200
    requests: list[dict[str, str]] = field(default_factory=list)


def make_handler(feed: Feed) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            feed.requests.append(dict(self.headers))
            if feed.status != 200:
                self.send_error(feed.status)
                return
            if self.headers.get("If-None-Match") == feed.etag:
                self.send_response(304)
                self.send_header("ETag", feed.etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("ETag", feed.etag)
            self.send_header("Last-Modified", formatdate(usegmt=True))
            self.send_header("Content-Length", str(len(feed.body)))
            self.end_headers()
            self.wfile.write(feed.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def http_feed() -> Iterator[tuple[Feed, str]]:
    feed = Feed()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(feed))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield feed, f"http://127.0.0.1:{server.server_address[1]}/kiosk-7.bundle"
    server.shutdown()
    server.server_close()


def test_pull_applies_then_uses_conditional_requests(fleet: Fleet,
                                                     http_feed: tuple[Feed, str]) -> None:
    feed, url = http_feed
    settings = FleetSettings()
    feed.body, feed.etag = fleet.bundle(1), '"v1"'
    first = pull_bundle(url, fleet.paths, settings)
    assert first.action == "applied" and first.applied and first.applied.version == 1
    assert fleet.applied_bytes() == feed.body
    assert "If-None-Match" not in feed.requests[0]

    second = pull_bundle(url, fleet.paths, settings)
    assert (second.action, second.http_status) == ("not_modified", 304)
    assert feed.requests[1]["If-None-Match"] == '"v1"'
    assert "If-Modified-Since" in feed.requests[1]

    feed.body, feed.etag = fleet.bundle(2, '[ui]\nrotation = 90\n'), '"v2"'
    third = pull_bundle(url, fleet.paths, settings)
    assert third.action == "applied" and third.applied and third.applied.version == 2


def test_pull_of_the_same_version_under_a_new_etag_is_up_to_date(
    fleet: Fleet, http_feed: tuple[Feed, str]
) -> None:
    feed, url = http_feed
    feed.body, feed.etag = fleet.bundle(1), '"a"'
    pull_bundle(url, fleet.paths, FleetSettings())
    feed.etag = '"b"'
    assert pull_bundle(url, fleet.paths, FleetSettings()).action == "up_to_date"
    assert store.read_pull_cache(fleet.paths)[f"etag {url}"] == '"b"'


def test_pull_refuses_a_frozen_feed_and_an_older_bundle(fleet: Fleet,
                                                        http_feed: tuple[Feed, str]) -> None:
    feed, url = http_feed
    feed.body = fleet.bundle(3)
    pull_bundle(url, fleet.paths, FleetSettings())
    applied = fleet.applied_bytes()

    feed.body, feed.etag = fleet.bundle(2), '"rolled-back-feed"'
    with pytest.raises(BundleRefused) as caught:
        pull_bundle(url, fleet.paths, FleetSettings())
    assert caught.value.reason == "old_version"

    frozen = fleet.bundle(4, issued_at=datetime.now(UTC) - timedelta(days=60))
    feed.body, feed.etag = frozen, '"frozen"'
    with pytest.raises(BundleRefused) as caught:
        pull_bundle(url, fleet.paths, FleetSettings(max_bundle_age_days=45))
    assert caught.value.reason == "stale"
    assert fleet.applied_bytes() == applied


def test_pull_from_a_down_or_failing_server_is_refused(fleet: Fleet,
                                                      http_feed: tuple[Feed, str]) -> None:
    feed, url = http_feed
    feed.status = 503
    with pytest.raises(BundleRefused) as caught:
        pull_bundle(url, fleet.paths, FleetSettings())
    assert caught.value.reason == "unreachable"
    with pytest.raises(BundleRefused) as caught:
        pull_bundle("http://127.0.0.1:9/none", fleet.paths, FleetSettings(pull_timeout_s=2))
    assert caught.value.reason == "unreachable"
    assert fleet.applied_bytes() is None


def test_pull_over_https_checks_the_server_certificate(fleet: Fleet, tmp_path: Path) -> None:
    pki = generate_dev_pki(tmp_path / "tls", hosts=("127.0.0.1",))  # the one dev TLS PKI
    cert, key = pki.server_cert, pki.server_key
    feed = Feed(body=fleet.bundle(1), etag='"tls"')
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(feed))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"https://127.0.0.1:{server.server_address[1]}/kiosk-7.bundle"
    try:
        with pytest.raises(BundleRefused) as caught:
            pull_bundle(url, fleet.paths, FleetSettings(pull_timeout_s=5))
        assert caught.value.reason == "unreachable"  # not signed by a CA the kiosk trusts
        result = pull_bundle(url, fleet.paths, FleetSettings(pull_ca_file=str(pki.ca_cert)))
        assert result.action == "applied"
        assert pull_bundle(url, fleet.paths,
                           FleetSettings(pull_ca_file=str(pki.ca_cert))).action == "not_modified"
    finally:
        server.shutdown()
        server.server_close()


def _flood_server(declare_length: bool) -> tuple[ThreadingHTTPServer, list[int]]:
    """A server answering with 800 MB of zeros (declared or chunked); it counts what it sent."""
    sent = [0]

    class Flood(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            if declare_length:
                self.send_header("Content-Length", str(800 * 1024 * 1024))
            else:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            block = b"0" * (1024 * 1024)
            try:
                for _ in range(800):
                    if declare_length:
                        self.wfile.write(block)
                    else:
                        self.wfile.write(b"%x\r\n" % len(block) + block + b"\r\n")
                    sent[0] += len(block)
            except OSError:
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Flood), sent


@pytest.mark.parametrize("declare_length", [True, False])
def test_pull_stops_reading_an_oversized_answer_at_the_cap(
    fleet: Fleet, declare_length: bool
) -> None:
    """The old pull read all 800 MB into memory before its 1 MiB check."""
    server, sent = _flood_server(declare_length)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/flood.bundle"
        with pytest.raises(BundleRefused) as caught:
            pull_bundle(url, fleet.paths, FleetSettings(pull_timeout_s=20))
        assert caught.value.reason == "malformed_bundle"
        assert "larger than" in caught.value.detail
    finally:
        server.shutdown()
        server.server_close()
    assert sent[0] < 64 * 1024 * 1024  # what socket buffers held, not the 800 MB
    assert fleet.applied_bytes() is None


def test_pull_follows_no_redirect_to_a_url_it_would_refuse(fleet: Fleet, tmp_path: Path) -> None:
    """pull_url must be https (http only on loopback), but the HTTPS server's redirect was
    followed anywhere: here to plain http on another address, where anyone on the path
    reads and answers it (and the pinned pull_ca_file no longer applies)."""
    address = another_address()
    clear = Feed(body=fleet.bundle(1), etag='"clear"')
    plain = ThreadingHTTPServer((address, 0), make_handler(clear))
    target = f"http://{address}:{plain.server_address[1]}"
    with redirecting_tls_server(tmp_path, 302, target, plain) as (url, ca_file):
        with pytest.raises(BundleRefused) as caught:
            pull_bundle(f"{url}/kiosk-7.bundle", fleet.paths, FleetSettings(pull_ca_file=ca_file))
    assert caught.value.reason == "unreachable" and "302" in caught.value.detail
    assert clear.requests == []  # nothing went out in clear
    assert fleet.applied_bytes() is None


def test_a_pull_ca_file_that_is_a_fifo_is_refused_not_waited_on(
    fleet: Fleet, tmp_path: Path
) -> None:
    """The TLS library opens fleet.pull_ca_file at the connection: a FIFO there hung the
    pull (the systemd timer's kioskctl config pull) for good."""
    import os

    fifo = tmp_path / "pull-ca.pem"
    os.mkfifo(fifo)
    plain = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(Feed()))
    with redirecting_tls_server(tmp_path, 302, "http://127.0.0.1:9", plain) as (url, _ca):
        with pytest.raises(ConfigError) as caught:
            within(30, lambda: pull_bundle(f"{url}/kiosk-7.bundle", fleet.paths,
                                           FleetSettings(pull_ca_file=str(fifo))),
                   unblock=lambda: feed_fifo(fifo))
    assert caught.value.data["path"] == "fleet.pull_ca_file"
    assert fleet.applied_bytes() is None
