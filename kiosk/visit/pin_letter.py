"""The PIN/PUK letter visit: a holder who lost their codes orders a letter after an ID check.

The letter goes to the holder's registered (folkbokförings-) address. The order is a
result like every other: committed to the outbox with its idempotency key before the
holder is told, then sent to the portal (at once, or by the outbox when it answers).
Nothing is written to the card.
"""

from __future__ import annotations

import json

from kiosk.document.evidence import evidence_summary
from kiosk.errors import KioskError
from kiosk.model import AdminAuthorisation, VisitKind
from kiosk.settings import Settings
from kiosk.visit.contract import Step
from kiosk.visit.document_step import DocumentStep
from kiosk.visit.effects import Effect, SyncResult
from kiosk.visit.events import Outcome, ResultSynced
from kiosk.visit.flow import VisitFlow
from kiosk.visit.result import sync_failed_message
from kiosk.visit.stages import Progress, Stage, Transitions, present


class PinLetterFlow(VisitFlow):
    """Order a PIN/PUK letter: card, record, ID document, order (outbox), sync."""

    kind = VisitKind.PIN_LETTER

    def __init__(self, admin: AdminAuthorisation, settings: Settings, visit_id: str) -> None:
        super().__init__(admin, settings, visit_id)
        self.document: DocumentStep = DocumentStep(settings.document_rules)

    def transitions(self) -> Transitions:
        return super().transitions()

    def on_success(self, outcome: Outcome) -> Step:
        match outcome:
            case ResultSynced():
                return self.done()
        return super().on_success(outcome)

    def on_record_accepted(self) -> Step:
        return self.show(Stage.DOCUMENT_SCAN)

    def on_document_accepted(self) -> Step:
        evidence = present(self.document.evidence, "document")
        return self.record_result(
            self.make_result(
                "pin_letter",
                {
                    # what the portal checks the order by (no full personnummer or number)
                    "evidence": json.dumps(
                        evidence_summary(evidence, suffixes=True), sort_keys=True
                    ),
                    **self.document.result_fields(self.today()),
                },
            )
        )

    def on_recorded(self) -> Step:
        self.progress = Progress.RECORDED
        return self.run(Stage.SYNCING, SyncResult(present(self.result, "result")))

    def on_failure(self, effect: Effect, error: KioskError) -> Step:
        if isinstance(effect, SyncResult):
            message, shown = sync_failed_message(self.kind, error)
            return self.done(message, shown)
        return super().on_failure(effect, error)
