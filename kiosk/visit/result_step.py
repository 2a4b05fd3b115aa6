"""The result step: a part of every visit, its result, its receipt and its DONE screen.

``ResultStep.record`` makes the visit's result (kiosk/visit/result.py) and asks the outbox
to commit it before anyone is told the visit is done; the visits that send it on at once
(``sync``) then send it to the portal, and a failed send ends on DONE all the same
(queued, or rejected), since the result is durable. The receipt (kvittens) is what the
holder reads on the SIGN_RECEIPT screen and signs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from kiosk.errors import KioskError
from kiosk.i18n import DEFAULT_LANGUAGE, catalog
from kiosk.model import AdminAuthorisation, VisitKind, VisitResult
from kiosk.visit.card_step import CardStep
from kiosk.visit.contract import Param, Step, View, ViewName
from kiosk.visit.effects import Effect, RecordResult, SyncResult
from kiosk.visit.errorview import error_view
from kiosk.visit.result import make_result, receipt_bytes, receipt_fields, sync_failed_message
from kiosk.visit.stages import Progress, Stage, present
from kiosk.visit.ticket import PortalTicket


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
        message = message or self.message or f"visit.done.{host.kind.value}"
        # the mark and status only for an outcome that has one ("visit.done.block" has,
        # "visit.done.block.queued" and "visit.done.activation.not_active" have none)
        status = "visit.done.status." + message.removeprefix("visit.done.")
        if status in catalog(DEFAULT_LANGUAGE) and error is None:
            params["card_status"] = status  # what the visit is for
        params["take_card"] = host.card.inserted  # "Ta ut kortet" while it is in the reader
        view = View(
            ViewName.DONE, host.title(), message, params,
            error_view(error) if error else None,
        )
        return host.end(view)
