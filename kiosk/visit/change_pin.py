"""The PIN change visit: the holder types the current PIN, then a new one twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.errors import KioskError, PinLocked, WrongPin
from kiosk.model import VisitKind
from kiosk.visit.base import Effect, Event, Step
from kiosk.visit.effects import EffectKind
from kiosk.visit.flow import Handler, Progress, Stage, VisitFlow


class ChangePinFlow(VisitFlow):
    """Change the PIN of an Aktiv card; no ID check: the holder proves the current PIN."""

    kind = VisitKind.CHANGE_PIN

    def transitions(self) -> dict[tuple[Stage, str], Handler]:
        return {
            **super().transitions(),
            **self.pin_transitions(),
            (Stage.PIN_CURRENT, "pin_submit"): self.on_current_submitted,
        }

    def success_handlers(self) -> dict[str, Callable[[Any], Step]]:
        return {**super().success_handlers(), EffectKind.CHANGE_PIN: self.on_changed}

    def pad_effects(self) -> dict[Stage, EffectKind]:
        return {Stage.PIN_CURRENT: EffectKind.CHANGE_PIN}

    def on_record_accepted(self, event: Event) -> Step:
        return self.enter_pin_stage(Stage.PIN_CURRENT)

    def on_current_submitted(self, event: Event) -> Step:
        self.require_full(self.current_pin)
        self.new_pin.clear()
        return self.show(Stage.PIN_CHOOSE)

    def on_pin_confirmed(self) -> Step:
        self.progress = Progress.WRITING
        return self.run(Stage.WRITING, self.pin_effect(EffectKind.CHANGE_PIN))

    def on_changed(self, _: Any) -> Step:
        self.wipe()
        return self.record_result(self.make_result("change_pin", {}))

    def on_failure(self, effect: Effect, error: KioskError) -> Step:
        if effect.kind == EffectKind.CHANGE_PIN and isinstance(error, WrongPin):
            self.progress = Progress.NOTHING  # the card refused: its PIN is unchanged
            for buffer in (self.current_pin, self.new_pin, self.confirm_pin):
                buffer.clear()
            return self.show(Stage.PIN_CURRENT, error)
        if isinstance(error, PinLocked):
            return self.abort(error)
        return super().on_failure(effect, error)
