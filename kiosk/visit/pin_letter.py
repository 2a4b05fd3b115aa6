"""The PIN/PUK letter visit: a holder who lost their codes orders a letter after an ID check.

The letter goes to the holder's registered (folkbokförings-) address. The order is a
result like every other: committed to the outbox with its idempotency key before the
holder is told, then sent to the portal (at once, or by the outbox when it answers).
Nothing is written to the card.
"""

from __future__ import annotations

import json

from kiosk.document.evidence import evidence_summary
from kiosk.model import AdminAuthorisation, VisitKind
from kiosk.settings import Settings
from kiosk.visit.contract import Step
from kiosk.visit.document_step import DocumentStep
from kiosk.visit.flow import VisitFlow
from kiosk.visit.result_step import ResultStep
from kiosk.visit.stages import Stage, present


class PinLetterFlow(VisitFlow):
    """Order a PIN/PUK letter: card, record, ID document, order (outbox), sync."""

    kind = VisitKind.PIN_LETTER

    def __init__(self, admin: AdminAuthorisation, settings: Settings, visit_id: str) -> None:
        super().__init__(admin, settings, visit_id)
        self.document: DocumentStep = DocumentStep(settings.document_rules)
        self.results = ResultStep(sync=True)  # the order is sent at once, else by the outbox

    def on_record_accepted(self) -> Step:
        return self.show(Stage.DOCUMENT_SCAN)

    def on_document_accepted(self) -> Step:
        evidence = present(self.document.evidence, "document")
        payload = {
            # what the portal checks the order by (no full personnummer or number)
            "evidence": json.dumps(evidence_summary(evidence, suffixes=True), sort_keys=True),
            **self.document.result_fields(self.today()),
        }
        return self.results.record("pin_letter", payload, self)
