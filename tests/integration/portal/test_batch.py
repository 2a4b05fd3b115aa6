"""A batch of completions (POST /activations/complete-batch) over real mutual TLS and SQLite:
each item answered as its single call would be, under its own idempotency key, one bad item
never touching the others, and a hostile batch refused whole with a typed reason, never a 500.
"""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from hardware.sim.democa import DemoCA, trust_files
from kiosk.demo_cast import demo_admins, demo_holder
from kiosk.portal_client import PortalClient, canonical_json
from portal import kiosks
from portal.app import MAX_BODY_BYTES
from portal.devpki import DevPki, issue_client_cert
from portal.schemas import MAX_BATCH_ITEMS
from portal.server import start_in_thread
from tests.integration.outbox.portalkit import BENCH_HSA_ID, BENCH_PERSONNUMMER, add_cards
from tests.receipt_ca import admin_cards, receipt_trust

from .helpers import Signer, count, evidence, make_signer, receipt_for

pytestmark = pytest.mark.portal

BATCH = "/api/v1/activations/complete-batch"
OFFICE_B = "office-b"


@dataclass
class Kiosk:
    """One enrolled kiosk: a PortalClient and a raw mTLS session with its certificate."""

    client: PortalClient
    session: requests.Session
    url: str

    def post(self, path: str, body: Any, key: str | None = None) -> requests.Response:
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Idempotency-Key"] = key
        data = body if isinstance(body, bytes) else canonical_json(body)
        return self.session.post(f"{self.url}{path}", data=data, headers=headers, timeout=30,
                                 verify=self.session.verify)  # REQUESTS_CA_BUNDLE overrides




@pytest.fixture
def world(tmp_path: Path, pki: DevPki) -> Iterator[dict[str, Any]]:
    trust_dir = tmp_path / "trust"  # its own copy: a test may make its CRLs stale
    shutil.copytree(receipt_trust()[0].parent, trust_dir)
    running = start_in_thread(tmp_path / "portal.db", tls_dir=pki.directory, seed_demo=True,
                              receipt_trust=trust_files(trust_dir))
    b_cert, b_key = issue_client_cert(pki, "kiosk-b", tmp_path / "kiosk-certs")
    conn = sqlite3.connect(running.db_path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    kiosks.enrol(conn, b_cert.read_bytes(), OFFICE_B)
    conn.close()
    made = {}
    for name, cert in (("a", (str(pki.client_cert), str(pki.client_key))),
                       ("b", (str(b_cert), str(b_key)))):
        client = PortalClient(running.url, ca_file=str(pki.ca_cert), client_cert=cert[0],
                              client_key=cert[1], retries=0, signer=admin_cards())
        session = requests.Session()
        session.cert, session.verify = cert, str(pki.ca_cert)
        made[name] = Kiosk(client, session, running.url)
    yield {"portal": running, "trust": trust_dir, **made}
    for kiosk in made.values():
        kiosk.client.close()
        kiosk.session.close()
    running.stop()


def started(kiosk: Kiosk, card_number: str, personnummer: str) -> str:
    """An activation the kiosk started (its office's administrator, a passing ID check)."""
    admin = demo_admins(date.today())[0].hsa_id
    ticket = kiosk.client.start_activation(
        card_number, admin, evidence(personnummer=personnummer), str(uuid.uuid4())
    )
    return ticket.activation_id


def item(activation_id: str, card_number: str, signer: Signer, key: str | None = None
         ) -> dict[str, str]:
    receipt = receipt_for(card_number, activation_id)
    return {
        "activation_id": activation_id,
        "idempotency_key": key or str(uuid.uuid4()),
        "receipt": base64.b64encode(receipt).decode(),
        "signature": base64.b64encode(signer.sign(receipt)).decode(),
        "certificate": base64.b64encode(signer.der).decode(),
    }


def single(item: dict[str, str]) -> tuple[str, dict[str, str], str]:
    """The same completion as its single call: path, body, key."""
    body = {k: item[k] for k in ("receipt", "signature", "certificate")}
    return f"/api/v1/activations/{item['activation_id']}/complete", body, item["idempotency_key"]


def backlog(kiosk: Kiosk, db_path: Path, n: int, today: date
            ) -> tuple[list[str], Signer, list[dict[str, str]]]:
    """``n`` cards of one holder, their activations started by ``kiosk``, and an item each."""
    cards = add_cards(db_path, n, today)
    signer = make_signer("ec", "Test Holder", BENCH_HSA_ID)
    return cards, signer, [item(started(kiosk, c, BENCH_PERSONNUMMER), c, signer) for c in cards]


def status_of(db_path: Path, card_number: str) -> str:
    with sqlite3.connect(db_path) as conn:
        row = conn.execute("SELECT status FROM cards WHERE card_number = ?", (card_number,))
        return str(row.fetchone()[0])


def test_each_item_is_answered_on_its_own_and_a_bad_one_touches_no_other(
    world: dict[str, Any], today: date
) -> None:
    a, portal = world["a"], world["portal"]
    anna = demo_holder("anna", today)
    cards = add_cards(portal.db_path, 5, today)
    bench = make_signer("ec", "Test Holder", BENCH_HSA_ID)
    good = [item(started(a, n, BENCH_PERSONNUMMER), n, bench) for n in cards[:3]]
    anna_item = item(started(a, anna.card_number, anna.personnummer), anna.card_number,
                     make_signer("ed25519", anna.name, anna.hsa_id))  # another holder
    wrong_holder = item(started(a, cards[3], BENCH_PERSONNUMMER), cards[3],
                        make_signer("ec", "Someone Else", "SE2321000016-ELSE"))
    unknown = item(str(uuid.uuid4()), cards[0], bench)
    not_base64 = {**item(started(a, cards[4], BENCH_PERSONNUMMER), cards[4], bench),
                  "signature": "!!!"}
    items = [good[0], wrong_holder, good[1], unknown, anna_item, not_base64, good[2]]
    answer = a.post(BATCH, {"items": items})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["idempotency_key"] for r in results] == [i["idempotency_key"] for i in items]
    got = [(r["status"], r["body"].get("reason") or r["body"]["status"]) for r in results]
    assert got == [
        (200, "Aktiv"), (422, "certificate_mismatch"), (200, "Aktiv"),
        (404, "activation_not_found"), (200, "Aktiv"), (400, "invalid_request"), (200, "Aktiv"),
    ]
    assert not any(r["replayed"] for r in results)
    for number in [*cards[:3], anna.card_number]:
        assert status_of(portal.db_path, number) == "Aktiv"
    assert status_of(portal.db_path, cards[3]) == status_of(portal.db_path, cards[4]) == "Skickad"
    assert count(portal.db_path, "SELECT count(*) FROM events WHERE action = 'activated'") == 4
    # Every answer is stored under its item's key, as a single call's would be.
    stored = {r[0] for r in sqlite3.connect(portal.db_path).execute("SELECT key FROM idempotency")}
    assert {i["idempotency_key"] for i in items} <= stored
    # The wrongly signed one is sent again, correctly, under a new key: it completes.
    fixed = item(wrong_holder["activation_id"], cards[3], bench)
    again = a.post(BATCH, {"items": [fixed]}).json()["results"][0]
    assert (again["status"], again["body"]["status"]) == (200, "Aktiv")


def test_a_key_answers_the_same_whichever_route_carried_it_first(
    world: dict[str, Any], today: date
) -> None:
    a, portal = world["a"], world["portal"]
    cards, bench, items = backlog(a, portal.db_path, 3, today)
    alone = a.post(*single(items[0]))  # sent alone first (its answer lost on the way)
    assert alone.status_code == 200
    first = a.post(BATCH, {"items": items}).json()["results"]
    assert [(r["status"], r["replayed"]) for r in first] == [(200, True), (200, False),
                                                             (200, False)]
    assert first[0]["body"] == alone.json()
    repeated = a.post(BATCH, {"items": items}).json()["results"]
    assert [r["replayed"] for r in repeated] == [True, True, True]
    assert [r["body"] for r in repeated] == [r["body"] for r in first]
    later_alone = a.post(*single(items[2]))  # batch first, then alone: the stored bytes
    assert later_alone.status_code == 200 and later_alone.json() == first[2]["body"]
    assert count(portal.db_path, "SELECT count(*) FROM events WHERE action = 'activated'") == 3
    # A key reused for another completion is refused for that item alone.
    other = {**item(items[1]["activation_id"], cards[1], bench),
             "idempotency_key": items[0]["idempotency_key"]}
    conflict = a.post(BATCH, {"items": [other]}).json()["results"][0]
    assert (conflict["status"], conflict["body"]["reason"]) == (409, "idempotency_conflict")


def test_another_offices_activation_is_refused_per_item(
    world: dict[str, Any], today: date
) -> None:
    a, b, portal = world["a"], world["b"], world["portal"]
    cards, _bench, items = backlog(a, portal.db_path, 2, today)
    foreign = b.post(BATCH, {"items": items}).json()["results"]
    assert [(r["status"], r["body"]["reason"]) for r in foreign] == [(403, "outside_remit")] * 2
    assert "personnummer" not in json.dumps(foreign)
    assert [status_of(portal.db_path, n) for n in cards] == ["Skickad", "Skickad"]
    # Kiosk B's refusals are B's: kiosk A's same keys start afresh.
    mine = a.post(BATCH, {"items": items}).json()["results"]
    assert [(r["status"], r["replayed"]) for r in mine] == [(200, False), (200, False)]


def test_a_transient_item_failure_is_not_stored_and_may_be_sent_again(
    world: dict[str, Any], today: date
) -> None:
    a, portal = world["a"], world["portal"]
    _cards, _bench, items = backlog(a, portal.db_path, 2, today)
    ca = DemoCA.load_or_create(world["trust"], today)
    ca.write_crls(world["trust"], today - timedelta(days=60))  # stale CRLs
    unknown = a.post(BATCH, {"items": items}).json()["results"]
    assert [(r["status"], r["body"]["reason"]) for r in unknown] == [
        (503, "revocation_unknown")] * 2
    assert count(portal.db_path, "SELECT count(*) FROM idempotency") == 2  # the two starts
    ca.write_crls(world["trust"], today)
    retried = a.post(BATCH, {"items": items}).json()["results"]
    assert [(r["status"], r["replayed"]) for r in retried] == [(200, False), (200, False)]


def hostile_batches(good: dict[str, str]) -> list[tuple[str, Any, int, str]]:
    oversize = {"items": [{**good, "receipt": "A" * (MAX_BODY_BYTES + 4)}]}
    return [
        ("too many items", {"items": [{**good, "idempotency_key": f"k{i}"}
                                      for i in range(MAX_BATCH_ITEMS + 1)]},
         400, "too_many_items"),
        ("one key twice", {"items": [good, {**good, "activation_id": "other"}]},
         422, "duplicate_idempotency_key"),
        ("a malformed item among good ones",
         {"items": [good, {k: v for k, v in good.items() if k != "signature"}
                    | {"idempotency_key": "k2"}]}, 400, "invalid_request"),
        ("an empty field", {"items": [{**good, "certificate": ""}]}, 400, "invalid_request"),
        ("an extra field", {"items": [{**good, "kiosk_id": "kiosk-b"}]}, 400, "invalid_request"),
        ("no items", {"items": []}, 400, "invalid_request"),
        ("items not a list", {"items": good}, 400, "invalid_request"),
        ("an item not an object", {"items": [good, "x"]}, 400, "invalid_request"),
        ("a number for a key", {"items": [{**good, "idempotency_key": 7}]}, 400,
         "invalid_request"),
        ("not JSON", b"{\"items\": [", 400, "invalid_request"),
        ("over the body limit", oversize, 413, "body_too_large"),
    ]


def test_a_hostile_batch_is_refused_whole_with_a_typed_reason(
    world: dict[str, Any], today: date
) -> None:
    a, portal = world["a"], world["portal"]
    (number,) = add_cards(portal.db_path, 1, today)
    good = item(started(a, number, BENCH_PERSONNUMMER), number,
                make_signer("ec", "Test Holder", BENCH_HSA_ID))
    for name, body, status, reason in hostile_batches(good):
        answer = a.post(BATCH, body)
        assert (answer.status_code, answer.json()["reason"]) == (status, reason), name
        assert status_of(portal.db_path, number) == "Skickad", name
    assert "items.1.signature" in a.post(BATCH, hostile_batches(good)[2][1]).json()["detail"]
    assert count(portal.db_path, "SELECT count(*) FROM idempotency") == 1  # the start only
    assert a.post(BATCH, {"items": [good]}).json()["results"][0]["status"] == 200


def test_the_batch_needs_an_enrolled_kiosk(
    world: dict[str, Any], pki: DevPki, tmp_path: Path, today: date
) -> None:
    portal = world["portal"]
    (number,) = add_cards(portal.db_path, 1, today)
    good = item(started(world["a"], number, BENCH_PERSONNUMMER), number,
                make_signer("ec", "Test Holder", BENCH_HSA_ID))
    rogue = issue_client_cert(pki, "rogue", tmp_path / "rogue")
    answer = requests.post(f"{portal.url}{BATCH}", json={"items": [good]}, cert=tuple(map(
        str, rogue)), verify=str(pki.ca_cert), timeout=10)
    assert (answer.status_code, answer.json()["reason"]) == (403, "kiosk_not_enrolled")
    assert status_of(portal.db_path, number) == "Skickad"
