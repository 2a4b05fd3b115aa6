"""Helpers for sync tests against the real reference portal on loopback."""

from __future__ import annotations

import base64
import sqlite3
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from kiosk import demo_cast
from kiosk.model import (
    CardKind,
    CardStatus,
    DocumentEvidence,
    DocumentType,
    Provenance,
    TrustLevel,
    VisitKind,
    VisitResult,
)
from kiosk.portal_client import PortalClient
from portal import db
from portal.seed import insert_card
from tests.integration.portal.helpers import Signer, make_signer
from tests.receipt_ca import admin_cards

BENCH_HSA_ID = demo_cast.HSA_PREFIX + "SYNC1"
BENCH_PERSONNUMMER = "198112189876"


def holder_key(hsa_id: str, name: str = "Test Holder") -> Signer:
    """A fresh P-256 key and a certificate from the test holder CA naming ``hsa_id``."""
    return make_signer("ec", name, hsa_id)


def evidence_for(personnummer: str, today: date) -> DocumentEvidence:
    """A passing passport check for the holder."""
    return DocumentEvidence(
        doc_type=DocumentType.PASSPORT,
        expiry=today + timedelta(days=900),
        birth_date=None,
        personnummer=personnummer,
        document_number="AA1234567",
        how={"expiry": Provenance.SCANNED, "personnummer": Provenance.SCANNED},
        photo_confirmed=True,
        age_confirmed=True,
    )


def add_cards(db_path: Path, count: int, today: date, prefix: str = "97522199") -> list[str]:
    """Insert ``count`` Skickad cards of one holder straight into the portal's database."""
    numbers = [f"{prefix}{i:08d}" for i in range(count)]
    conn = db.connect(db_path)
    try:
        with db.transaction(conn):
            for number in numbers:
                insert_card(
                    conn, card_number=number, status=CardStatus.SENT, kind=CardKind.ORDINARY,
                    issuer="SITHS", holder_name="Test Holder", personnummer=BENCH_PERSONNUMMER,
                    hsa_id=BENCH_HSA_ID, trust_level=TrustLevel.LOA3,
                    manufactured=today - timedelta(days=10),
                )
    finally:
        conn.close()
    return numbers


def activation_result(
    client: PortalClient,
    card_number: str,
    personnummer: str,
    signer: Signer,
    today: date,
) -> VisitResult:
    """Start an activation at the portal and build the result a visit would record."""
    admin = demo_cast.demo_admins(today)[0]
    client.signer = client.signer or admin_cards()  # the administrator's signed statement
    ticket = client.start_activation(
        card_number, admin.hsa_id, evidence_for(personnummer, today), str(uuid.uuid4())
    )
    receipt = f"Kvittens: kort {card_number} kvitteras av innehavaren.".encode()
    return VisitResult(
        kind=VisitKind.ACTIVATION,
        card_number=card_number,
        admin_hsa_id=admin.hsa_id,
        idempotency_key=str(uuid.uuid4()),
        finished_at=datetime.now(UTC),
        payload={
            "activation_id": ticket.activation_id,
            "receipt": base64.b64encode(receipt).decode(),
            "signature": base64.b64encode(signer.sign(receipt)).decode(),
            "certificate": base64.b64encode(signer.der).decode(),
        },
        deadline=ticket.deadline,
    )


def portal_counts(db_path: Path) -> dict[str, int]:
    """What the portal recorded: activations completed, 'activated' events, keys stored."""
    conn = sqlite3.connect(db_path)
    try:
        one = conn.execute
        return {
            "completed": one("SELECT COUNT(*) FROM activations WHERE state='completed'")
            .fetchone()[0],
            "activated_events": one("SELECT COUNT(*) FROM events WHERE action='activated'")
            .fetchone()[0],
            "idempotency": one("SELECT COUNT(*) FROM idempotency").fetchone()[0],
        }
    finally:
        conn.close()


def card_status(db_path: Path, card_number: str) -> str:
    """The card's status straight from the portal's database."""
    conn = sqlite3.connect(db_path)
    try:
        return str(
            conn.execute("SELECT status FROM cards WHERE card_number = ?", (card_number,))
            .fetchone()[0]
        )
    finally:
        conn.close()
