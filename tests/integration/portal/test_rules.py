"""The portal enforces the card rules: deadlines, reserve cards, trained administrators."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from kiosk.demo_cast import demo_admins, demo_holder
from kiosk.errors import PortalRejected
from kiosk.model import CardKind, CardStatus, TrustLevel
from kiosk.rules.card import add_months
from portal import db
from portal.seed import insert_card
from portal.server import RunningPortal

from .conftest import ClientFactory
from .helpers import count, evidence, hook, make_signer, receipt_for

pytestmark = pytest.mark.portal


def key() -> str:
    return str(uuid.uuid4())


def test_a_card_older_than_3_months_is_sparrad(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    david = demo_holder("david", today)
    client = make_client(portal.url)
    record = client.card(david.card_number)
    assert record.status is CardStatus.BLOCKED
    with pytest.raises(PortalRejected) as caught:
        client.start_activation(
            david.card_number, demo_admins(today)[0].hsa_id, evidence(), key()
        )
    assert caught.value.reason == "deadline_passed"


def test_the_3_month_deadline_day_is_still_allowed_and_the_next_is_not(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    bertil = demo_holder("bertil", today)
    last_day = add_months(bertil.manufactured, 3)
    hook(portal, "clock", {"days": (last_day - today).days})
    client = make_client(portal.url)
    assert client.card(bertil.card_number).status is CardStatus.SENT
    hook(portal, "clock", {"days": 1})
    assert client.card(bertil.card_number).status is CardStatus.BLOCKED


def test_an_activation_not_completed_in_5_days_is_sparrad(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    anna = demo_holder("anna", today)
    client = make_client(portal.url)
    ticket = client.start_activation(
        anna.card_number, demo_admins(today)[0].hsa_id, evidence(), key()
    )
    hook(portal, "clock", {"days": 5, "seconds": -60})
    assert client.card(anna.card_number).status is CardStatus.SENT
    hook(portal, "clock", {"seconds": 120})
    signer = make_signer("ed25519", anna.name, anna.hsa_id)
    receipt = receipt_for(anna.card_number, ticket.activation_id)
    with pytest.raises(PortalRejected) as caught:
        client.complete_activation(
            ticket.activation_id, receipt, signer.sign(receipt), signer.der, key()
        )
    assert caught.value.reason == "deadline_passed"
    assert client.card(anna.card_number).status is CardStatus.BLOCKED


def test_the_sweep_blocks_overdue_cards_without_anyone_asking(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    anna, bertil = demo_holder("anna", today), demo_holder("bertil", today)
    make_client(portal.url).start_activation(
        anna.card_number, demo_admins(today)[0].hsa_id, evidence(), key()
    )
    hook(portal, "clock", {"days": 6})
    blocked = hook(portal, "sweep", {})["blocked"]
    assert anna.card_number in blocked
    assert bertil.card_number not in blocked
    assert count(
        portal.db_path, "SELECT count(*) FROM cards WHERE card_number = ? AND status = 'Spärrad'",
        anna.card_number,
    ) == 1


def test_restarting_an_activation_keeps_the_first_deadline(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    anna = demo_holder("anna", today)
    admin = demo_admins(today)[0].hsa_id
    client = make_client(portal.url)
    first = client.start_activation(anna.card_number, admin, evidence(), key())
    hook(portal, "clock", {"days": 2})
    second = client.start_activation(anna.card_number, admin, evidence(), key())
    assert second.deadline == first.deadline
    signer = make_signer("ed25519", anna.name, anna.hsa_id)
    receipt = receipt_for(anna.card_number, first.activation_id)
    with pytest.raises(PortalRejected) as caught:
        client.complete_activation(
            first.activation_id, receipt, signer.sign(receipt), signer.der, key()
        )
    assert caught.value.reason == "activation_superseded"


def test_a_reserve_card_is_refused(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    cecilia = demo_holder("cecilia", today)
    client = make_client(portal.url)
    with pytest.raises(PortalRejected) as caught:
        client.start_activation(
            cecilia.card_number, demo_admins(today)[0].hsa_id, evidence(), key()
        )
    assert caught.value.reason == "not_eligible"
    assert "reserve" in caught.value.detail
    assert client.card(cecilia.card_number).status is CardStatus.SENT


def test_a_lapsed_administrator_is_refused(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    anna = demo_holder("anna", today)
    lapsed = demo_admins(today)[1]
    client = make_client(portal.url)
    for attempt in (
        lambda: client.start_activation(anna.card_number, lapsed.hsa_id, evidence(), key()),
        lambda: client.block(anna.card_number, lapsed.hsa_id, "lost", key()),
    ):
        with pytest.raises(PortalRejected) as caught:
            attempt()
        assert caught.value.reason == "admin_not_authorised"
        assert caught.value.data["status"] == 403
    assert client.card(anna.card_number).status is CardStatus.SENT


def test_an_expired_document_is_refused(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    farid = demo_holder("farid", today)
    with pytest.raises(PortalRejected) as caught:
        make_client(portal.url).start_activation(
            farid.card_number, demo_admins(today)[0].hsa_id,
            evidence(expiry=farid.document_expiry), key(),
        )
    assert caught.value.reason == "document_rejected"


def test_a_document_of_someone_else_is_refused(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    anna, bertil = demo_holder("anna", today), demo_holder("bertil", today)
    with pytest.raises(PortalRejected) as caught:
        make_client(portal.url).start_activation(
            anna.card_number, demo_admins(today)[0].hsa_id,
            evidence(personnummer=bertil.personnummer), key(),
        )
    assert caught.value.reason == "document_rejected"


def test_the_evidence_summary_keeps_no_full_numbers(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    anna = demo_holder("anna", today)
    make_client(portal.url).start_activation(
        anna.card_number, demo_admins(today)[0].hsa_id,
        evidence(personnummer=anna.personnummer), key(),
    )
    assert count(
        portal.db_path,
        "SELECT count(*) FROM activations WHERE evidence LIKE ? OR evidence LIKE ?",
        f"%{anna.personnummer}%", "%AA1234567%",
    ) == 0
    assert count(
        portal.db_path, "SELECT count(*) FROM activations WHERE evidence LIKE ?",
        f"%{anna.personnummer[-4:]}%",
    ) == 1


def test_add_months_clamps_to_the_month_end() -> None:
    assert add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)
    assert add_months(date(2024, 11, 30), 3) == date(2025, 2, 28)
    assert add_months(date(2023, 11, 29), 3) == date(2024, 2, 29)
    assert add_months(date(2025, 10, 31), 3) == date(2026, 1, 31)
    assert add_months(date(2025, 1, 15), 3) - date(2025, 1, 15) == timedelta(days=90)


def test_a_card_of_another_issuer_is_refused(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    conn = db.connect(portal.db_path)
    with db.transaction(conn):
        insert_card(
            conn, card_number="9999000011112222", status=CardStatus.SENT,
            kind=CardKind.ORDINARY, issuer="Telia", holder_name="Tor Telia",
            personnummer="198001012383", hsa_id="SE2321000016-TT01",
            trust_level=TrustLevel.LOA3, manufactured=today,
        )
    conn.close()
    with pytest.raises(PortalRejected) as caught:
        make_client(portal.url).start_activation(
            "9999000011112222", demo_admins(today)[0].hsa_id, evidence(), key()
        )
    assert caught.value.reason == "not_eligible"
    assert "Telia" in caught.value.detail
