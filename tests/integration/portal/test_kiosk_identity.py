"""Which kiosk calls, over real mutual TLS: two kiosks at two card offices, every endpoint.

Kiosk A (the demo kiosk, demo-office) and kiosk B (office-b) hold certificates from the
same kiosk CA, each enrolled to its office; a third certificate from that CA is not
enrolled, a fourth was revoked. The portal must tell them apart from the certificate
alone: the body never names the caller.
"""

from __future__ import annotations

import base64
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from kiosk.demo_cast import DEMO_KIOSK_ID, DEMO_OFFICE, demo_admins, demo_holder
from portal import kiosks
from portal.devpki import DevPki, issue_client_cert
from portal.server import RunningPortal, main, start_in_thread
from tests.receipt_ca import admin_statement, receipt_trust

from .helpers import make_signer, receipt_for

pytestmark = pytest.mark.portal

OFFICE_B = "office-b"
ADMIN_B = "SE2321000016-BADM"
API = "/api/v1"


@dataclass
class Caller:
    """requests over mTLS with one kiosk certificate."""

    portal: RunningPortal
    cert: tuple[str, str]
    ca: str

    def call(self, method: str, path: str, body: Any = None,
             key: str | None = None) -> requests.Response:
        headers = {"Idempotency-Key": key or str(uuid.uuid4())} if method == "POST" else {}
        return requests.request(
            method, f"{self.portal.url}{API}{path}", json=body, headers=headers,
            cert=self.cert, verify=self.ca, timeout=10,
        )


@pytest.fixture
def world(tmp_path: Path, pki: DevPki) -> Iterator[dict[str, Any]]:
    running = start_in_thread(
        tmp_path / "portal.db", tls_dir=pki.directory, seed_demo=True,
        receipt_trust=receipt_trust(),
    )
    certs = tmp_path / "kiosk-certs"
    b_cert, b_key = issue_client_cert(pki, "kiosk-b", certs)
    rogue_cert, rogue_key = issue_client_cert(pki, "rogue", certs)
    old_cert, old_key = issue_client_cert(pki, "old-kiosk", certs)
    conn = sqlite3.connect(running.db_path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    kiosks.enrol(conn, b_cert.read_bytes(), OFFICE_B)
    kiosks.enrol(conn, old_cert.read_bytes(), DEMO_OFFICE)
    kiosks.revoke(conn, kiosk_id="old-kiosk")
    conn.execute(
        "INSERT INTO admins(hsa_id, name, card_office, training_valid_until) VALUES (?,?,?,?)",
        (ADMIN_B, "Berit B", OFFICE_B, (date.today() + timedelta(days=100)).isoformat()),
    )
    conn.close()
    ca = str(pki.ca_cert)
    yield {
        "portal": running,
        "a": Caller(running, (str(pki.client_cert), str(pki.client_key)), ca),
        "b": Caller(running, (str(b_cert), str(b_key)), ca),
        "rogue": Caller(running, (str(rogue_cert), str(rogue_key)), ca),
        "revoked": Caller(running, (str(old_cert), str(old_key)), ca),
    }
    running.stop()


def evidence() -> dict[str, Any]:
    return {
        "doc_type": "passport",
        "expiry": (date.today() + timedelta(days=900)).isoformat(),
        "photo_confirmed": True,
        "age_confirmed": True,
    }


ADMIN_A = demo_admins(date.today())[0].hsa_id


def every_endpoint(
    card: str, activation: str = "", serial: str = "01", admin: str = ADMIN_A
) -> list[tuple[str, str, Any]]:
    activation = activation or str(uuid.uuid4())
    return [
        ("GET", f"/cards/{card}", None),
        ("GET", f"/admins/{admin}", None),
        ("POST", f"/cards/{card}/activations", {"admin_hsa_id": ADMIN_A, "evidence": evidence()}),
        ("POST", f"/activations/{activation}/complete",
         {"receipt": "eA==", "signature": "eA==", "certificate": "eA=="}),
        ("POST", "/activations/complete-batch",
         {"items": [{"activation_id": activation, "idempotency_key": "k", "receipt": "eA==",
                     "signature": "eA==", "certificate": "eA=="}]}),
        ("POST", f"/cards/{card}/unlock", {"admin_hsa_id": ADMIN_A, "evidence": evidence()}),
        ("POST", f"/cards/{card}/block", {"admin_hsa_id": ADMIN_A, "reason": "lost"}),
        ("POST", "/heartbeat", {"outbox_depth": 0}),
        ("GET", "/audit-head", None),
        ("POST", f"/cards/{card}/certificate-requests",
         {"admin_hsa_id": ADMIN_A, "kind": "signature", "request": "eA=="}),
        ("GET", f"/cards/{card}/certificates", None),
        ("POST", f"/cards/{card}/certificates/{serial}/revoke",
         {"admin_hsa_id": ADMIN_A, "reason": "removed"}),
        ("POST", f"/cards/{card}/pin-letters", {"admin_hsa_id": ADMIN_A, "evidence": evidence()}),
    ]


def test_the_matrix_covers_every_operation_of_the_document() -> None:
    import yaml

    from .test_openapi import DOCUMENT

    spec = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    documented = {(method.upper(), path.removeprefix(API)) for path, item in spec["paths"].items()
                  for method in item}
    templates = every_endpoint("{card_number}", "{activation_id}", "{serial}", "{hsa_id}")
    assert {(method, path) for method, path, _ in templates} == documented - {("GET", "/health")}


@pytest.mark.parametrize("who", ["rogue", "revoked"])
def test_a_certificate_from_the_kiosk_ca_that_is_not_enrolled_gets_nothing(
    world: dict[str, Any], who: str
) -> None:
    caller: Caller = world[who]
    anna = demo_holder("anna", date.today()).card_number
    assert caller.call("GET", "/health").status_code == 200
    for method, path, body in every_endpoint(anna):
        answer = caller.call(method, path, body)
        assert answer.status_code == 403, (method, path, answer.text)
        assert answer.json()["reason"] == "kiosk_not_enrolled", (method, path)
        assert "personnummer" not in answer.text
    with sqlite3.connect(world["portal"].db_path) as conn:
        assert conn.execute("SELECT count(*) FROM activations").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM heartbeats").fetchone()[0] == 0
        assert conn.execute(
            "SELECT count(*) FROM cards WHERE status = 'Spärrad' AND blocked_reason = 'lost'"
        ).fetchone()[0] == 0


def test_reading_cards_and_administrators(world: dict[str, Any]) -> None:
    a, b = world["a"], world["b"]
    today = date.today()
    anna, cecilia = demo_holder("anna", today), demo_holder("cecilia", today)
    for caller in (a, b):
        record = caller.call("GET", f"/cards/{anna.card_number}").json()
        assert record["personnummer"] == anna.personnummer
        reserve = caller.call("GET", f"/cards/{cecilia.card_number}").json()
        assert reserve["personnummer"] == cecilia.personnummer[:8] + "-****"
    assert a.call("GET", f"/admins/{ADMIN_A}").json()["card_office"] == DEMO_OFFICE
    refused = b.call("GET", f"/admins/{ADMIN_A}")
    assert (refused.status_code, refused.json()["reason"]) == (403, "outside_remit")
    assert b.call("GET", f"/admins/{ADMIN_B}").json()["card_office"] == OFFICE_B
    assert a.call("GET", f"/admins/{ADMIN_B}").status_code == 403


def test_activation_and_completion_stay_within_the_office(world: dict[str, Any]) -> None:
    a, b = world["a"], world["b"]
    anna = demo_holder("anna", date.today())
    body = {"admin_hsa_id": ADMIN_A, "evidence": evidence(),
            "admin_statement": admin_statement("activation", anna.card_number, ADMIN_A)}
    refused = b.call("POST", f"/cards/{anna.card_number}/activations", body)
    assert (refused.status_code, refused.json()["reason"]) == (403, "outside_remit")
    assert "credential" not in refused.text
    started = a.call("POST", f"/cards/{anna.card_number}/activations", body)
    assert started.status_code == 201
    activation_id = started.json()["activation_id"]
    signer = make_signer("ec", anna.name, anna.hsa_id)
    receipt = receipt_for(anna.card_number, activation_id)
    completion = {
        "receipt": base64.b64encode(receipt).decode(),
        "signature": base64.b64encode(signer.sign(receipt)).decode(),
        "certificate": base64.b64encode(signer.der).decode(),
    }
    foreign = b.call("POST", f"/activations/{activation_id}/complete", completion)
    assert (foreign.status_code, foreign.json()["reason"]) == (403, "outside_remit")
    assert b.call("GET", f"/cards/{anna.card_number}").json()["status"] == "Skickad"
    done = a.call("POST", f"/activations/{activation_id}/complete", completion)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "Aktiv"
    with sqlite3.connect(world["portal"].db_path) as conn:
        row = conn.execute(
            "SELECT kiosk_id, card_office FROM activations WHERE id = ?", (activation_id,)
        ).fetchone()
    assert row == (DEMO_KIOSK_ID, DEMO_OFFICE)


def test_unlock_and_block_only_with_an_administrator_of_the_own_office(
    world: dict[str, Any],
) -> None:
    a, b = world["a"], world["b"]
    today = date.today()
    eva, david = demo_holder("eva", today), demo_holder("bertil", today)
    with_a = {"admin_hsa_id": ADMIN_A, "evidence": evidence(),
              "admin_statement": admin_statement("unlock", eva.card_number, ADMIN_A)}
    with_b = {"admin_hsa_id": ADMIN_B, "evidence": evidence(),
              "admin_statement": admin_statement("unlock", eva.card_number, ADMIN_B,
                                                 kiosk_id="kiosk-b", card_office=OFFICE_B)}
    assert b.call("POST", f"/cards/{eva.card_number}/unlock", with_a).status_code == 403
    assert a.call("POST", f"/cards/{eva.card_number}/unlock", with_b).status_code == 403
    assert a.call("POST", f"/cards/{eva.card_number}/unlock", with_a).status_code == 201
    assert b.call("POST", f"/cards/{eva.card_number}/unlock", with_b).status_code == 201
    block_a = {"admin_hsa_id": ADMIN_A, "reason": "lost"}
    refused = b.call("POST", f"/cards/{david.card_number}/block", block_a)
    assert (refused.status_code, refused.json()["reason"]) == (403, "outside_remit")
    assert a.call("GET", f"/cards/{david.card_number}").json()["status"] == "Skickad"
    blocked = b.call("POST", f"/cards/{david.card_number}/block",
                     {"admin_hsa_id": ADMIN_B, "reason": "lost",
                      "admin_statement": admin_statement(
                          "block", david.card_number, ADMIN_B, reason="lost",
                          kiosk_id="kiosk-b", card_office=OFFICE_B)})
    assert blocked.status_code == 200
    assert blocked.json()["personnummer"] == david.personnummer[:8] + "-****"
    after = a.call("GET", f"/cards/{david.card_number}").json()
    assert after["status"] == "Spärrad"
    assert after["personnummer"] == david.personnummer[:8] + "-****"


def test_certificates_and_pin_letters_only_with_an_administrator_of_the_own_office(
    world: dict[str, Any],
) -> None:
    a, b = world["a"], world["b"]
    eva = demo_holder("eva", date.today()).card_number
    for method, path, body in every_endpoint(eva)[-5:]:
        if body is None or "admin_hsa_id" not in body:
            continue
        refused = b.call(method, path, body)
        assert (refused.status_code, refused.json()["reason"]) == (403, "outside_remit"), path
    letter = a.call("POST", f"/cards/{eva}/pin-letters",
                    {"admin_hsa_id": ADMIN_A, "evidence": evidence()})
    assert letter.status_code in (200, 201), letter.text


def test_heartbeats_only_as_oneself(world: dict[str, Any]) -> None:
    a, b = world["a"], world["b"]
    as_other = a.call("POST", "/heartbeat", {"kiosk_id": "kiosk-b", "outbox_depth": 9})
    assert (as_other.status_code, as_other.json()["reason"]) == (403, "kiosk_mismatch")
    assert a.call("POST", "/heartbeat", {"outbox_depth": 1}).json()["kiosk_id"] == DEMO_KIOSK_ID
    assert b.call("POST", "/heartbeat", {"kiosk_id": "kiosk-b"}).json()["kiosk_id"] == "kiosk-b"
    with sqlite3.connect(world["portal"].db_path) as conn:
        rows = conn.execute("SELECT kiosk_id FROM heartbeats ORDER BY id").fetchall()
    assert rows == [(DEMO_KIOSK_ID,), ("kiosk-b",)]


def test_idempotency_keys_are_each_kiosks_own(world: dict[str, Any]) -> None:
    a, b = world["a"], world["b"]
    eva = demo_holder("eva", date.today())
    body = {"admin_hsa_id": ADMIN_A, "evidence": evidence(),
            "admin_statement": admin_statement("unlock", eva.card_number, ADMIN_A)}
    first = a.call("POST", f"/cards/{eva.card_number}/unlock", body, key="shared-key")
    assert first.status_code == 201 and first.json()["credential"]
    assert a.call("POST", f"/cards/{eva.card_number}/unlock", body,
                  key="shared-key").content == first.content
    replay = b.call("POST", f"/cards/{eva.card_number}/unlock", body, key="shared-key")
    assert replay.status_code == 403
    assert first.json()["credential"] not in replay.text
    assert first.json()["activation_id"] not in replay.text
    mine = a.call("POST", "/heartbeat", {"outbox_depth": 0}, key="beat")
    theirs = b.call("POST", "/heartbeat", {"outbox_depth": 0}, key="beat")
    assert mine.json()["kiosk_id"] == DEMO_KIOSK_ID
    assert theirs.json()["kiosk_id"] == "kiosk-b"


def test_the_kiosk_cli_enrols_lists_and_revokes(
    tmp_path: Path, pki: DevPki, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "cli.db")
    cert, _ = issue_client_cert(pki, "kiosk-cli", tmp_path)
    assert main(["kiosk", "enrol", "--db", db, "--cert", str(cert), "--office", "x"]) == 0
    assert "enrolled kiosk-cli (x)" in capsys.readouterr().out
    assert main(["kiosk", "list", "--db", db]) == 0
    assert "kiosk-cli\tx\tsha256:" in capsys.readouterr().out
    assert main(["kiosk", "enrol", "--db", db, "--cert", str(cert), "--office", "y"]) == 1
    assert "belongs to card office x" in capsys.readouterr().err
    assert main(["kiosk", "revoke", "--db", db, "--kiosk-id", "kiosk-cli"]) == 0
    assert main(["kiosk", "list", "--db", db]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["kiosk", "enrol", "--db", db, "--cert", str(cert), "--office", "x"]) == 1
    assert "was revoked" in capsys.readouterr().err
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"\x00" * 10)
    assert main(["kiosk", "enrol", "--db", db, "--cert", str(garbage), "--office", "x"]) == 1
    assert "not a certificate" in capsys.readouterr().err
