"""The kiosk follows no redirect of the portal: a body it sends stays on the portal's URL."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kiosk.errors import PortalError
from kiosk.portal_client import PortalClient
from tests.conftest import another_address, redirecting_tls_server


def test_a_redirect_never_takes_the_holders_receipt_elsewhere_in_clear(tmp_path: Path) -> None:
    """portal.url must be https (http only on loopback), but requests followed a 307 with
    the same POST body: a portal or a TLS proxy answering 307 to plain http on another
    host got the holder's signed receipt and certificate sent there in clear."""
    address = another_address()
    received: list[bytes] = []

    class Clear(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:
            pass

    plain = ThreadingHTTPServer((address, 0), Clear)
    target = f"http://{address}:{plain.server_address[1]}"
    with redirecting_tls_server(tmp_path, 307, target, plain) as (url, ca_file):
        client = PortalClient(url, ca_file=ca_file, retries=0)
        try:
            with pytest.raises(PortalError) as caught:
                client.complete_activation("act-1", b"RECEIPT OF EVA", b"sig", b"cert", "key-1")
        finally:
            client.close()
    assert received == []  # nothing went out in clear
    assert caught.value.data.get("status") == 307
