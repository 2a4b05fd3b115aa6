"""The in-process simulated reader: events, identity, cancel."""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest

from hardware.sim.cast import FOREIGN_CARD, demo_cards
from hardware.sim.deck import SimDeck
from hardware.sim.reader import MEMORY_READER_NAME, MemoryReader
from kiosk.errors import CardRemoved, ReaderUnavailable
from kiosk.model import CardClass
from kiosk.ports import CardEventKind
from kiosk.settings import DEFAULT_ATR_TABLE


def test_deck_insert_and_remove_reach_the_reader() -> None:
    reader = MemoryReader(DEFAULT_ATR_TABLE)
    deck = SimDeck(demo_cards(date(2026, 1, 1)), reader.place)
    assert reader.wait_for_change(0.01) is None
    with pytest.raises(CardRemoved):
        reader.identify()
    deck.insert("9752210000000001")
    deck.insert(FOREIGN_CARD)  # a second insert swaps the card
    deck.remove()
    kinds = [e.kind for e in iter(lambda: reader.wait_for_change(0.01), None)]
    assert kinds == [
        CardEventKind.INSERTED,
        CardEventKind.REMOVED,
        CardEventKind.INSERTED,
        CardEventKind.REMOVED,
    ]
    deck.insert("9752210000000001")
    identity = reader.identify(MEMORY_READER_NAME)
    assert (identity.card_class, identity.card_number) == (CardClass.SITHS, "9752210000000001")
    with pytest.raises(ReaderUnavailable):
        reader.identify("Other reader")
    assert reader.has_pin_pad() is False


def test_cancel_wakes_a_waiting_thread() -> None:
    reader = MemoryReader(DEFAULT_ATR_TABLE)
    threading.Timer(0.1, reader.cancel).start()
    started = time.monotonic()
    assert reader.wait_for_change(30) is None
    assert time.monotonic() - started < 5
