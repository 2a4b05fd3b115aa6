"""The demo seed: kiosk.demo_cast's cast (admins, holders and their cards) put into the database."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, time, timedelta

from kiosk import demo_cast
from kiosk.model import CardKind, CardStatus, TrustLevel
from kiosk.rules.card import valid_until
from portal.clock import iso
from portal.service import CARD_RULES, new_credential, record_event


def card_credential(card_number: str) -> str:
    """The credential init_pin/unlock needs: the demo card's SO PIN from kiosk.demo_cast."""
    return demo_cast.demo_so_pin(card_number)


def _valid_until(manufactured: date) -> str:
    return valid_until(manufactured, CARD_RULES).isoformat()


def insert_card(
    conn: sqlite3.Connection,
    *,
    card_number: str,
    status: CardStatus,
    kind: CardKind,
    issuer: str,
    holder_name: str,
    personnummer: str,
    hsa_id: str,
    trust_level: TrustLevel,
    manufactured: date,
    credential: str | None = None,
) -> bool:
    """Add a card unless its number exists; an Aktiv card gets plausible activation times."""
    started = activated = None
    if status is CardStatus.ACTIVE:
        moment = datetime.combine(manufactured + timedelta(days=7), time(10, 0), tzinfo=UTC)
        started, activated = iso(moment), iso(moment + timedelta(minutes=12))
    cursor = conn.execute(
        "INSERT OR IGNORE INTO cards(card_number, status, kind, issuer, holder_name, "
        "personnummer, hsa_id, trust_level, manufactured, activation_started, activated_at, "
        "valid_until, credential) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            card_number, status.value, kind.value, issuer, holder_name, personnummer, hsa_id,
            int(trust_level), manufactured.isoformat(), started, activated,
            _valid_until(manufactured), credential or new_credential(),
        ),
    )
    return cursor.rowcount == 1


def seed_demo(conn: sqlite3.Connection, today: date) -> int:
    """Insert the demo cast; existing cards are left as they are, admins are brought up to date."""
    added = 0
    now = datetime.now(UTC)
    for admin in demo_cast.demo_admins(today):
        cursor = conn.execute(
            "INSERT INTO admins(hsa_id, name, card_office, training_valid_until) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(hsa_id) DO UPDATE SET "
            "card_office = excluded.card_office, "
            "training_valid_until = excluded.training_valid_until "
            "WHERE card_office != excluded.card_office "
            "OR training_valid_until != excluded.training_valid_until",
            (
                admin.hsa_id,
                admin.name,
                demo_cast.DEMO_OFFICE,
                admin.training_valid_until.isoformat(),
            ),
        )
        added += cursor.rowcount
        added += insert_card(
            conn,
            card_number=admin.card_number,
            status=CardStatus.ACTIVE,
            kind=CardKind.ORDINARY,
            issuer="SITHS",
            holder_name=admin.name,
            personnummer=admin.personnummer,
            hsa_id=admin.hsa_id,
            trust_level=TrustLevel.LOA3,
            manufactured=today - timedelta(days=300),
            credential=card_credential(admin.card_number),
        )
    for holder in demo_cast.demo_holders(today):
        added += insert_card(
            conn,
            card_number=holder.card_number,
            status=holder.card_status,
            kind=holder.card_kind,
            issuer=holder.issuer,
            holder_name=holder.name,
            personnummer=holder.personnummer,
            hsa_id=holder.hsa_id,
            trust_level=holder.trust_level,
            manufactured=holder.manufactured,
            credential=card_credential(holder.card_number),
        )
    if added:
        record_event(conn, now, None, "seeded", None, f"{added} demo rows")
    return added
