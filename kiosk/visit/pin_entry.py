"""A part of the visits that take PINs: the holder's PINs, typed on the screen or the reader.

On the screen's pad each PIN is a wipeable ``PinBuffer`` (current, new, its confirmation,
the one that signs the receipt), one digit per event; a view carries only how many are
typed. On the reader's own pad (``on_reader_pad``) the kiosk holds no PIN at all: each
PIN effect gets ``ON_READER_PAD`` and the view says where to type. The part knows the
PIN rules of kiosk.rules.pin and raises their errors; the visit decides where it goes.

A visit that takes PINs composes the part: it gives the part its reader-pad table (which
card effect each PIN stage runs at once when the reader has its own pad) and, when it sets
a new PIN, adds the part's routes (choose, then confirm) to its transitions; the part calls
back ``PinHost.on_pin_confirmed`` once the new PIN was typed twice alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Protocol

from kiosk.errors import KioskError, PinEntryCancelled, PinMismatch, PinRuleViolation
from kiosk.identity.personnummer import Personnummer
from kiosk.ports import ON_READER_PAD
from kiosk.rules.pin import broken_pin_rules
from kiosk.settings import PinPolicySettings
from kiosk.visit.card_record import holder_personnummer
from kiosk.visit.card_step import CardStep
from kiosk.visit.contract import ErrorView, Param, Step, View
from kiosk.visit.effects import PIN_EFFECTS, Effect, PinEffect
from kiosk.visit.events import PinBack, PinClear, PinDigit, PinSubmit
from kiosk.visit.secret import PinBuffer, Secret
from kiosk.visit.stages import PIN_STAGES, Stage, Transitions

# What the reader's own PIN pad refuses before the card is touched: typed again there.
PAD_REFUSALS: tuple[type[KioskError], ...] = (PinEntryCancelled, PinMismatch, PinRuleViolation)


class PinHost(Protocol):
    """What the PIN entry needs from the visit it is part of."""

    card: CardStep

    def today(self) -> date:
        """The date of the latest event."""
        ...

    def show(self, stage: Stage, error: BaseException | None = None) -> Step:
        """Enter ``stage`` and show it."""
        ...

    def on_pin_confirmed(self) -> Step:
        """After the new PIN was typed twice alike: write it."""
        ...


class PinEntry:
    """The PINs one visit collects, and whether the reader's own pad takes them instead.

    ``pad`` is the visit's reader-pad table: with the reader's own pad, the card effect
    each PIN stage runs at once (the reader asks the holder, the kiosk holds no PIN).
    """

    def __init__(
        self, policy: PinPolicySettings, pad: Mapping[Stage, type[PinEffect]] | None = None
    ) -> None:
        self.policy = policy
        self.pad: Mapping[Stage, type[PinEffect]] = pad or {}
        self.current = PinBuffer(policy.length)
        self.new = PinBuffer(policy.length)
        self.confirmation = PinBuffer(policy.length)
        self.receipt = PinBuffer(policy.length)
        self.signature = PinBuffer(policy.length)  # the current signature PIN (renewal)
        self.on_reader_pad = False

    def pad_effect(self, stage: Stage) -> type[PinEffect] | None:
        """With the reader's own pad, the card effect ``stage`` runs at once; else None."""
        return self.pad.get(stage) if self.on_reader_pad else None

    def pad_message(self, stage: Stage) -> str:
        """What the reader's pad asks for in ``stage``: its effect's name, else the stage's."""
        effect = self.pad.get(stage)
        return effect.kind.value if effect is not None else stage.value

    def waiting(self, pending: Iterable[Effect]) -> bool:
        """Whether the reader's own pad is asking the holder for a PIN now."""
        return self.on_reader_pad and any(isinstance(e, PIN_EFFECTS) for e in pending)

    def routes(self, table: Transitions, host: PinHost) -> Transitions:
        """``table`` with choosing and confirming a new PIN, for the visits that set one."""
        return table.on(Stage.PIN_CHOOSE, PinSubmit, lambda _: self.choose(host)).on(
            Stage.PIN_CONFIRM, PinSubmit, lambda _: self.confirm(host)
        )

    def choose(self, host: PinHost) -> Step:
        """The new PIN, checked against the PIN rules: confirm it next."""
        self.check_new(holder_personnummer(host.card.record, host.today()))
        return host.show(Stage.PIN_CONFIRM)

    def confirm(self, host: PinHost) -> Step:
        """The confirmation: back to choosing if it differs, else the visit writes the PIN."""
        if not self.confirmed():
            return host.show(Stage.PIN_CHOOSE, PinMismatch())
        return host.on_pin_confirmed()

    def buffer(self, stage: Stage) -> PinBuffer:
        """The buffer a PIN stage fills."""
        return {
            Stage.PIN_CURRENT: self.current,
            Stage.PIN_CHOOSE: self.new,
            Stage.PIN_CONFIRM: self.confirmation,
            Stage.SIGN_RECEIPT: self.receipt,
            Stage.PIN_SIGNATURE: self.signature,
        }[stage]

    def key(self, stage: Stage, event: PinDigit | PinBack | PinClear) -> None:
        """One key of the screen's pad, into the buffer of ``stage``."""
        buffer = self.buffer(stage)
        match event:
            case PinDigit():
                buffer.add(event.digit)
            case PinBack():
                buffer.back()
            case PinClear():
                buffer.clear()

    def require_full(self, buffer: PinBuffer) -> None:
        """Raise the PIN policy's length rule unless the buffer holds a whole PIN."""
        if len(buffer) != self.policy.length:
            raise PinRuleViolation("length", length=self.policy.length)

    def check_new(self, holder: Personnummer | None) -> None:
        """The new PIN against the PIN rules (and unlike the current one); cleared if not."""
        self.require_full(self.new)
        broken = broken_pin_rules(self.new.reveal(), self.policy, holder)
        if not broken and self.current and self.current.same_as(self.new):
            broken = ["same_as_current"]
        if broken:
            self.new.clear()
            raise PinRuleViolation(broken[0], length=self.policy.length, broken=tuple(broken))
        self.confirmation.clear()

    def confirmed(self) -> bool:
        """Whether the confirmation repeats the new PIN; both are cleared if it does not."""
        self.require_full(self.confirmation)
        alike = self.confirmation.same_as(self.new)
        if not alike:
            self.new.clear()
        self.confirmation.clear()
        return alike

    def typed(self, buffer: PinBuffer) -> Secret | None:
        """The PIN for a card effect: a copy, or ON_READER_PAD when the reader's pad takes it."""
        return ON_READER_PAD if self.on_reader_pad else buffer.copy()

    def wipe(self) -> None:
        """Forget every PIN typed so far."""
        for buffer in (self.current, self.new, self.confirmation, self.receipt, self.signature):
            buffer.wipe()

    def wiped(self) -> bool:
        """Whether no PIN is held."""
        return not any(
            (self.current, self.new, self.confirmation, self.receipt, self.signature)
        )

    def view(
        self,
        stage: Stage,
        title: str,
        params: dict[str, Param],
        error: ErrorView | None,
        waiting: bool,
    ) -> View:
        """A PIN stage: the screen's pad with the dots, or what to type on the reader's pad."""
        shared: dict[str, Param] = {"length": self.policy.length, **params}
        if self.on_reader_pad:
            return View(
                PIN_STAGES[stage],
                title,
                f"visit.pin.pad.{self.pad_message(stage)}",
                {"length": self.policy.length, "pin_pad": True, "waiting": waiting, **params},
                error,
                () if waiting else ("pad_start", "cancel"),
            )
        return View(
            PIN_STAGES[stage],
            title,
            f"visit.pin.{stage.value}",
            shared,
            error,
            ("cancel",),
            pin_length=len(self.buffer(stage)),
        )
