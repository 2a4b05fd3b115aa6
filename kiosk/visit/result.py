"""A part of every visit that changes a card: its result for the outbox, and its receipt.

The result never carries a PIN or credential; its idempotency key derives from the visit
id (``<visit_id>:<suffix>``), so a retried or queued send is the same send.
"""

from __future__ import annotations

import base64
from datetime import datetime

from kiosk.errors import KioskError, PortalRejected
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


def receipt_bytes(
    card_number: str | None,
    activation_id: str | None,
    holder_hsa_id: str,
    admin_hsa_id: str,
    deadline: datetime | None,
) -> bytes:
    """The receipt (kvittens) the holder signs: card, activation, holder, time."""
    stamp = deadline.isoformat() if deadline else ""
    text = (
        "SITHS kvittens / receipt\n"
        f"card={card_number}\nactivation={activation_id}\n"
        f"holder={holder_hsa_id}\nadmin={admin_hsa_id}\ndeadline={stamp}\n"
    )
    return text.encode("utf-8")


def sync_failed_message(kind: VisitKind, error: KioskError) -> tuple[str, KioskError | None]:
    """The DONE message after a sync failure: rejected, or queued (the result is durable)."""
    if isinstance(error, PortalRejected):
        return f"visit.done.{kind.value}.rejected", error
    return f"visit.done.{kind.value}.queued", None


def b64(data: bytes) -> str:
    """Bytes as base64 text for a result payload."""
    return base64.b64encode(data).decode("ascii")
