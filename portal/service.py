"""The portal's rules: card records, deadlines, activation, unlock, block, heartbeat.

Every function works inside a transaction the caller opened and either returns a
JSON-ready dict or raises ``ApiError``. Changes made before an ``ApiError`` (a card
found past its deadline becomes Spärrad) are meant to be committed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from kiosk.rules.card import completion_due, last_activation_day
from kiosk.settings import CardRulesSettings, DocumentRulesSettings
from portal import db
from portal.clock import PortalClock, iso, parse_iso
from portal.handout import Expected, StatementRefused, record_statement, verify_statement
from portal.kiosks import Kiosk
from portal.receipts import (
    ReceiptInvalid,
    ReceiptTrustUnavailable,
    VerifiedReceipt,
    verify_receipt,
)

# The card and document rules are the kiosk's (kiosk/rules/card.py, DOMAIN.md's values as
# the settings' defaults): the portal enforces the same deadlines with the same arithmetic.
CARD_RULES = CardRulesSettings()
DOCUMENT_RULES = DocumentRulesSettings()
UNLOCK_WINDOW = timedelta(hours=1)
MANUFACTURE_DEADLINE_PASSED = (
    f"not activated within {CARD_RULES.activation_window_months} months of manufacture"
)
COMPLETION_DEADLINE_PASSED = (
    f"activation not completed within {CARD_RULES.completion_window_days} days of its start"
)
DEADLINE_REASONS = (MANUFACTURE_DEADLINE_PASSED, COMPLETION_DEADLINE_PASSED)
TRANSIENT_RECEIPT_REASONS = ("revocation_unknown",)


@dataclass
class ApiError(Exception):
    """A refusal with an HTTP status and a stable reason code."""

    status: int
    reason: str
    detail: str

    def body(self) -> dict[str, str]:
        """The JSON error body."""
        return {"reason": self.reason, "detail": self.detail}


def activation_deadline(manufactured: date) -> date:
    """The last day an activation may start (kiosk.rules.card.last_activation_day)."""
    return last_activation_day(manufactured, CARD_RULES)


def record_event(
    conn: sqlite3.Connection,
    now: datetime,
    card_number: str | None,
    action: str,
    actor: str | None,
    detail: str = "",
) -> None:
    """Append to the portal's own event log."""
    conn.execute(
        "INSERT INTO events(at, card_number, action, actor, detail) VALUES (?, ?, ?, ?, ?)",
        (iso(now), card_number, action, actor, detail),
    )


def overdue_reason(row: sqlite3.Row, now: datetime) -> str | None:
    """Why a Skickad card is past a deadline, or None when it is not."""
    if row["status"] != "Skickad":
        return None
    if row["activation_started"] is not None:
        if now > completion_due(parse_iso(row["activation_started"]), CARD_RULES):
            return COMPLETION_DEADLINE_PASSED
        return None
    if now.date() > activation_deadline(date.fromisoformat(row["manufactured"])):
        return MANUFACTURE_DEADLINE_PASSED
    return None


def block_row(
    conn: sqlite3.Connection, card_number: str, reason: str, now: datetime, actor: str | None
) -> None:
    """Set a card to Spärrad, end its open activations and revoke its valid certificates
    (the portal publishes them on its CRLs once the change is committed)."""
    conn.execute(
        "UPDATE cards SET status = 'Spärrad', blocked_reason = ?, blocked_at = ? "
        "WHERE card_number = ?",
        (reason, iso(now), card_number),
    )
    conn.execute(
        "UPDATE activations SET state = 'superseded' WHERE card_number = ? AND state = 'started'",
        (card_number,),
    )
    conn.execute(
        "UPDATE certificates SET state = 'revoked', ended_at = ?, ended_reason = ? "
        "WHERE card_number = ? AND state = 'valid'",
        (iso(now), f"card blocked: {reason}", card_number),
    )
    record_event(conn, now, card_number, "blocked", actor, reason)


def enforce_deadlines(conn: sqlite3.Connection, row: sqlite3.Row, now: datetime) -> sqlite3.Row:
    """Block the card if it is past a deadline; return its current row."""
    reason = overdue_reason(row, now)
    if reason is None:
        return row
    block_row(conn, row["card_number"], reason, now, None)
    return _card_row(conn, row["card_number"])


def sweep(conn: sqlite3.Connection, now: datetime) -> list[str]:
    """Block every Skickad card past a deadline; return their card numbers."""
    rows = conn.execute("SELECT * FROM cards WHERE status = 'Skickad'").fetchall()
    blocked = []
    for row in rows:
        reason = overdue_reason(row, now)
        if reason is not None:
            block_row(conn, row["card_number"], reason, now, None)
            blocked.append(row["card_number"])
    return blocked


def _card_row(conn: sqlite3.Connection, card_number: str) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM cards WHERE card_number = ?", (card_number,)
    ).fetchone()
    if row is None:
        raise ApiError(404, "card_not_found", f"no card with number {card_number}")
    return row


def card_row(conn: sqlite3.Connection, card_number: str) -> sqlite3.Row:
    """The card's row; ApiError 404 card_not_found when there is none."""
    return _card_row(conn, card_number)


def actionable(row: sqlite3.Row) -> bool:
    """Whether a card office could act on this card in a visit (activate or unlock it):
    a Skickad or Aktiv SITHS card that is not a reserve card. Only then does the kiosk
    need the holder's full personnummer (to match the ID document, to check the PIN)."""
    return (
        row["status"] in ("Skickad", "Aktiv")
        and row["kind"] != "reserve"
        and row["issuer"] in CARD_RULES.accepted_issuers
    )


def masked_personnummer(personnummer: str) -> str:
    """The birth date only: ``YYYYMMDD-****`` (what a card check may show)."""
    digits = _digits(personnummer)
    return f"{digits[:8]}-****" if len(digits) >= 8 else "****"


def card_json(row: sqlite3.Row, full_personnummer: bool = True) -> dict[str, Any]:
    """A card row as the API's CardRecord; the personnummer masked unless asked for."""
    started = row["activation_started"]
    manufactured = date.fromisoformat(row["manufactured"])
    personnummer = str(row["personnummer"])
    return {
        "card_number": row["card_number"],
        "status": row["status"],
        "kind": row["kind"],
        "issuer": row["issuer"],
        "holder_name": row["holder_name"],
        "personnummer": personnummer if full_personnummer else masked_personnummer(personnummer),
        "hsa_id": row["hsa_id"],
        "trust_level": row["trust_level"],
        "manufactured": row["manufactured"],
        "activation_started": started,
        "valid_until": row["valid_until"],
        "activation_deadline": activation_deadline(manufactured).isoformat(),
        "completion_deadline": (
            iso(completion_due(parse_iso(started), CARD_RULES)) if started is not None else None
        ),
        "activated_at": row["activated_at"],
        "blocked_reason": row["blocked_reason"],
    }


def get_card(
    conn: sqlite3.Connection, clock: PortalClock, card_number: str, kiosk: Kiosk
) -> dict[str, Any]:
    """The card's record, after enforcing its deadlines (call outside a transaction); the
    full personnummer only for a card a visit could act on."""
    now = clock.now()
    row = _card_row(conn, card_number)
    if overdue_reason(row, now) is not None:
        with db.transaction(conn):
            row = enforce_deadlines(conn, _card_row(conn, card_number), now)
    return card_json(row, full_personnummer=actionable(row))


def _admin_row(conn: sqlite3.Connection, hsa_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM admins WHERE hsa_id = ?", (hsa_id,)
    ).fetchone()
    return row


def admin_json(row: sqlite3.Row, today: date) -> dict[str, Any]:
    """An admin row as the API's AdminAuthorisation."""
    return {
        "hsa_id": row["hsa_id"],
        "name": row["name"],
        "card_office": row["card_office"],
        "training_valid_until": row["training_valid_until"],
        "authorised": date.fromisoformat(row["training_valid_until"]) >= today,
    }


def _outside_remit(what: str) -> ApiError:
    return ApiError(403, "outside_remit", f"{what} is outside this kiosk's card office")


def get_admin(
    conn: sqlite3.Connection, clock: PortalClock, hsa_id: str, kiosk: Kiosk
) -> dict[str, Any]:
    """The administrator's authorisation; only administrators of the kiosk's own office."""
    row = _admin_row(conn, hsa_id)
    if row is None:
        raise ApiError(404, "admin_not_found", f"no ID administrator with HSA-id {hsa_id}")
    if row["card_office"] != kiosk.card_office:
        raise _outside_remit(f"administrator {hsa_id}")
    return admin_json(row, clock.today())


def require_authorised_admin(
    conn: sqlite3.Connection, hsa_id: str, today: date, kiosk: Kiosk
) -> None:
    """Refuse an unknown administrator, one of another card office than the kiosk's, or
    one whose yearly training has lapsed."""
    row = _admin_row(conn, hsa_id)
    if row is None:
        raise ApiError(403, "admin_not_authorised", f"unknown ID administrator {hsa_id}")
    if row["card_office"] != kiosk.card_office:
        raise _outside_remit(f"administrator {hsa_id}")
    valid_until = date.fromisoformat(row["training_valid_until"])
    if valid_until < today:
        raise ApiError(
            403,
            "admin_not_authorised",
            f"the administrator's training lapsed on {valid_until.isoformat()}",
        )


def check_statement(
    conn: sqlite3.Connection,
    trust: Sequence[str | Path],
    action: str,
    card: sqlite3.Row,
    body: dict[str, Any],
    kiosk: Kiosk,
    now: datetime,
    reason: str | None = None,
) -> None:
    """Refuse (403) a request whose administrator's signed hand-out statement does not
    verify (portal/handout.py); keep its nonce so that it cannot be used again."""
    expected = Expected(action, card["card_number"], str(body["admin_hsa_id"]),
                        card["holder_name"], card["hsa_id"], kiosk.kiosk_id,
                        kiosk.card_office, reason)
    try:
        # Statement times are the kiosk's wall clock: judged against ours, not the portal
        # clock's demo/test offset (which moves card deadlines, not machines' clocks).
        verified = verify_statement(
            body.get("admin_statement"), expected, trust, datetime.now(UTC)
        )
        record_statement(conn, verified, now, action, card["card_number"])
    except StatementRefused as exc:
        raise ApiError(403, exc.reason, exc.detail) from None
    except ReceiptInvalid as exc:  # revocation of the administrator's card unknown now
        raise ApiError(503, exc.reason, exc.detail) from exc
    except ReceiptTrustUnavailable as exc:
        raise ApiError(
            503, "receipt_trust_unavailable",
            "the portal cannot verify the administrator's card now; the request can be retried",
        ) from exc


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def check_evidence(evidence: dict[str, Any], card: sqlite3.Row, today: date) -> None:
    """Refuse an evidence summary the control process would not accept for this card."""
    expiry = date.fromisoformat(str(evidence["expiry"]))
    if expiry < today:
        raise ApiError(422, "document_rejected", "the ID document has expired")
    if not evidence.get("photo_confirmed") or not evidence.get("age_confirmed"):
        raise ApiError(
            422, "document_rejected", "photo and age must be confirmed by the administrator"
        )
    if card["trust_level"] >= 3 and evidence["doc_type"] not in DOCUMENT_RULES.loa3_documents:
        raise ApiError(
            422, "document_rejected", "trust level 3 needs a full-value Swedish ID document"
        )
    suffix = evidence.get("personnummer_suffix")
    if suffix:
        if _digits(card["personnummer"])[-4:] != suffix:
            raise ApiError(
                422, "document_rejected", "the document's personnummer is not the card holder's"
            )


def _blocked_error(row: sqlite3.Row) -> ApiError:
    reason = row["blocked_reason"] or ""
    code = "deadline_passed" if reason in DEADLINE_REASONS else "blocked"
    return ApiError(409, code, f"the card is blocked (Spärrad): {reason}")


def _require_activatable(conn: sqlite3.Connection, card_number: str, now: datetime) -> sqlite3.Row:
    row = enforce_deadlines(conn, _card_row(conn, card_number), now)
    if row["status"] == "Spärrad":
        raise _blocked_error(row)
    if row["status"] == "Aktiv":
        raise ApiError(409, "already_active", "the card is already active")
    if row["kind"] == "reserve":
        raise ApiError(
            422, "not_eligible", "reserve cards are not activated at card offices"
        )
    if row["issuer"] not in CARD_RULES.accepted_issuers:
        raise ApiError(422, "not_eligible", f"cards from {row['issuer']} are not SITHS cards")
    return row


def _ticket(activation_id: str, card: sqlite3.Row, kind: str, started: datetime,
            deadline: datetime) -> dict[str, Any]:
    return {
        "activation_id": activation_id,
        "kind": kind,
        "card_number": card["card_number"],
        "credential": card["credential"],
        "started_at": iso(started),
        "deadline": iso(deadline),
    }


def _insert_ticket(
    conn: sqlite3.Connection,
    card_number: str,
    kind: str,
    state: str,
    admin: str,
    now: datetime,
    deadline: datetime,
    body: dict[str, Any],
    kiosk: Kiosk,
) -> str:
    """A new activation or unlock row (its evidence, kiosk and office); its id."""
    ticket_id = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO activations(id, card_number, kind, admin_hsa_id, started_at, deadline, "
        "state, evidence, kiosk_id, card_office) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (ticket_id, card_number, kind, admin, iso(now), iso(deadline), state,
         json.dumps(body["evidence"], sort_keys=True), kiosk.kiosk_id, kiosk.card_office),
    )
    return ticket_id


def start_activation(
    conn: sqlite3.Connection,
    clock: PortalClock,
    card_number: str,
    body: dict[str, Any],
    kiosk: Kiosk,
    trust: Sequence[str | Path] = (),
) -> dict[str, Any]:
    """Start (or restart) an activation; the 5-day window runs from the first start.
    The administrator's statement is verified against the ``trust`` files."""
    now = clock.now()
    card = _require_activatable(conn, card_number, now)
    admin = str(body["admin_hsa_id"])
    require_authorised_admin(conn, admin, now.date(), kiosk)
    check_evidence(body["evidence"], card, now.date())
    check_statement(conn, trust, "activation", card, body, kiosk, now)
    started = (
        parse_iso(card["activation_started"]) if card["activation_started"] else now
    )
    deadline = completion_due(started, CARD_RULES)
    conn.execute(
        "UPDATE activations SET state = 'superseded' WHERE card_number = ? AND state = 'started'",
        (card_number,),
    )
    activation_id = _insert_ticket(
        conn, card_number, "activation", "started", admin, now, deadline, body, kiosk
    )
    conn.execute(
        "UPDATE cards SET activation_started = ? WHERE card_number = ?",
        (iso(started), card_number),
    )
    record_event(conn, now, card_number, "activation_started", admin, activation_id)
    return _ticket(activation_id, card, "activation", started, deadline)


def _decode(body: dict[str, Any], field: str) -> bytes:
    try:
        return base64.b64decode(str(body[field]), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(400, "invalid_request", f"{field} is not valid base64") from exc


RECEIPT_CHECK_VALID_S = 1.0  # a receipt checked before the write counts this long


@dataclass(frozen=True)
class ReceiptCheck:
    """A receipt verified before the write transaction (``check_receipt``), for the holder
    the card named then: its outcome, a VerifiedReceipt or the refusal."""

    hsa_id: str
    personnummer: str
    blobs: tuple[bytes, bytes, bytes]  # receipt, signature, certificate
    at: datetime
    outcome: VerifiedReceipt | ReceiptInvalid | ReceiptTrustUnavailable

    def result(self, card: sqlite3.Row, blobs: tuple[bytes, bytes, bytes], now: datetime
               ) -> VerifiedReceipt | None:
        """The outcome (a refusal is raised) if it is for this card's holder and these
        bytes and was reached at most RECEIPT_CHECK_VALID_S before ``now``; else None."""
        if (card["hsa_id"], card["personnummer"], blobs) != (
            self.hsa_id, self.personnummer, self.blobs
        ) or not timedelta(0) <= now - self.at <= timedelta(seconds=RECEIPT_CHECK_VALID_S):
            return None
        if isinstance(self.outcome, VerifiedReceipt):
            return self.outcome
        raise self.outcome


def check_receipt(
    conn: sqlite3.Connection,
    clock: PortalClock,
    activation_id: str,
    body: dict[str, Any],
    trust: Sequence[str | Path] = (),
) -> ReceiptCheck | None:
    """Verify a completion's receipt outside the write transaction (the chain validation
    is most of the request's work; the database's write lock is not held meanwhile).
    ``complete_activation`` takes its outcome if the card still names the same holder;
    None when there is nothing to check yet (it then refuses or checks by itself)."""
    activation = conn.execute(
        "SELECT card_number FROM activations WHERE id = ?", (activation_id,)
    ).fetchone()
    if activation is None:
        return None
    card = conn.execute(
        "SELECT hsa_id, personnummer FROM cards WHERE card_number = ?",
        (activation["card_number"],),
    ).fetchone()
    try:
        blobs = _receipt_blobs(body)
    except ApiError:
        return None
    if card is None:
        return None
    now = clock.now()
    outcome: VerifiedReceipt | ReceiptInvalid | ReceiptTrustUnavailable
    try:
        outcome = verify_receipt(*blobs, card["hsa_id"], card["personnummer"], now, trust)
    except (ReceiptInvalid, ReceiptTrustUnavailable) as exc:
        outcome = exc
    return ReceiptCheck(card["hsa_id"], card["personnummer"], blobs, now, outcome)


def _receipt_blobs(body: dict[str, Any]) -> tuple[bytes, bytes, bytes]:
    return _decode(body, "receipt"), _decode(body, "signature"), _decode(body, "certificate")


def complete_activation(
    conn: sqlite3.Connection,
    clock: PortalClock,
    activation_id: str,
    body: dict[str, Any],
    kiosk: Kiosk,
    trust: Sequence[str | Path] = (),
    checked: ReceiptCheck | None = None,
) -> dict[str, Any]:
    """Verify the holder's signed receipt (its certificate validated to a root in the
    ``trust`` files, revocation included) and make the card Aktiv (only a kiosk of the
    card office that started the activation may complete it). ``checked``: the receipt
    as ``check_receipt`` verified it just before, taken if it still applies."""
    now = clock.now()
    activation = conn.execute(
        "SELECT * FROM activations WHERE id = ?", (activation_id,)
    ).fetchone()
    if activation is None or activation["kind"] != "activation":
        raise ApiError(404, "activation_not_found", f"no activation {activation_id}")
    if activation["card_office"] != kiosk.card_office:
        raise _outside_remit(f"activation {activation_id}")
    card = enforce_deadlines(conn, _card_row(conn, activation["card_number"]), now)
    if card["status"] == "Aktiv":
        raise ApiError(409, "already_active", "the card is already active")
    if card["status"] == "Spärrad":
        raise _blocked_error(card)
    if activation["state"] != "started":
        raise ApiError(409, "activation_superseded", "a newer activation of this card exists")
    blobs = _receipt_blobs(body)
    receipt = blobs[0]
    try:
        verified = checked.result(card, blobs, now) if checked is not None else None
        if verified is None:
            verified = verify_receipt(
                *blobs, card["hsa_id"], card["personnummer"], now, trust
            )
    except ReceiptInvalid as exc:
        # not knowing whether a certificate is revoked is the portal's state, not the receipt's
        status = 503 if exc.reason in TRANSIENT_RECEIPT_REASONS else 422
        raise ApiError(status, exc.reason, exc.detail) from exc
    except ReceiptTrustUnavailable as exc:
        raise ApiError(
            503, "receipt_trust_unavailable",
            "the portal cannot verify receipts now; the request can be retried",
        ) from exc
    conn.execute(
        "UPDATE activations SET state = 'completed', completed_at = ?, receipt_sha256 = ?, "
        "signer = ? WHERE id = ?",
        (iso(now), hashlib.sha256(receipt).hexdigest(), verified.signer_subject, activation_id),
    )
    conn.execute(
        "UPDATE cards SET status = 'Aktiv', activated_at = ? WHERE card_number = ?",
        (iso(now), card["card_number"]),
    )
    record_event(
        conn, now, card["card_number"], "activated", activation["admin_hsa_id"],
        f"{activation_id} {verified.algorithm}",
    )
    return card_json(_card_row(conn, card["card_number"]))


def start_unlock(
    conn: sqlite3.Connection,
    clock: PortalClock,
    card_number: str,
    body: dict[str, Any],
    kiosk: Kiosk,
    trust: Sequence[str | Path] = (),
) -> dict[str, Any]:
    """Hand out the unlock credential of an active card after an ID check (``purpose``
    unlock), or for its first signature PIN (``signature_pin``, named by the statement)."""
    now = clock.now()
    card = enforce_deadlines(conn, _card_row(conn, card_number), now)
    if card["status"] == "Spärrad":
        raise ApiError(409, "blocked", "the card is blocked (Spärrad)")
    if card["status"] != "Aktiv":
        raise ApiError(422, "not_eligible", "only an active card can be unlocked")
    admin = str(body["admin_hsa_id"])
    require_authorised_admin(conn, admin, now.date(), kiosk)
    check_evidence(body["evidence"], card, now.date())
    signature_pin = body["purpose"] == "signature_pin"  # UnlockRequest defaults to unlock
    check_statement(conn, trust, "unlock", card, body, kiosk, now,
                    reason="signature_pin" if signature_pin else None)
    deadline = now + UNLOCK_WINDOW
    unlock_id = _insert_ticket(conn, card_number, "unlock", "issued", admin, now, deadline, body,
                               kiosk)
    event = "signature_pin_issued" if signature_pin else "unlock_issued"
    record_event(conn, now, card_number, event, admin, unlock_id)
    return _ticket(unlock_id, card, "unlock", now, deadline)


def block(
    conn: sqlite3.Connection,
    clock: PortalClock,
    card_number: str,
    body: dict[str, Any],
    kiosk: Kiosk,
    trust: Sequence[str | Path] = (),
) -> dict[str, Any]:
    """Block (spärra) a card; blocking a blocked card changes nothing. A lost card may be
    blocked from any card office, by an administrator of the calling kiosk's office."""
    now = clock.now()
    card = _card_row(conn, card_number)
    admin = str(body["admin_hsa_id"])
    require_authorised_admin(conn, admin, now.date(), kiosk)
    check_statement(conn, trust, "block", card, body, kiosk, now, str(body["reason"]))
    if card["status"] != "Spärrad":
        block_row(conn, card_number, str(body["reason"]), now, admin)
    return card_json(_card_row(conn, card_number), full_personnummer=False)


def heartbeat(
    conn: sqlite3.Connection, clock: PortalClock, body: dict[str, Any], kiosk: Kiosk
) -> dict[str, Any]:
    """Store a kiosk's heartbeat under the calling kiosk's id (a body naming another
    kiosk is refused)."""
    now = clock.now()
    claimed = body.get("kiosk_id")
    if claimed is not None and claimed != kiosk.kiosk_id:
        raise ApiError(
            403, "kiosk_mismatch", f"this certificate is kiosk {kiosk.kiosk_id}, not {claimed}"
        )
    body = {**body, "kiosk_id": kiosk.kiosk_id}
    conn.execute(
        "INSERT INTO heartbeats(kiosk_id, at, body) VALUES (?, ?, ?)",
        (kiosk.kiosk_id, iso(now), json.dumps(body, sort_keys=True)),
    )
    head = body.get("audit_head")
    if isinstance(head, dict):
        anchor_audit_head(conn, kiosk, head, now)
    return {"kiosk_id": kiosk.kiosk_id, "received_at": iso(now)}


def anchor_audit_head(
    conn: sqlite3.Connection, kiosk: Kiosk, head: dict[str, Any], now: datetime
) -> None:
    """Keep the kiosk's newest audit head; an older one than kept (a log cut back and a
    head replayed) is not kept but recorded as an event."""
    kept = conn.execute(
        "SELECT seq FROM audit_heads WHERE kiosk_id = ?", (kiosk.kiosk_id,)
    ).fetchone()
    seq = int(head["seq"])
    if kept is not None and seq < int(kept["seq"]):
        record_event(conn, now, None, "audit_head_regressed", kiosk.kiosk_id,
                     f"sent {seq}, kept {kept['seq']}")
        return
    conn.execute(
        "INSERT INTO audit_heads(kiosk_id, seq, head, received_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(kiosk_id) DO UPDATE SET seq = excluded.seq, head = excluded.head, "
        "received_at = excluded.received_at",
        (kiosk.kiosk_id, seq, json.dumps(head, sort_keys=True), iso(now)),
    )


def audit_head(conn: sqlite3.Connection, kiosk: Kiosk) -> dict[str, Any]:
    """The newest audit head kept for the calling kiosk."""
    row = conn.execute(
        "SELECT head, received_at FROM audit_heads WHERE kiosk_id = ?", (kiosk.kiosk_id,)
    ).fetchone()
    if row is None:
        raise ApiError(404, "audit_head_not_found", "no audit head was sent by this kiosk yet")
    return {"kiosk_id": kiosk.kiosk_id, "head": json.loads(row["head"]),
            "received_at": row["received_at"]}


def new_credential() -> str:
    """A fresh 8-digit card credential for cards that are not part of the demo cast."""
    return f"{secrets.randbelow(10**8):08d}"
