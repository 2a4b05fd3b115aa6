"""A part of every visit that changes a card: its result for the outbox, and its receipt.

The result never carries a PIN or credential; its idempotency key derives from the visit
id (``<visit_id>:<suffix>``), so a retried or queued send is the same send.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime

from kiosk.errors import KioskError, PortalRejected
from kiosk.i18n import LANGUAGES, translate
from kiosk.model import VisitKind, VisitResult


def make_result(
    kind: VisitKind,
    visit_id: str,
    key_suffix: str,
    card_number: str,
    admin_hsa_id: str,
    at: datetime,
    payload: dict[str, str],
    deadline: datetime | None,
) -> VisitResult:
    """The visit's outcome for the outbox (never a PIN or credential)."""
    return VisitResult(
        kind=kind,
        card_number=card_number,
        admin_hsa_id=admin_hsa_id,
        idempotency_key=f"{visit_id}:{key_suffix}",
        finished_at=at,
        payload={"visit_id": visit_id, **payload},
        deadline=deadline,
    )


RECEIPT_TEXT = "visit.receipt.text"  # what the holder accepts, in words (kiosk/locale)
RECEIPT_HEADER = "SITHS kvittens / receipt"


def _one_line(value: str | None) -> str:
    """A receipt field on one line: no newline or control character can add a line."""
    return " ".join("".join(c if c.isprintable() else " " for c in value or "").split())


def receipt_fields(
    card_number: str | None,
    activation_id: str | None,
    holder_name: str,
    holder_hsa_id: str,
    admin_name: str,
    admin_hsa_id: str,
    deadline: datetime | None,
) -> dict[str, str]:
    """What the receipt says, each on one line: the screen shows it, the holder signs it."""
    raw = {
        "card_number": card_number, "activation_id": activation_id,
        "holder_name": holder_name, "holder_hsa_id": holder_hsa_id,
        "admin_name": admin_name, "admin_hsa_id": admin_hsa_id,
        "deadline": deadline.isoformat() if deadline else "",
    }
    return {name: _one_line(value) for name, value in raw.items()}


def receipt_text(fields: Mapping[str, str], lang: str) -> str:
    """What the holder accepts, in words, in ``lang``: the text shown before they sign and
    signed, word for word, in every language (``receipt_bytes``)."""
    return translate(RECEIPT_TEXT, lang, **fields)


def receipt_bytes(fields: Mapping[str, str]) -> bytes:
    """The receipt (kvittens) the holder signs: the text they were shown in every language,
    then the same facts as lines a machine reads (card, activation, holder, admin, time)."""
    lines = [
        RECEIPT_HEADER,
        *(receipt_text(fields, lang) for lang in LANGUAGES),
        f"card={fields['card_number']}",
        f"activation={fields['activation_id']}",
        f"holder={fields['holder_hsa_id']}",
        f"admin={fields['admin_hsa_id']}",
        f"deadline={fields['deadline']}",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def sync_failed_message(kind: VisitKind, error: KioskError) -> tuple[str, KioskError | None]:
    """The DONE message after a sync failure: rejected, or queued (the result is durable)."""
    if isinstance(error, PortalRejected):
        return f"visit.done.{kind.value}.rejected", error
    return f"visit.done.{kind.value}.queued", None


def b64(data: bytes) -> str:
    """Bytes as base64 text for a result payload."""
    return base64.b64encode(data).decode("ascii")
