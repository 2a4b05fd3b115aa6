"""Issue 13.2: the administrator signs the hand-out with their own card (a SoftHSM2 token).

Sign-in signs a session delegation with the card's authentication key (one PIN); each
activation, unlock and block carries a statement signed with the delegated key; the
reference portal verifies the signatures, the chain to its card CA (pyhanko-certvalidator),
the HSA-id, the training, and that the statement is not replayed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests

from composition.wiring import SigningTokenProvider, queued_block_statement
from hardware.pkcs11.token import Pkcs11TokenProvider
from hardware.sim.democa import DemoCA, PersonCredentials
from hardware.sim.softhsm import init_token, random_pin, store_credentials, token_label
from kiosk.demo_cast import DEMO_KIOSK_ID, DEMO_OFFICE, demo_admins, demo_holder
from kiosk.devicekey import load_or_create
from kiosk.document.evidence import evidence_summary
from kiosk.errors import AdminNotAuthorised, PortalRejected, PortalUnreachable
from kiosk.handout import HandOutSigner, Holder
from kiosk.model import (
    DocumentEvidence,
    DocumentType,
    Provenance,
    TrustLevel,
    VisitKind,
    VisitResult,
)
from kiosk.outbox import Outbox, SystemClock
from kiosk.portal_client import PortalClient, canonical_json
from kiosk.settings import DEFAULT_POLICY_LEVELS
from kiosk.sync import SyncWorker
from kiosk.visit.effects import RecordResult
from portal.server import RunningPortal, start_in_thread
from tests.receipt_ca import issue_admin, receipt_trust, revoke

from .conftest import SO_PIN, SoftHsm

pytestmark = pytest.mark.portal

TODAY = date.today()
KIOSK = DEMO_KIOSK_ID  # every caller of a plain-HTTP loopback portal is the demo kiosk
ANNA = demo_holder("anna", TODAY)
KARIN, LARS = demo_admins(TODAY)


def evidence() -> DocumentEvidence:
    return DocumentEvidence(
        doc_type=DocumentType.PASSPORT,
        expiry=TODAY + timedelta(days=900),
        birth_date=None,
        personnummer=None,
        document_number="AA1234567",
        how={"expiry": Provenance.SCANNED},
        photo_confirmed=True,
        age_confirmed=True,
    )


@dataclass
class AdminCard:
    """An administrator's card as a SoftHSM2 token, and its PIN."""

    number: str
    pin: str
    provider: Pkcs11TokenProvider


def admin_card(softhsm: SoftHsm, creds: PersonCredentials, number: str) -> AdminCard:
    pin = random_pin()
    init_token(softhsm.conf, token_label(number), SO_PIN, pin)
    softhsm.module.reinitialize()
    store_credentials(softhsm.module, token_label(number), pin, creds)
    softhsm.module.reinitialize()
    provider = Pkcs11TokenProvider(
        softhsm.module, card_number_of=lambda _reader: number,
        policy_levels=DEFAULT_POLICY_LEVELS, labels_carry_number=True,
    )
    return AdminCard(number, pin, provider)


@pytest.fixture
def portal(tmp_path: Any) -> Iterator[RunningPortal]:
    """The portal trusts the test card CA (tests/receipt_ca.py), revocation included."""
    running = start_in_thread(tmp_path / "portal.db", seed_demo=True,
                              receipt_trust=receipt_trust())
    yield running
    running.stop()


def pseudonym(value: str) -> str:
    return hashlib.sha256(b"test key" + value.encode()).hexdigest()


def signed_in(card: AdminCard, kiosk_id: str = KIOSK) -> HandOutSigner:
    """Sign in as the kiosk does: the card's login signs the session delegation."""
    signer = HandOutSigner(kiosk_id, DEMO_OFFICE, 3600, pseudonym)
    tokens = SigningTokenProvider(card.provider, signer, SystemClock())
    info = tokens.open().admin_sign_in(card.pin)
    assert info.hsa_id and signer.active
    return signer


def client(portal: RunningPortal, signer: HandOutSigner | None) -> PortalClient:
    return PortalClient(portal.url, retries=0, kiosk_id=KIOSK, signer=signer)


def raw_start(portal: RunningPortal, body: dict[str, Any], key: str | None = None
              ) -> requests.Response:
    return requests.post(
        f"{portal.url}/api/v1/cards/{ANNA.card_number}/activations",
        data=canonical_json(body),
        headers={"Idempotency-Key": key or str(uuid.uuid4()),
                 "Content-Type": "application/json"},
        timeout=10,
    )


def start_body(signer: HandOutSigner, portal: RunningPortal, admin: str = KARIN.hsa_id,
               at: datetime | None = None) -> dict[str, Any]:
    record = client(portal, None).card(ANNA.card_number)
    statement = signer.statement("activation", ANNA.card_number, admin,
                                 at or datetime.now(UTC),
                                 Holder(record.holder_name, record.hsa_id), evidence())
    return {"admin_hsa_id": admin, "evidence": evidence_summary(evidence()),
            "admin_statement": statement}


def reason(response: requests.Response) -> str:
    return str(response.json()["reason"])


@pytest.fixture
def karin(softhsm: SoftHsm) -> AdminCard:
    creds = issue_admin(KARIN.hsa_id, KARIN.personnummer)
    return admin_card(softhsm, creds, KARIN.card_number)


def test_activation_unlock_and_block_signed_with_the_admin_card_are_accepted(
    portal: RunningPortal, karin: AdminCard
) -> None:
    signer = signed_in(karin)
    with client(portal, signer) as kiosk:
        kiosk.card(ANNA.card_number)
        ticket = kiosk.start_activation(ANNA.card_number, KARIN.hsa_id, evidence(), "k1")
        assert ticket.card_number == ANNA.card_number
        blocked = kiosk.block(ANNA.card_number, KARIN.hsa_id, "lost card", "k2")
        assert blocked.status.value == "Spärrad"
    with sqlite3.connect(portal.db_path) as conn:
        rows = conn.execute("SELECT hsa_id, kiosk_id, action FROM statements ORDER BY action"
                            ).fetchall()
    assert rows == [(KARIN.hsa_id, KIOSK, "activation"), (KARIN.hsa_id, KIOSK, "block")]


def test_the_delegation_is_signed_by_the_card_and_the_statement_says_what_was_checked(
    portal: RunningPortal, karin: AdminCard
) -> None:
    body = start_body(signed_in(karin), portal)
    envelope = body["admin_statement"]
    statement = json.loads(base64.b64decode(envelope["statement"]))
    delegation = json.loads(base64.b64decode(envelope["delegation"]))
    assert statement["holder"] == {"name": ANNA.name, "hsa_id": ANNA.hsa_id}
    assert statement["document"]["doc_type"] == "passport"
    assert statement["document"]["number_hash"] == pseudonym("document:passport:AA1234567")
    assert "AA1234567" not in base64.b64decode(envelope["statement"]).decode()
    assert statement["checks"] == ["expiry:scanned", "photo_confirmed", "age_confirmed"]
    assert statement["kiosk_id"] == delegation["kiosk_id"] == KIOSK
    assert raw_start(portal, body).status_code == 201


def test_no_statement_is_refused(portal: RunningPortal) -> None:
    with client(portal, None) as kiosk, pytest.raises(PortalRejected) as refused:
        kiosk.start_activation(ANNA.card_number, KARIN.hsa_id, evidence(), "k1")
    assert refused.value.reason == "statement_missing"


@pytest.mark.parametrize("part", ["statement", "delegation"])
def test_a_bad_signature_is_refused(portal: RunningPortal, karin: AdminCard, part: str) -> None:
    body = start_body(signed_in(karin), portal)
    envelope = body["admin_statement"]
    data = json.loads(base64.b64decode(envelope[part]))
    data["card_number" if part == "statement" else "expires_at"] = (
        "9752210000000002" if part == "statement" else "2099-01-01T00:00:00+00:00")
    envelope[part] = base64.b64encode(canonical_json(data)).decode()
    answer = raw_start(portal, body)
    assert (answer.status_code, reason(answer)) == (403, "statement_bad_signature")
    with sqlite3.connect(portal.db_path) as conn:
        assert conn.execute("SELECT count(*) FROM activations").fetchone()[0] == 0


def test_a_statement_for_another_request_is_refused(portal: RunningPortal, karin: AdminCard
                                                    ) -> None:
    """Signed and valid, but for an activation: it does not carry a block."""
    body = start_body(signed_in(karin), portal)
    answer = requests.post(
        f"{portal.url}/api/v1/cards/{ANNA.card_number}/block",
        data=canonical_json({"admin_hsa_id": KARIN.hsa_id, "reason": "lost",
                             "admin_statement": body["admin_statement"]}),
        headers={"Idempotency-Key": "b1", "Content-Type": "application/json"}, timeout=10,
    )
    assert (answer.status_code, reason(answer)) == (403, "statement_mismatch")


def test_a_statement_naming_another_admin_than_the_card_is_refused(
    portal: RunningPortal, karin: AdminCard
) -> None:
    """Karin's card cannot speak for another authorised administrator."""
    other = "SE2321000016-ADM9"
    with sqlite3.connect(portal.db_path) as conn:
        conn.execute("INSERT INTO admins VALUES (?, 'Olle Annan', ?, ?)",
                     (other, DEMO_OFFICE, (TODAY + timedelta(days=100)).isoformat()))
    answer = raw_start(portal, start_body(signed_in(karin), portal, admin=other))
    assert (answer.status_code, reason(answer)) == (403, "statement_wrong_admin")


def test_an_untrained_admin_is_refused_even_with_a_valid_card_signature(
    portal: RunningPortal, softhsm: SoftHsm
) -> None:
    lars = admin_card(softhsm, issue_admin(LARS.hsa_id, LARS.personnummer), LARS.card_number)
    with client(portal, signed_in(lars)) as kiosk, pytest.raises(PortalRejected) as refused:
        kiosk.start_activation(ANNA.card_number, LARS.hsa_id, evidence(), "k1")
    assert refused.value.reason == "admin_not_authorised"


def test_a_card_from_another_ca_is_refused(portal: RunningPortal, softhsm: SoftHsm) -> None:
    """A certificate naming Karin, from a CA the portal does not trust."""
    impostor = DemoCA.create(TODAY)
    creds = impostor.issue_person("Karin", "Kortsson", KARIN.hsa_id, KARIN.personnummer,
                                  TrustLevel.LOA3, TODAY)
    card = admin_card(softhsm, creds, KARIN.card_number)
    answer = raw_start(portal, start_body(signed_in(card), portal))
    assert (answer.status_code, reason(answer)) == (403, "statement_untrusted")


def test_a_revoked_admin_card_is_refused(portal: RunningPortal, softhsm: SoftHsm) -> None:
    creds = issue_admin(KARIN.hsa_id, KARIN.personnummer)
    card = admin_card(softhsm, creds, KARIN.card_number)
    signer = signed_in(card)
    revoke(creds.authentication.cert)
    answer = raw_start(portal, start_body(signer, portal))
    assert (answer.status_code, reason(answer)) == (403, "statement_untrusted")
    assert "revoked" in answer.json()["detail"]


def test_a_replayed_statement_is_refused(portal: RunningPortal, karin: AdminCard) -> None:
    body = start_body(signed_in(karin), portal)
    first = raw_start(portal, body, "first-key")
    same_key = raw_start(portal, body, "first-key")
    replayed = raw_start(portal, body, "second-key")
    assert first.status_code == same_key.status_code == 201  # idempotent retry
    assert first.content == same_key.content
    assert (replayed.status_code, reason(replayed)) == (403, "statement_replayed")


@pytest.mark.parametrize("shift", [timedelta(minutes=-20), timedelta(minutes=30)])
def test_a_statement_too_old_or_from_the_future_is_refused(
    portal: RunningPortal, karin: AdminCard, shift: timedelta
) -> None:
    """Activation statements live 10 minutes."""
    answer = raw_start(portal, start_body(signed_in(karin), portal,
                                          at=datetime.now(UTC) + shift))
    assert (answer.status_code, reason(answer)) == (403, "statement_expired")


class PastClock:
    def now(self) -> datetime:
        return datetime.now(UTC) - timedelta(hours=2)


def test_a_statement_after_the_session_ended_is_refused(portal: RunningPortal,
                                                        karin: AdminCard) -> None:
    """The kiosk signs nothing past the delegation; a kiosk that did is refused too."""
    signer = HandOutSigner(KIOSK, DEMO_OFFICE, 3600, pseudonym)
    SigningTokenProvider(karin.provider, signer, PastClock()).open().admin_sign_in(karin.pin)
    with pytest.raises(AdminNotAuthorised):
        start_body(signer, portal)
    session = signer._session  # a hostile kiosk ignoring its own session's end
    assert session is not None
    session.expires_at = datetime.now(UTC) + timedelta(hours=1)
    answer = raw_start(portal, start_body(signer, portal))
    assert (answer.status_code, reason(answer)) == (403, "statement_expired")


def test_after_the_session_locks_nothing_more_is_signed(portal: RunningPortal,
                                                        karin: AdminCard) -> None:
    signer = signed_in(karin)
    signer.forget()
    with pytest.raises(AdminNotAuthorised):
        signer.statement("activation", ANNA.card_number, KARIN.hsa_id, datetime.now(UTC))
    # the client sends what it has (a background sync must not loop on it): the portal
    # refuses a request without the administrator's statement
    with client(portal, signer) as kiosk, pytest.raises(PortalRejected) as refused:
        kiosk.start_activation(ANNA.card_number, KARIN.hsa_id, evidence(), "k1")
    assert refused.value.reason == "statement_missing"


def test_a_block_queued_offline_is_sent_later_with_the_statement_made_at_the_time(
    tmp_path: Any, karin: AdminCard
) -> None:
    """Portal down at the block: the outbox row keeps the statement; a sync without any
    session key (e.g. the kiosk-sync timer) delivers it and the card becomes Spärrad."""
    db_path = tmp_path / "portal.db"
    first = start_in_thread(db_path, seed_demo=True, receipt_trust=receipt_trust())
    url = first.url
    signer = signed_in(karin)
    kiosk = PortalClient(url, retries=0, kiosk_id=KIOSK, signer=signer)
    kiosk.card(ANNA.card_number)
    first.stop()
    key = "visit-1:block"
    with pytest.raises(PortalUnreachable):
        kiosk.block(ANNA.card_number, KARIN.hsa_id, "lost card", key)
    result = VisitResult(VisitKind.BLOCK, ANNA.card_number, KARIN.hsa_id, key,
                         datetime.now(UTC), {"reason": "lost card", "synced": "no"})
    recorded = queued_block_statement(kiosk, RecordResult(result))
    assert isinstance(recorded, RecordResult)
    queued = recorded.result
    assert "admin_statement" in queued.payload
    signer.forget()  # the session ended long before the sync
    box = Outbox(tmp_path / "state", load_or_create(tmp_path / "state"), SystemClock())
    box.record(queued)
    port = int(url.rsplit(":", 1)[1])
    second = start_in_thread(db_path, port=port, receipt_trust=receipt_trust())
    try:
        report = SyncWorker(box, PortalClient(second.url, retries=0), lease_s=30).flush()
        assert (report.sent, report.rejected) == (1, 0)
        with sqlite3.connect(db_path) as conn:
            status = conn.execute("SELECT status FROM cards WHERE card_number = ?",
                                  (ANNA.card_number,)).fetchone()[0]
            stored = conn.execute("SELECT action FROM statements").fetchall()
        assert status == "Spärrad" and stored == [("block",)]
    finally:
        second.stop()
        box.close()


def test_a_statement_made_at_another_kiosk_is_refused(portal: RunningPortal,
                                                      karin: AdminCard) -> None:
    """The session was delegated to kiosk-2; this client certificate is the demo kiosk."""
    answer = raw_start(portal, start_body(signed_in(karin, kiosk_id="kiosk-2"), portal))
    assert (answer.status_code, reason(answer)) == (403, "statement_mismatch")
