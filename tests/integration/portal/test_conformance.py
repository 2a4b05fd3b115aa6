"""The portal conforms to portal/openapi.yaml: schemathesis over mutual TLS, and the
defects it found (empty strings, an undocumented reason, 405 without Allow, NaN and
infinity in a heartbeat), and request bodies past the portal's limit."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from portal.app import MAX_BODY_BYTES
from portal.devpki import DevPki
from portal.server import RunningPortal, start_in_thread
from tests.receipt_ca import receipt_trust

pytestmark = pytest.mark.portal

HERE = Path(__file__).parent
DOCUMENT = HERE.parents[2] / "portal" / "openapi.yaml"
EXAMPLES = 25  # per operation and phase: bounded, about ten seconds on a quiet machine


@pytest.fixture
def mtls_portal(tmp_path: Path, pki: DevPki) -> Iterator[RunningPortal]:
    running = start_in_thread(tmp_path / "portal.db", tls_dir=pki.directory, seed_demo=True,
                              receipt_trust=receipt_trust())
    yield running
    running.stop()


def test_schemathesis_finds_no_failure_over_mutual_tls(
    mtls_portal: RunningPortal, pki: DevPki, tmp_path: Path
) -> None:
    st = Path(sys.executable).with_name("st")
    command = [
        str(st) if st.exists() else shutil.which("st") or "st",
        "--config-file", str(HERE / "schemathesis.toml"), "--no-color",
        "run", str(DOCUMENT), "--url", mtls_portal.url,
        "--checks", "all", "--max-examples", str(EXAMPLES), "--seed", "20261205",
        "--request-cert", str(pki.client_cert), "--request-cert-key", str(pki.client_key),
        "--tls-verify", str(pki.ca_cert), "--generation-database", "none",
        "--report-dir", str(tmp_path / "reports"),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False,
                         cwd=tmp_path)
    summary = run.stdout[-3000:]
    assert run.returncode == 0, summary
    generated = re.search(r"(\d+) generated, (\d+) passed", summary)
    assert generated is not None, summary
    assert int(generated.group(1)) >= 200 and generated.group(1) == generated.group(2), summary
    spec = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    operations = sum(len(item) for item in spec["paths"].values())
    assert f"Tested: {operations}" in summary, summary  # every operation of the document


def call(portal: RunningPortal, method: str, path: str, **options: object) -> requests.Response:
    return requests.request(method, f"{portal.url}/api/v1{path}", timeout=30,
                            **options)  # type: ignore[arg-type]


def test_an_empty_string_is_refused_as_the_document_says(portal: RunningPortal) -> None:
    answer = call(portal, "POST", "/activations/x/complete",
                  json={"receipt": "", "signature": "", "certificate": ""},
                  headers={"Idempotency-Key": "k"})
    assert (answer.status_code, answer.json()["reason"]) == (400, "invalid_request")
    text = DOCUMENT.read_text(encoding="utf-8")
    block = text[text.index("    CompleteActivationRequest:"):]
    block = block[:block.index("    BlockRequest:")]
    assert block.count("minLength: 1") == 3


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("application/json", b"{not json"),
        ("application/x-www-form-urlencoded", b"a=1&b=2"),
        ("text/plain", b"hello"),
        ("application/json", b"[1, 2, 3]"),
    ],
)
def test_a_bad_body_gets_a_documented_reason(
    portal: RunningPortal, content_type: str, data: bytes
) -> None:
    answer = call(portal, "POST", "/heartbeat", data=data,
                  headers={"Idempotency-Key": "k", "Content-Type": content_type})
    assert answer.status_code == 400, answer.text
    assert answer.json()["reason"] == "invalid_request"


def test_a_method_not_allowed_names_the_allowed_ones(portal: RunningPortal) -> None:
    for method, path, allowed in (("DELETE", "/heartbeat", "POST"),
                                  ("TRACE", "/health", "GET"),
                                  ("PUT", "/cards/9752210000000001", "GET")):
        answer = call(portal, method, path)
        assert answer.status_code == 405
        assert answer.json()["reason"] == "method_not_allowed"
        assert allowed in answer.headers.get("Allow", ""), (method, path)


@pytest.mark.parametrize(
    "body",
    [
        b'{"outbox_depth": 0, "hardware": {"temp": NaN}}',
        b'{"outbox_depth": 0, "hardware": {"temp": 1e999}}',
        b'{"outbox_depth": 0, "extra": [-Infinity]}',
        b'{"outbox_depth": 1e999}',
    ],
)
def test_nan_and_infinity_are_not_numbers_a_heartbeat_may_carry(
    portal: RunningPortal, body: bytes
) -> None:
    answer = call(portal, "POST", "/heartbeat", data=body,
                  headers={"Idempotency-Key": "k", "Content-Type": "application/json"})
    assert (answer.status_code, answer.json()["reason"]) == (400, "invalid_request")
    with sqlite3.connect(portal.db_path) as conn:
        assert conn.execute("SELECT count(*) FROM heartbeats").fetchone()[0] == 0


def test_a_body_over_the_limit_is_refused_before_it_is_stored(portal: RunningPortal) -> None:
    padding = "x" * (MAX_BODY_BYTES + 1)
    declared = call(portal, "POST", "/heartbeat", json={"outbox_depth": 0, "pad": padding},
                    headers={"Idempotency-Key": "big"})
    assert (declared.status_code, declared.json()["reason"]) == (413, "body_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"outbox_depth": 0, "pad": "'
        for _ in range(64):
            yield b"x" * (64 * 1024)
        yield b'"}'

    streamed = call(portal, "POST", "/heartbeat", data=chunks(),
                    headers={"Idempotency-Key": "big2", "Content-Type": "application/json"})
    assert (streamed.status_code, streamed.json()["reason"]) == (413, "body_too_large")
    fits = call(portal, "POST", "/heartbeat", json={"outbox_depth": 0, "pad": "x" * 1000},
                headers={"Idempotency-Key": "small"})
    assert fits.status_code == 200
    with sqlite3.connect(portal.db_path) as conn:
        assert conn.execute("SELECT count(*) FROM heartbeats").fetchone()[0] == 1



class SlowBody:
    """A body sent in pieces with pauses, as a kiosk on a slow link sends it: the portal has
    answered and closed long before the last piece unless it reads the body first."""

    def __init__(self, size: int, pieces: int = 8) -> None:
        self.piece = b"x" * (size // pieces)
        self.pieces = pieces

    def __len__(self) -> int:
        return len(self.piece) * self.pieces

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.pieces):
            time.sleep(0.05)
            yield self.piece


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_slow_client_over_the_limit_reads_the_413_not_a_broken_connection(
    tls_portal: RunningPortal, pki: DevPki, declared: bool
) -> None:
    body = SlowBody(MAX_BODY_BYTES * 3)
    answer = requests.post(
        f"{tls_portal.url}/api/v1/heartbeat", data=body if declared else iter(body),
        headers={"Idempotency-Key": "slow", "Content-Type": "application/json"},
        cert=(str(pki.client_cert), str(pki.client_key)), verify=str(pki.ca_cert), timeout=30,
    )
    assert (answer.status_code, answer.json()["reason"]) == (413, "body_too_large")
    with sqlite3.connect(tls_portal.db_path) as conn:
        assert conn.execute("SELECT count(*) FROM heartbeats").fetchone()[0] == 0
