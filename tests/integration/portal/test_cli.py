"""`kiosk-portal`, `kioskctl portal serve` and `kioskctl portal ping` as separate processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import requests

from kiosk.demo_cast import demo_admins, demo_holder
from kiosk.document.evidence import evidence_summary
from kiosk.errors import PortalError
from kiosk.model import CardStatus
from kiosk.portal_client import PortalClient, canonical_json
from portal.devpki import DevPki
from tests.receipt_ca import admin_statement, receipt_trust

from .helpers import evidence

pytestmark = pytest.mark.portal
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(client: PortalClient, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            client.health()
            return
        except PortalError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture
def tls_process(tmp_path: Path) -> Iterator[tuple[int, DevPki]]:
    port = free_port()
    tls = tmp_path / "tls"
    process = subprocess.Popen(
        [str(BIN / "kiosk-portal"), "--port", str(port), "--db", str(tmp_path / "p.db"),
         "--seed-demo", "--tls-dir", str(tls), "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    pki = DevPki(tls)
    deadline = time.monotonic() + 30
    while not pki.complete() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    try:
        yield port, pki
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_kiosk_portal_serves_tls_with_a_generated_dev_pki(
    tls_process: tuple[int, DevPki], today: date
) -> None:
    port, pki = tls_process
    assert oct(pki.server_key.stat().st_mode & 0o777) == "0o600"
    client = PortalClient(
        f"https://127.0.0.1:{port}", ca_file=str(pki.ca_cert),
        client_cert=str(pki.client_cert), client_key=str(pki.client_key),
        retries=0, connect_timeout_s=1, read_timeout_s=3,
    )
    with client:
        deadline = time.monotonic() + 30
        while True:
            try:
                record = client.card(demo_holder("anna", today).card_number)
                break
            except PortalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    assert record.status is CardStatus.SENT


def test_serve_refuses_plain_http_off_loopback(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN / "kioskctl"), "portal", "serve", "--host", "0.0.0.0",  # noqa: S104
         "--db", str(tmp_path / "p.db")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "loopback" in result.stderr
    assert not (tmp_path / "p.db").exists()


def test_ping_reports_a_reachable_and_an_unreachable_portal(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "kioskctl"), "portal", "serve", "--port", str(port),
         "--db", str(tmp_path / "p.db"), "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    config = tmp_path / "kiosk.toml"
    env = {**os.environ, "KIOSK_STATE_DIR": str(tmp_path / "state"),
           "KIOSK_CONFIG_DIR": str(tmp_path / "etc")}
    try:
        with PortalClient(f"http://127.0.0.1:{port}", retries=0) as client:
            wait_until_up(client, server)
        config.write_text(f'[portal]\nurl = "http://127.0.0.1:{port}"\nretries = 0\n')
        up = subprocess.run(
            [str(BIN / "kioskctl"), "--config", str(config), "portal", "ping", "--json"],
            capture_output=True, text=True, timeout=60, env=env,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert up.returncode == 0, up.stderr
    assert json.loads(up.stdout)["ok"] is True
    down = subprocess.run(
        [str(BIN / "kioskctl"), "--config", str(config), "portal", "ping", "--lang", "en"],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert down.returncode == 1
    assert "could not be reached" in down.stdout


def start_portal(port: int, db_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(BIN / "kiosk-portal"), "--port", str(port), "--db", str(db_path), "--seed-demo",
         "--log-level", "warning",
         *(arg for path in receipt_trust() for arg in ("--receipt-trust", str(path)))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def test_answers_survive_the_portal_being_killed(tmp_path: Path, today: date) -> None:
    """The stored answer is committed with the change: after SIGKILL and a restart the same
    idempotency key still returns the same bytes and starts nothing new."""
    port, db_path = free_port(), tmp_path / "portal.db"
    anna = demo_holder("anna", today)
    url = f"http://127.0.0.1:{port}/api/v1/cards/{anna.card_number}/activations"
    admin = demo_admins(today)[0].hsa_id
    body = canonical_json({
        "admin_hsa_id": admin,
        "evidence": evidence_summary(evidence(), suffixes=True),
        "admin_statement": admin_statement("activation", anna.card_number, admin),
    })
    headers = {"Idempotency-Key": "survives-sigkill", "Content-Type": "application/json"}
    first_process = start_portal(port, db_path)
    try:
        with PortalClient(f"http://127.0.0.1:{port}", retries=0) as client:
            wait_until_up(client, first_process)
        first = requests.post(url, data=body, headers=headers, timeout=10)
    finally:
        first_process.send_signal(signal.SIGKILL)
        first_process.wait(timeout=10)
    second_process = start_portal(port, db_path)
    try:
        with PortalClient(f"http://127.0.0.1:{port}", retries=0) as client:
            wait_until_up(client, second_process)
            again = requests.post(url, data=body, headers=headers, timeout=10)
            record = client.card(anna.card_number)
    finally:
        second_process.terminate()
        second_process.wait(timeout=10)
    assert first.status_code == again.status_code == 201
    assert first.content == again.content
    assert record.activation_started is not None
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM activations").fetchone()[0] == 1
