"""The result step: a part of every visit, its result, its receipt and its DONE screen.

``ResultStep.record`` makes the visit's result and asks the outbox to commit it before
anyone is told the visit is done; the visits that send it on at once (``sync``) then
send it to the portal, and a failed send ends on DONE all the same (queued, or rejected),
since the result is durable. The result never carries a PIN or credential; its
idempotency key derives from the visit id (``<visit_id>:<suffix>``), so a retried or
queued send is the same send. The receipt (kvittens) is what the holder reads and signs.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from kiosk.errors import KioskError, PortalRejected
from kiosk.i18n import DEFAULT_LANGUAGE, LANGUAGES, catalog, translate
from kiosk.model import AdminAuthorisation, VisitKind, VisitResult
from kiosk.visit.card_step import CardStep
from kiosk.visit.contract import Param, Step, View, ViewName
from kiosk.visit.effects import Effect, RecordResult, SyncResult
from kiosk.visit.errorview import error_view
from kiosk.visit.stages import Progress, Stage, present
from kiosk.visit.ticket import PortalTicket


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


class ResultHost(Protocol):
    """What the result step needs from the visit it is part of."""

    kind: VisitKind
    visit_id: str
    admin: AdminAuthorisation
    progress: Progress
    card: CardStep
    ticket: PortalTicket

    def title(self) -> str:
        """The visit's title key."""
        ...

    def at(self) -> datetime:
        """The time of the latest event."""
        ...

    def run(self, stage: Stage, *effects: Effect) -> Step:
        """Enter a working ``stage`` and ask for ``effects``."""
        ...

    def fail(self, error: KioskError, *effects: Effect) -> Step:
        """Show ``error`` with retry; retry runs ``effects`` again."""
        ...

    def end(self, view: View) -> Step:
        """Finish the visit with ``view``."""
        ...


class ResultStep:
    """The visit's result: durable first, then (``sync``) sent to the portal, then DONE.

    ``message`` is the DONE message when the visit has its own (a queued block, the
    additional certificate's action); otherwise ``visit.done.<kind>``.
    """

    def __init__(self, sync: bool = False) -> None:
        self.sync = sync
        self.result: VisitResult | None = None
        self.message: str | None = None

    def record(
        self, key_suffix: str, payload: dict[str, str], host: ResultHost,
        keyed_by: str | None = None,
    ) -> Step:
        """Make the result (keyed by ``keyed_by``, else the visit id) durable before DONE."""
        self.result = make_result(
            host.kind, keyed_by or host.visit_id, key_suffix,
            present(host.card.number, "card number"), host.admin.hsa_id, host.at(), payload,
            host.ticket.deadline,
        )
        if host.progress is not Progress.RECORDED:
            host.progress = Progress.COMPLETE
        return host.run(Stage.RECORDING, RecordResult(self.result))

    def recorded(self, host: ResultHost) -> Step:
        """The result is in the outbox: send it on (``sync``), else DONE."""
        host.progress = Progress.RECORDED
        if self.sync:
            return host.run(Stage.SYNCING, SyncResult(present(self.result, "result")))
        return self.done(host)

    def failed(self, effect: Effect, error: KioskError, host: ResultHost) -> Step | None:
        """Recording failed: retry, never DONE; sending failed: DONE, queued or rejected."""
        if isinstance(effect, RecordResult):
            return host.fail(error, effect)
        if isinstance(effect, SyncResult):
            message, shown = sync_failed_message(host.kind, error)
            return self.done(host, message, shown)
        return None

    def reference(self) -> dict[str, Param]:
        """The result's idempotency key, for the administrator to quote (none before)."""
        return {"reference": self.result.idempotency_key} if self.result is not None else {}

    def receipt_fields(self, host: ResultHost) -> dict[str, str]:
        """What the receipt says: the SIGN_RECEIPT screen shows it, the signature covers it."""
        record = host.card.record
        return receipt_fields(
            host.card.number, host.ticket.id, record.holder_name if record else "",
            record.hsa_id if record else "", host.admin.name, host.admin.hsa_id,
            host.ticket.deadline,
        )

    def receipt(self, host: ResultHost) -> bytes:
        """The receipt (kvittens) the holder signs: the words they were shown, and the facts."""
        return receipt_bytes(self.receipt_fields(host))

    def done(
        self, host: ResultHost, message: str | None = None, error: KioskError | None = None
    ) -> Step:
        """The DONE screen: the outcome and what happens next."""
        params: dict[str, Param] = {
            "card_number": host.card.number, **host.ticket.params(), **self.reference()
        }
        message = message or self.message
        success = f"visit.done.{host.kind.value}"
        status = f"visit.done.status.{host.kind.value}"
        if status in catalog(DEFAULT_LANGUAGE) and error is None and message in (None, success):
            params["card_status"] = status  # what the visit is for
        params["take_card"] = host.card.inserted  # "Ta ut kortet" while it is in the reader
        view = View(
            ViewName.DONE, host.title(), message or success, params,
            error_view(error) if error else None,
        )
        return host.end(view)
