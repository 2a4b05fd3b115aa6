"""The PIN unlock visit: an Aktiv card with a locked PIN gets a new PIN after an ID check."""

from __future__ import annotations

from kiosk.model import VisitKind
from kiosk.visit.base import Step
from kiosk.visit.document_step import DocumentCheckedFlow
from kiosk.visit.effects import PinEffect, StartUnlock, UnlockPin
from kiosk.visit.events import Outcome, PinUnlocked, TicketIssued
from kiosk.visit.flow import Progress, Stage, Transitions


class UnlockFlow(DocumentCheckedFlow):
    """Unlock a locked PIN: document check, unlock credential, new PIN twice, unlock."""

    kind = VisitKind.UNLOCK

    def transitions(self) -> Transitions:
        return self.with_pin_choice(super().transitions())

    def on_success(self, outcome: Outcome) -> Step:
        match outcome:
            case TicketIssued():
                return self.on_ticket(outcome.ticket)
            case PinUnlocked():
                return self.on_unlocked()
        return super().on_success(outcome)

    def pad_effects(self) -> dict[Stage, type[PinEffect]]:
        return {Stage.PIN_CHOOSE: UnlockPin}

    def on_document_accepted(self) -> Step:
        return self.start_ticket(StartUnlock)

    def on_pin_confirmed(self) -> Step:
        self.progress = Progress.WRITING
        return self.run(Stage.WRITING, self.pin_effect(UnlockPin))

    def on_unlocked(self) -> Step:
        self.wipe()
        summary = self.evidence_summary()
        return self.record_result(
            self.make_result(
                "unlock",
                {
                    "unlock_id": self.activation_id or "",
                    "document_type": summary["doc_type"],
                    "document_expiry": summary["expiry"],
                    "document_how": summary["how"],
                },
            )
        )
