"""A card holder at the simulated reader's keypad, answering its prompts from a thread."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field

import pytest

from hardware.sim.pinpad import PadPrompt, SimulatedPinPad
from kiosk.errors import PinLocked, WrongPin
from kiosk.ports import Token

CANCEL = "<cancel>"
WAIT = "<let it time out>"


@dataclass
class Holder:
    """Answers the pad's prompts in order from another thread, as a person at the reader."""

    pad: SimulatedPinPad
    prompts: list[PadPrompt] = field(default_factory=list)
    _seen: queue.Queue[PadPrompt] = field(default_factory=queue.Queue)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.pad.on_prompt(lambda p: None if p is None else self._seen.put(p))

    def will_type(self, *keys: str) -> Holder:
        """Answer the next prompts with these digits, CANCEL or WAIT."""
        self.prompts.clear()
        self._thread = threading.Thread(target=self._answer, args=(keys,), daemon=True)
        self._thread.start()
        return self

    def _answer(self, keys: tuple[str, ...]) -> None:
        for key in keys:
            self.prompts.append(self._seen.get(timeout=20))
            if key == CANCEL:
                self.pad.cancel()
            elif key != WAIT:
                self.pad.enter(key)

    def done(self) -> list[PadPrompt]:
        """Wait for the answers to be given; the prompts the pad showed."""
        assert self._thread is not None
        self._thread.join(timeout=20)
        assert not self._thread.is_alive(), f"the pad asked less than expected: {self.prompts}"
        return self.prompts


def wrong_pins_until_locked(token: Token, holder: Holder, wrong_pin: str, receipt: bytes) -> None:
    """Three wrong PINs typed on the pad: tries left 2, then 1, then the PIN locks."""
    for left in (2, 1):
        holder.will_type(wrong_pin)
        with pytest.raises(WrongPin) as caught:
            token.sign_receipt(None, receipt)
        holder.done()
        assert caught.value.tries_left == left
    holder.will_type(wrong_pin)
    with pytest.raises(PinLocked):
        token.admin_sign_in(None)
    holder.done()
    with pytest.raises(PinLocked):
        token.admin_sign_in(None)  # locked before the pad is even asked
