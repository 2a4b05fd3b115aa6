"""A repeated idempotency key returns the first answer byte for byte and changes nothing."""

from __future__ import annotations

import base64
import functools
import json
import threading
from datetime import date
from typing import Any

import pytest
import requests

from kiosk.demo_cast import demo_admins, demo_holder
from kiosk.document.evidence import evidence_summary
from kiosk.errors import PortalRejected
from kiosk.portal_client import canonical_json
from portal.server import RunningPortal
from tests.receipt_ca import admin_statement

from .conftest import ClientFactory
from .helpers import count, evidence, make_signer, receipt_for

pytestmark = pytest.mark.portal


def post(portal: RunningPortal, path: str, body: dict[str, Any], key: str) -> requests.Response:
    return requests.post(
        f"{portal.url}/api/v1{path}",
        data=canonical_json(body),
        headers={"Idempotency-Key": key, "Content-Type": "application/json"},
        timeout=10,
    )


@functools.cache
def start_body(today: date, card_number: str = demo_holder("anna", date.today()).card_number
               ) -> dict[str, Any]:
    """One start body per card, its administrator's statement made once: a repeated
    request sends the same bytes (each test has its own portal, so no replay)."""
    admin = demo_admins(today)[0].hsa_id
    key = (today, card_number)
    if key not in _STATEMENTS:  # signed with the time and a nonce: made once per card
        _STATEMENTS[key] = admin_statement("activation", card_number, admin)
    return {
        "admin_hsa_id": admin,
        "evidence": evidence_summary(evidence(), suffixes=True),
        "admin_statement": _STATEMENTS[key],
    }


_STATEMENTS: dict[tuple[date, str], dict[str, Any]] = {}


def test_a_repeated_start_returns_the_same_bytes_and_starts_once(
    portal: RunningPortal, today: date
) -> None:
    anna = demo_holder("anna", today)
    path = f"/cards/{anna.card_number}/activations"
    first = post(portal, path, start_body(today), "start-anna-1")
    again = post(portal, path, start_body(today), "start-anna-1")
    assert first.status_code == again.status_code == 201
    assert first.content == again.content
    assert count(portal.db_path, "SELECT count(*) FROM activations") == 1
    assert count(
        portal.db_path, "SELECT count(*) FROM events WHERE action = 'activation_started'"
    ) == 1


def test_a_repeated_complete_returns_the_same_answer_and_activates_once(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    anna = demo_holder("anna", today)
    ticket = make_client(portal.url).start_activation(
        anna.card_number, demo_admins(today)[0].hsa_id, evidence(), "start-anna-2"
    )
    signer = make_signer("ed25519", anna.name, anna.hsa_id)
    receipt = receipt_for(anna.card_number, ticket.activation_id)
    body = {
        "receipt": base64.b64encode(receipt).decode(),
        "signature": base64.b64encode(signer.sign(receipt)).decode(),
        "certificate": base64.b64encode(signer.der).decode(),
    }
    path = f"/activations/{ticket.activation_id}/complete"
    answers = [post(portal, path, body, "complete-anna-2") for _ in range(3)]
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert json.loads(answers[0].content)["status"] == "Aktiv"
    assert count(portal.db_path, "SELECT count(*) FROM events WHERE action = 'activated'") == 1


def test_a_new_key_after_activation_is_refused_as_already_active(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    eva = demo_holder("eva", today)
    with pytest.raises(PortalRejected) as caught:
        make_client(portal.url).start_activation(
            eva.card_number, demo_admins(today)[0].hsa_id, evidence(), "start-eva"
        )
    assert caught.value.reason == "already_active"


def test_the_same_key_with_another_body_is_a_409_conflict(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    anna, bertil = demo_holder("anna", today), demo_holder("bertil", today)
    admin = demo_admins(today)[0].hsa_id
    client = make_client(portal.url)
    client.block(anna.card_number, admin, "lost", "block-key")
    with pytest.raises(PortalRejected) as caught:
        client.block(anna.card_number, admin, "stolen", "block-key")
    assert caught.value.reason == "idempotency_conflict"
    assert caught.value.data["status"] == 409
    with pytest.raises(PortalRejected):
        client.block(bertil.card_number, admin, "lost", "block-key")
    assert count(portal.db_path, "SELECT count(*) FROM cards WHERE status = 'Spärrad' "
                 "AND card_number = ?", bertil.card_number) == 0
    assert count(portal.db_path, "SELECT count(*) FROM events WHERE action = 'blocked' "
                 "AND actor IS NOT NULL") == 1


def test_a_refusal_is_replayed_too(portal: RunningPortal, today: date) -> None:
    cecilia = demo_holder("cecilia", today)
    path = f"/cards/{cecilia.card_number}/activations"
    first = post(portal, path, start_body(today, cecilia.card_number), "reserve-key")
    again = post(portal, path, start_body(today, cecilia.card_number), "reserve-key")
    assert first.status_code == again.status_code == 422
    assert first.content == again.content
    assert json.loads(first.content)["reason"] == "not_eligible"


def test_a_state_change_without_key_is_refused(portal: RunningPortal, today: date) -> None:
    anna = demo_holder("anna", today)
    response = requests.post(
        f"{portal.url}/api/v1/cards/{anna.card_number}/activations",
        json=start_body(today),
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["reason"] == "missing_idempotency_key"
    assert count(portal.db_path, "SELECT count(*) FROM activations") == 0


def test_concurrent_duplicates_change_the_card_once(portal: RunningPortal, today: date) -> None:
    anna = demo_holder("anna", today)
    path = f"/cards/{anna.card_number}/activations"
    body = start_body(today)  # made before the threads: the same bytes from each
    answers: list[requests.Response] = []
    lock = threading.Lock()

    def send() -> None:
        response = post(portal, path, body, "racing-key")
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({a.content for a in answers}) == 1
    assert {a.status_code for a in answers} == {201}
    assert count(portal.db_path, "SELECT count(*) FROM activations") == 1
