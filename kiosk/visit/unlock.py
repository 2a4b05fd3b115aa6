"""The PIN unlock visit: an Aktiv card with a locked PIN gets a new PIN after an ID check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.model import VisitKind
from kiosk.visit.base import Step
from kiosk.visit.document_step import DocumentCheckedFlow
from kiosk.visit.effects import EffectKind
from kiosk.visit.flow import Handler, Progress, Stage


class UnlockFlow(DocumentCheckedFlow):
    """Unlock a locked PIN: document check, unlock credential, new PIN twice, unlock."""

    kind = VisitKind.UNLOCK

    def transitions(self) -> dict[tuple[Stage, str], Handler]:
        return {**super().transitions(), **self.pin_transitions()}

    def success_handlers(self) -> dict[str, Callable[[Any], Step]]:
        return {
            **super().success_handlers(),
            EffectKind.START_UNLOCK: self.on_ticket,
            EffectKind.UNLOCK_PIN: self.on_unlocked,
        }

    def pad_effects(self) -> dict[Stage, EffectKind]:
        return {Stage.PIN_CHOOSE: EffectKind.UNLOCK_PIN}

    def on_document_accepted(self) -> Step:
        return self.start_ticket(EffectKind.START_UNLOCK)

    def on_pin_confirmed(self) -> Step:
        self.progress = Progress.WRITING
        return self.run(Stage.WRITING, self.pin_effect(EffectKind.UNLOCK_PIN))

    def on_unlocked(self, _: Any) -> Step:
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
