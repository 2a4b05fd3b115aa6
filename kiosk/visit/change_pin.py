"""The PIN change visit: the card checks the current PIN first, then the holder chooses a
new one (twice) and the kiosk writes it.

The current PIN is checked on the card (``VerifyPin``: a login that changes nothing) as
soon as it is typed, before the new one is asked for. A wrong one is told at once, with
the tries left when the card reports them, and typed again; a locked one ends the visit
(the next step: a PIN unlock visit with an ID administrator). With the reader's own pad
the reader asks the current PIN for the check, and then C_SetPIN asks it once more with
the new one twice: the kiosk never holds a PIN.

The write checks the current PIN again (C_SetPIN). A PIN changed between the check and
the write (elsewhere, or on the reader's pad) is refused there: nothing is written, and
the holder types the current PIN again, told that the PIN is unchanged. A card pulled
during the write ends the visit with what to try (the new PIN, else the old one).
"""

from __future__ import annotations

from dataclasses import replace

from kiosk.errors import KioskError, PinLocked, WrongPin
from kiosk.model import AdminAuthorisation, VisitKind
from kiosk.settings import Settings
from kiosk.visit.contract import ErrorView, Step, View
from kiosk.visit.effects import ChangePin, Effect, VerifyPin
from kiosk.visit.events import Outcome, PinChanged, PinSubmit, PinVerified
from kiosk.visit.flow import VisitFlow
from kiosk.visit.pin_entry import PinEntry
from kiosk.visit.stages import Progress, Stage, Transitions

# The wrong PIN's text when the write (not the check) found it wrong: the PIN is unchanged.
# In the error itself, which every panel shows (the 7" one shows it instead of the message).
REFUSED_AT_WRITE = "error.wrong_pin.at_write"


class ChangePinFlow(VisitFlow):
    """Change the PIN of an Aktiv card; no ID check: the holder proves the current PIN."""

    kind = VisitKind.CHANGE_PIN

    def __init__(self, admin: AdminAuthorisation, settings: Settings, visit_id: str) -> None:
        super().__init__(admin, settings, visit_id)
        self.pins = PinEntry(
            settings.pin_policy, pad={Stage.PIN_CURRENT: VerifyPin, Stage.PIN_CHOOSE: ChangePin}
        )
        self.refused_at_write = False  # the write found the current PIN wrong

    def transitions(self) -> Transitions:
        return self.pins.routes(super().transitions(), self).on(
            Stage.PIN_CURRENT, PinSubmit, lambda _: self.on_current_submitted()
        )

    def on_success(self, outcome: Outcome) -> Step:
        match outcome:
            case PinVerified():
                return self.on_current_verified()
            case PinChanged():
                return self.on_changed()
        return super().on_success(outcome)

    def on_record_accepted(self) -> Step:
        return self.enter_pin_stage(Stage.PIN_CURRENT)

    def on_current_submitted(self) -> Step:
        """The current PIN typed on the screen: the card checks it before anything else."""
        self.pins.require_full(self.pins.current)
        return self.run(Stage.LOGGING_IN, self.pin_effect(VerifyPin))

    def on_current_verified(self) -> Step:
        """The card took the current PIN: now the new one (on the reader's pad: the change)."""
        self.refused_at_write = False
        self.pins.new.clear()
        return self.enter_pin_stage(Stage.PIN_CHOOSE)

    def on_pin_confirmed(self) -> Step:
        self.progress = Progress.WRITING
        return self.run(Stage.WRITING, self.pin_effect(ChangePin))

    def on_changed(self) -> Step:
        self.wipe()
        return self.results.record("change_pin", {}, self)

    def on_failure(self, effect: Effect, error: KioskError) -> Step:
        if isinstance(effect, VerifyPin | ChangePin) and isinstance(error, WrongPin | PinLocked):
            self.progress = Progress.NOTHING  # the card refused: its PIN is unchanged
            for buffer in (self.pins.current, self.pins.new, self.pins.confirmation):
                buffer.clear()
            if isinstance(error, PinLocked):
                return self.abort(error)  # next step: a PIN unlock visit
            self.refused_at_write = isinstance(effect, ChangePin)
            return self.show(Stage.PIN_CURRENT, error)
        if isinstance(error, PinLocked):
            return self.abort(error)
        return super().on_failure(effect, error)

    def stage_view(self, stage: Stage, error: BaseException | None = None) -> View:
        view = super().stage_view(stage, error)
        shown: ErrorView | None = view.error
        if stage is Stage.PIN_CURRENT and self.refused_at_write and shown is not None:
            if shown.code == WrongPin.code:
                view = replace(view, error=replace(shown, message=REFUSED_AT_WRITE))
        return view
