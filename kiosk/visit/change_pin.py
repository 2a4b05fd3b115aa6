"""The PIN change visit: the holder types the current PIN, then a new one twice."""

from __future__ import annotations

from kiosk.errors import KioskError, PinLocked, WrongPin
from kiosk.model import AdminAuthorisation, VisitKind
from kiosk.settings import Settings
from kiosk.visit.contract import Step
from kiosk.visit.effects import ChangePin, Effect
from kiosk.visit.events import Outcome, PinChanged, PinSubmit
from kiosk.visit.flow import VisitFlow
from kiosk.visit.pin_entry import PinEntry
from kiosk.visit.stages import Progress, Stage, Transitions


class ChangePinFlow(VisitFlow):
    """Change the PIN of an Aktiv card; no ID check: the holder proves the current PIN."""

    kind = VisitKind.CHANGE_PIN

    def __init__(self, admin: AdminAuthorisation, settings: Settings, visit_id: str) -> None:
        super().__init__(admin, settings, visit_id)
        self.pins = PinEntry(settings.pin_policy, pad={Stage.PIN_CURRENT: ChangePin})

    def transitions(self) -> Transitions:
        return self.pins.routes(super().transitions(), self).on(
            Stage.PIN_CURRENT, PinSubmit, lambda _: self.on_current_submitted()
        )

    def on_success(self, outcome: Outcome) -> Step:
        if isinstance(outcome, PinChanged):
            return self.on_changed()
        return super().on_success(outcome)

    def on_record_accepted(self) -> Step:
        return self.enter_pin_stage(Stage.PIN_CURRENT)

    def on_current_submitted(self) -> Step:
        self.pins.require_full(self.pins.current)
        self.pins.new.clear()
        return self.show(Stage.PIN_CHOOSE)

    def on_pin_confirmed(self) -> Step:
        self.progress = Progress.WRITING
        return self.run(Stage.WRITING, self.pin_effect(ChangePin))

    def on_changed(self) -> Step:
        self.wipe()
        return self.results.record("change_pin", {}, self)

    def on_failure(self, effect: Effect, error: KioskError) -> Step:
        if isinstance(effect, ChangePin) and isinstance(error, WrongPin):
            self.progress = Progress.NOTHING  # the card refused: its PIN is unchanged
            for buffer in (self.pins.current, self.pins.new, self.pins.confirmation):
                buffer.clear()
            return self.show(Stage.PIN_CURRENT, error)
        if isinstance(error, PinLocked):
            return self.abort(error)
        return super().on_failure(effect, error)
