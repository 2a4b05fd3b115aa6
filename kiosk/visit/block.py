"""The block visit: a lost card is blocked (spärrat) at once, by number or inserted."""

from __future__ import annotations

from kiosk.errors import InvalidInput, KioskError, PortalError, PortalRejected
from kiosk.model import AdminAuthorisation, CardRecord, VisitKind
from kiosk.settings import Settings
from kiosk.visit.card_step import CardStep
from kiosk.visit.contract import ErrorView, Step, View, ViewName
from kiosk.visit.effects import BlockCard, Effect
from kiosk.visit.events import Back, BlockReasonChosen, CardBlocked, Confirm, Outcome
from kiosk.visit.flow import VisitFlow
from kiosk.visit.stages import Stage, Transitions, present

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

    def __init__(self, admin: AdminAuthorisation, settings: Settings, visit_id: str) -> None:
        super().__init__(admin, settings, visit_id)
        self.card = CardStep(settings.card_rules, card_at_hand=False)  # a lost card
        self.reason: str | None = None

    def transitions(self) -> Transitions:
        return (
            super().transitions()
            .on(Stage.BLOCK_REASON, BlockReasonChosen, self.on_reason)
            .on(Stage.BLOCK_CONFIRM, Confirm, lambda _: self.on_confirm())
            .on(Stage.BLOCK_CONFIRM, Back, lambda _: self.show(Stage.BLOCK_REASON))
        )

    def on_success(self, outcome: Outcome) -> Step:
        if isinstance(outcome, CardBlocked):
            return self.on_blocked(outcome.record)
        return super().on_success(outcome)

    def on_record_accepted(self) -> Step:
        return self.show(Stage.BLOCK_REASON)

    def on_reason(self, event: BlockReasonChosen) -> Step:
        if event.reason not in BLOCK_REASONS:
            raise InvalidInput("unknown block reason", field="reason")
        self.reason = event.reason
        return self.show(Stage.BLOCK_CONFIRM)

    def idempotency_key(self) -> str:
        """One key for the portal call and the outbox entry: a queued block repeats it."""
        return f"{self.visit_id}:block"

    def on_confirm(self) -> Step:
        effect = BlockCard(
            present(self.card.number, "card number"),
            self.admin.hsa_id,
            present(self.reason, "block reason"),
            self.idempotency_key(),
        )
        return self.run(Stage.BLOCKING, effect)

    def on_blocked(self, record: CardRecord) -> Step:
        status = record.status.value
        self.results.message = "visit.done.block"
        payload = {"reason": self.reason or "", "synced": "yes", "status": status}
        return self.results.record("block", payload, self)

    def on_failure(self, effect: Effect, error: KioskError) -> Step:
        if isinstance(effect, BlockCard):
            if isinstance(error, PortalRejected) or not isinstance(error, PortalError):
                return self.abort(error)
            self.results.message = "visit.done.block.queued"
            payload = {"reason": self.reason or "", "synced": "no"}
            return self.results.record("block", payload, self)
        return super().on_failure(effect, error)

    def extra_view(self, stage: Stage, error: ErrorView | None) -> View | None:
        if stage is Stage.BLOCK_REASON:
            return View(
                ViewName.BLOCK_REASON,
                self.title(),
                "visit.block.reason",
                {**self.card.record_params(self.at()), "reasons": BLOCK_REASONS},
                error,
                (*BLOCK_REASONS, "cancel"),
            )
        if stage is Stage.BLOCK_CONFIRM:
            return View(
                ViewName.BLOCK_CONFIRM,
                self.title(),
                "visit.block.confirm",
                {**self.card.record_params(self.at()), "reason": self.reason},
                error,
                ("confirm", "back", "cancel"),
            )
        return None
