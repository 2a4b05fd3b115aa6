"""The whole activation through the real client and the real portal on loopback."""

from __future__ import annotations

import socket
import uuid
from datetime import date
from typing import Any

import pytest

from kiosk.demo_cast import demo_admins, demo_holder
from kiosk.document.evidence import evidence_summary
from kiosk.errors import CardNotFound, PortalRejected
from kiosk.model import CardKind, CardStatus, TrustLevel, UnlockPurpose
from portal.server import RunningPortal

from .conftest import ClientFactory
from .helpers import count, evidence, make_signer, receipt_for

pytestmark = pytest.mark.portal


def key() -> str:
    return str(uuid.uuid4())


@pytest.mark.parametrize(("algorithm", "raw_ecdsa"), [
    ("ed25519", False), ("rsa", False), ("ec", False), ("ec", True),
])
def test_fetch_start_complete_makes_the_card_aktiv(
    portal: RunningPortal, make_client: ClientFactory, today: date,
    algorithm: str, raw_ecdsa: bool,
) -> None:
    anna = demo_holder("anna", today)
    admin = demo_admins(today)[0]
    client = make_client(portal.url)

    record = client.card(anna.card_number)
    assert record.status is CardStatus.SENT
    assert record.kind is CardKind.ORDINARY
    assert record.holder_name == anna.name
    assert record.personnummer == anna.personnummer
    assert record.trust_level is TrustLevel.LOA3
    assert record.manufactured == anna.manufactured
    assert record.activation_started is None

    ticket = client.start_activation(
        anna.card_number, admin.hsa_id, evidence(personnummer=anna.personnummer), key()
    )
    assert ticket.card_number == anna.card_number
    assert ticket.credential
    assert (ticket.deadline - ticket.started_at).days == 5
    assert client.card(anna.card_number).activation_started == ticket.started_at

    signer = make_signer(algorithm, anna.name, anna.hsa_id)
    receipt = receipt_for(anna.card_number, ticket.activation_id)
    done = client.complete_activation(
        ticket.activation_id, receipt, signer.sign(receipt, raw_ecdsa), signer.der, key()
    )
    assert done.status is CardStatus.ACTIVE
    assert client.card(anna.card_number).status is CardStatus.ACTIVE
    assert count(
        portal.db_path, "SELECT count(*) FROM activations WHERE state = 'completed'"
    ) == 1


def test_a_signature_over_another_receipt_is_refused(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    anna = demo_holder("anna", today)
    client = make_client(portal.url)
    ticket = client.start_activation(
        anna.card_number, demo_admins(today)[0].hsa_id, evidence(), key()
    )
    signer = make_signer("ed25519", anna.name, anna.hsa_id)
    with pytest.raises(PortalRejected) as caught:
        client.complete_activation(
            ticket.activation_id, b"the real receipt", signer.sign(b"another receipt"),
            signer.der, key(),
        )
    assert caught.value.reason == "bad_signature"
    assert client.card(anna.card_number).status is CardStatus.SENT


def test_a_certificate_of_someone_else_is_refused(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    anna, bertil = demo_holder("anna", today), demo_holder("bertil", today)
    client = make_client(portal.url)
    ticket = client.start_activation(
        anna.card_number, demo_admins(today)[0].hsa_id, evidence(), key()
    )
    signer = make_signer("ec", bertil.name, bertil.hsa_id)
    receipt = receipt_for(anna.card_number, ticket.activation_id)
    with pytest.raises(PortalRejected) as caught:
        client.complete_activation(
            ticket.activation_id, receipt, signer.sign(receipt), signer.der, key()
        )
    assert caught.value.reason == "certificate_mismatch"


def test_an_unknown_card_is_card_not_found(
    portal: RunningPortal, make_client: ClientFactory
) -> None:
    with pytest.raises(CardNotFound) as caught:
        make_client(portal.url).card("9752219999999999")
    assert caught.value.data["card_number"] == "9752219999999999"


def test_admin_authorisation_current_and_lapsed(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    current, lapsed = demo_admins(today)
    client = make_client(portal.url)
    assert client.authorise_admin(current.hsa_id).training_valid_until == (
        current.training_valid_until
    )
    assert client.authorise_admin(lapsed.hsa_id).training_valid_until < today
    with pytest.raises(PortalRejected) as caught:
        client.authorise_admin("SE2321000016-NOBODY")
    assert caught.value.reason == "admin_not_found"


def test_block_makes_the_card_sparrad_and_stops_activation(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    bertil = demo_holder("bertil", today)
    admin = demo_admins(today)[0]
    client = make_client(portal.url)
    blocked = client.block(bertil.card_number, admin.hsa_id, "lost card", key())
    assert blocked.status is CardStatus.BLOCKED
    with pytest.raises(PortalRejected) as caught:
        client.start_activation(bertil.card_number, admin.hsa_id, evidence(), key())
    assert caught.value.reason == "blocked"


def test_unlock_of_an_active_card_returns_its_credential(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    eva, anna = demo_holder("eva", today), demo_holder("anna", today)
    admin = demo_admins(today)[0]
    client = make_client(portal.url)
    ticket = client.start_unlock(eva.card_number, admin.hsa_id, evidence(), key())
    assert ticket.credential
    with pytest.raises(PortalRejected) as caught:
        client.start_unlock(anna.card_number, admin.hsa_id, evidence(), key())
    assert caught.value.reason == "not_eligible"


def test_a_signature_pin_credential_is_logged_as_what_it_is_for(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    eva, admin = demo_holder("eva", today), demo_admins(today)[0]
    client = make_client(portal.url)
    ticket = client.start_unlock(eva.card_number, admin.hsa_id, evidence(), key(),
                                 UnlockPurpose.SIGNATURE_PIN)
    assert ticket.credential
    events = "SELECT count(*) FROM events WHERE card_number = ? AND action = ?"
    assert count(portal.db_path, events, eva.card_number, "signature_pin_issued") == 1
    assert count(portal.db_path, events, eva.card_number, "unlock_issued") == 0
    # the administrator signed an unlock: the request cannot say it is for another purpose
    body: dict[str, Any] = {"admin_hsa_id": admin.hsa_id,
                            "evidence": evidence_summary(evidence(), suffixes=True)}
    idempotency_key = key()
    client._sign(body, idempotency_key, "unlock", eva.card_number, admin.hsa_id,
                 evidence=evidence())
    body["purpose"] = "signature_pin"
    with pytest.raises(PortalRejected) as caught:
        client._call("POST", f"/cards/{eva.card_number}/unlock", body, idempotency_key,
                     eva.card_number)
    assert caught.value.reason == "statement_mismatch"
    assert count(portal.db_path, events, eva.card_number, "signature_pin_issued") == 1


def test_heartbeat_is_stored(portal: RunningPortal, make_client: ClientFactory) -> None:
    client = make_client(portal.url)
    client.heartbeat({"versions": {"kiosk": "0.1.0"}, "outbox_depth": 3, "hardware": {"ok": 1}})
    assert count(
        portal.db_path,
        "SELECT count(*) FROM heartbeats WHERE kiosk_id = 'demo-kiosk-1' "
        "AND json_extract(body, '$.outbox_depth') = 3",
    ) == 1


def test_a_card_number_cannot_reach_another_route(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    anna = demo_holder("anna", today)
    client = make_client(portal.url)
    with pytest.raises(PortalRejected) as caught:
        client.block(f"{anna.card_number}/block?x=", demo_admins(today)[0].hsa_id, "x", key())
    assert caught.value.reason in {"card_not_found", "not_found"}
    assert client.card(anna.card_number).status is CardStatus.SENT


def test_the_listening_socket_is_tcp_so_answers_are_not_nagled(portal: RunningPortal) -> None:
    """asyncio sets TCP_NODELAY on accepted sockets only if the listener says IPPROTO_TCP;
    without it each keep-alive answer waited 40 ms for a delayed ACK (bench/portal.py)."""
    assert portal._socket.proto == socket.IPPROTO_TCP
