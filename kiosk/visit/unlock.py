"""The PIN unlock visit: an Aktiv card with a locked PIN gets a new PIN after an ID check."""

from __future__ import annotations

from kiosk.model import AdminAuthorisation, VisitKind
from kiosk.settings import Settings
from kiosk.visit.contract import Step
from kiosk.visit.document_step import DocumentStep
from kiosk.visit.effects import StartUnlock, UnlockPin
from kiosk.visit.events import Outcome, PinUnlocked, TicketIssued
from kiosk.visit.flow import VisitFlow
from kiosk.visit.pin_entry import PinEntry
from kiosk.visit.stages import Progress, Stage, Transitions


class UnlockFlow(VisitFlow):
    """Unlock a locked PIN: document check, unlock credential, new PIN twice, unlock."""

    kind = VisitKind.UNLOCK

    def __init__(self, admin: AdminAuthorisation, settings: Settings, visit_id: str) -> None:
        super().__init__(admin, settings, visit_id)
        self.document: DocumentStep = DocumentStep(settings.document_rules)
        self.pins = PinEntry(settings.pin_policy, pad={Stage.PIN_CHOOSE: UnlockPin})

    def transitions(self) -> Transitions:
        return self.pins.routes(super().transitions(), self)

    def on_success(self, outcome: Outcome) -> Step:
        match outcome:
            case TicketIssued():  # the portal started it: the holder chooses a PIN
                self.ticket.issued(outcome.ticket)
                self.progress = Progress.STARTED
                return self.enter_pin_stage(Stage.PIN_CHOOSE)
            case PinUnlocked():
                return self.on_unlocked()
        return super().on_success(outcome)

    def on_record_accepted(self) -> Step:
        return self.show(Stage.DOCUMENT_SCAN)

    def on_document_accepted(self) -> Step:
        request = self.ticket.request(StartUnlock, self.card.number, self.document.evidence)
        return self.run(Stage.STARTING, request)

    def on_pin_confirmed(self) -> Step:
        self.progress = Progress.WRITING
        return self.run(Stage.WRITING, self.pin_effect(UnlockPin))

    def on_unlocked(self) -> Step:
        self.wipe()
        payload = {"unlock_id": self.ticket.id or "", **self.document.result_fields(self.today())}
        return self.results.record("unlock", payload, self)
