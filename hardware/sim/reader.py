"""The in-process simulated reader: card presence without pcscd, on any machine."""

from __future__ import annotations

import queue
from collections.abc import Iterable

from hardware.atr import classify_atr
from hardware.sim.cast import SimCard
from kiosk.errors import CardRemoved, ReaderUnavailable
from kiosk.model import CardIdentity
from kiosk.ports import CardEvent, CardEventKind
from kiosk.settings import AtrEntry

MEMORY_READER_NAME = "Simulated reader (demo)"
# Two-reader demo (hardware.admin_reader set): the administrator's card has its own reader.
ADMIN_READER_NAME = "Simulated admin reader (demo)"


class MemoryReader:
    """CardReader whose card is put in and taken out by the simulated deck."""

    def __init__(self, atr_table: Iterable[AtrEntry], two_readers: bool = False) -> None:
        self.atr_table = tuple(atr_table)
        self.two_readers = two_readers
        self._events: queue.Queue[CardEvent | None] = queue.Queue()
        self._card: SimCard | None = None
        self._admin_card: SimCard | None = None

    def place_admin(self, card: SimCard | None) -> None:
        """Put ``card`` in the administrator's reader (two-reader demo; None takes it out)."""
        if self._admin_card is not None:
            self._events.put(CardEvent(CardEventKind.REMOVED, ADMIN_READER_NAME))
        self._admin_card = card
        if card is not None:
            self._events.put(CardEvent(CardEventKind.INSERTED, ADMIN_READER_NAME, card.atr))

    def place(self, card: SimCard | None) -> None:
        """Put ``card`` in the reader (None takes the card out), reporting the change."""
        if self._card is not None:
            self._events.put(CardEvent(CardEventKind.REMOVED, MEMORY_READER_NAME))
        self._card = card
        if card is not None:
            self._events.put(CardEvent(CardEventKind.INSERTED, MEMORY_READER_NAME, card.atr))

    @property
    def card(self) -> SimCard | None:
        """The card in the reader now."""
        return self._card

    def readers(self) -> list[str]:
        """The simulated reader(s)."""
        return [MEMORY_READER_NAME, ADMIN_READER_NAME] if self.two_readers else [
            MEMORY_READER_NAME]

    def wait_for_change(self, timeout: float) -> CardEvent | None:
        """The next insert or removal within ``timeout``; None on timeout or cancel."""
        try:
            return self._events.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    def cancel(self) -> None:
        """Wake a pending wait_for_change with None."""
        self._events.put(None)

    def identify(self, reader: str | None = None) -> CardIdentity:
        """The card's class from its ATR, and its card number."""
        if reader not in self.readers() and reader is not None:
            raise ReaderUnavailable(f"reader {reader!r} is not connected", reader=reader)
        admin = reader == ADMIN_READER_NAME
        card = self._admin_card if admin else self._card
        if card is None:
            raise CardRemoved("no card in the simulated reader")
        found = classify_atr(card.atr, self.atr_table)
        return CardIdentity(
            ADMIN_READER_NAME if admin else MEMORY_READER_NAME,
            card.atr,
            found.card_class,
            found.generation,
            found.issuer,
            card.readable_number,
        )

    def has_pin_pad(self, reader: str | None = None) -> bool:
        """The simulated reader has no PIN pad."""
        return False
