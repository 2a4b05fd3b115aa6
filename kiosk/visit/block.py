"""The block visit: a lost card is blocked (spärrat) at once, by number or inserted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.errors import InvalidInput, KioskError, PortalError, PortalRejected
from kiosk.model import CardRecord, VisitKind
from kiosk.visit.base import Effect, Event, Step, View, ViewName
from kiosk.visit.effects import EffectKind
from kiosk.visit.flow import Handler, Progress, Stage, VisitFlow

BLOCK_REASONS: tuple[str, ...] = (
    "lost",
    "stolen",
    "damaged",
    "left_employment",
    "wrongly_activated",
    "other",
)


class BlockFlow(VisitFlow):
    """Block a Skickad or Aktiv card; if the portal is down the block is queued, not lost."""

    kind = VisitKind.BLOCK
    needs_card_in_reader = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reason: str | None = None
        self.done_message: str | None = None

    def can_type_number(self) -> bool:
        return True  # a lost card is not at hand

    def transitions(self) -> dict[tuple[Stage, str], Handler]:
        return {
            **super().transitions(),
            (Stage.BLOCK_REASON, "block_reason"): self.on_reason,
            (Stage.BLOCK_CONFIRM, "confirm"): self.on_confirm,
            (Stage.BLOCK_CONFIRM, "back"): lambda e: self.show(Stage.BLOCK_REASON),
        }

    def success_handlers(self) -> dict[str, Callable[[Any], Step]]:
        return {**super().success_handlers(), EffectKind.BLOCK_CARD: self.on_blocked}

    def on_record_accepted(self, event: Event) -> Step:
        return self.show(Stage.BLOCK_REASON)

    def on_reason(self, event: Event) -> Step:
        reason = event.data.get("reason")
        if reason not in BLOCK_REASONS:
            raise InvalidInput("unknown block reason", field="reason")
        self.reason = str(reason)
        return self.show(Stage.BLOCK_CONFIRM)

    def idempotency_key(self) -> str:
        """One key for the portal call and the outbox entry: a queued block repeats it."""
        return f"{self.visit_id}:block"

    def on_confirm(self, event: Event) -> Step:
        return self.run(
            Stage.BLOCKING,
            Effect(
                EffectKind.BLOCK_CARD,
                {
                    "card_number": self.card_number,
                    "admin_hsa_id": self.admin.hsa_id,
                    "reason": self.reason,
                    "idempotency_key": self.idempotency_key(),
                },
            ),
        )

    def on_blocked(self, record: Any) -> Step:
        status = record.status.value if isinstance(record, CardRecord) else ""
        self.done_message = "visit.done.block"
        return self.record_result(
            self.make_result(
                "block", {"reason": self.reason or "", "synced": "yes", "status": status}
            )
        )

    def on_failure(self, effect: Effect, error: KioskError) -> Step:
        if effect.kind == EffectKind.BLOCK_CARD:
            if isinstance(error, PortalRejected) or not isinstance(error, PortalError):
                return self.abort(error)
            self.done_message = "visit.done.block.queued"
            return self.record_result(
                self.make_result("block", {"reason": self.reason or "", "synced": "no"})
            )
        return super().on_failure(effect, error)

    def on_recorded(self, outbox_id: Any) -> Step:
        self.progress = Progress.RECORDED
        return self.done(self.done_message)

    def extra_view(self, stage: Stage, error: Any) -> View | None:
        if stage is Stage.BLOCK_REASON:
            return View(
                ViewName.BLOCK_REASON,
                self.title(),
                "visit.block.reason",
                {**self.record_params(), "reasons": BLOCK_REASONS},
                error,
                (*BLOCK_REASONS, "cancel"),
            )
        if stage is Stage.BLOCK_CONFIRM:
            return View(
                ViewName.BLOCK_CONFIRM,
                self.title(),
                "visit.block.confirm",
                {**self.record_params(), "reason": self.reason},
                error,
                ("confirm", "back", "cancel"),
            )
        return None
