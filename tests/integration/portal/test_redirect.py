"""The kiosk follows no redirect of the portal: a body it sends stays on the portal's URL."""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kiosk.errors import PortalError
from kiosk.portal_client import PortalClient
from portal.devpki import generate_dev_pki
from tests.conftest import another_address


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

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(307)
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    pki = generate_dev_pki(tmp_path / "tls", hosts=("127.0.0.1",))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (server, plain)]
    for thread in threads:
        thread.start()
    client = PortalClient(f"https://127.0.0.1:{server.server_address[1]}",
                          ca_file=str(pki.ca_cert), retries=0)
    try:
        with pytest.raises(PortalError) as caught:
            client.complete_activation("act-1", b"RECEIPT OF EVA", b"sig", b"cert", "key-1")
    finally:
        client.close()
        for running in (server, plain):
            running.shutdown()
            running.server_close()
    assert received == []  # nothing went out in clear
    assert caught.value.data.get("status") == 307
