"""PcscReader against real pcscd with the vpcd reader and the card emulator."""

from __future__ import annotations

import threading
import time

import pytest

from hardware.atr import atr_from_pattern
from hardware.emulator import EmulatedCard, VpcdEmulator
from hardware.emulator.pcscd import PcscdProcess
from hardware.pcsc import PcscReader
from kiosk.errors import CardRemoved, ReaderUnavailable
from kiosk.model import CardClass
from kiosk.ports import CardEventKind
from kiosk.settings import DEFAULT_ATR_TABLE
from tests.integration.card.conftest import drain, wait_for

pytestmark = pytest.mark.pcsc

SITHS3 = atr_from_pattern(DEFAULT_ATR_TABLE[0].pattern)
TELIA = atr_from_pattern(DEFAULT_ATR_TABLE[2].pattern, fill=0x11)
UNKNOWN = bytes.fromhex("3B8080010101")


def test_insert_and_remove_are_reported_with_the_atr(
    reader: PcscReader, emulator: VpcdEmulator
) -> None:
    emulator.insert(EmulatedCard(SITHS3, "9752210000000001"))
    inserted = wait_for(reader, CardEventKind.INSERTED)[-1]
    assert inserted.reader == "Kiosk vpcd 00 00"
    assert inserted.atr == SITHS3
    emulator.remove()
    removed = wait_for(reader, CardEventKind.REMOVED)[-1]
    assert removed.reader == "Kiosk vpcd 00 00"


def test_identify_classifies_siths_and_reads_the_card_number(
    reader: PcscReader, emulator: VpcdEmulator
) -> None:
    emulator.insert(EmulatedCard(SITHS3, "9752210000000001"))
    wait_for(reader, CardEventKind.INSERTED)
    identity = reader.identify()
    assert identity.card_class is CardClass.SITHS
    assert identity.generation == "SITHS e-id 3 (IDPrime)"
    assert identity.card_number == "9752210000000001"
    assert identity.atr == SITHS3


@pytest.mark.parametrize(
    ("atr", "card_class", "issuer"),
    [(TELIA, CardClass.FOREIGN, "Telia"), (UNKNOWN, CardClass.UNKNOWN, None)],
)
def test_identify_tells_foreign_and_unknown_cards(
    reader: PcscReader,
    emulator: VpcdEmulator,
    atr: bytes,
    card_class: CardClass,
    issuer: str | None,
) -> None:
    emulator.insert(EmulatedCard(atr, card_number=None))
    wait_for(reader, CardEventKind.INSERTED)
    identity = reader.identify()
    assert identity.card_class is card_class
    assert identity.issuer == issuer
    assert identity.card_number is None


def test_card_pulled_during_an_operation_raises_card_removed(
    reader: PcscReader, emulator: VpcdEmulator
) -> None:
    card = EmulatedCard(SITHS3, "9752210000000001", answer_delay_s=1.0)
    emulator.insert(card)
    wait_for(reader, CardEventKind.INSERTED)
    threading.Timer(0.4, emulator.remove).start()
    with pytest.raises(CardRemoved):
        reader.identify()
    wait_for(reader, CardEventKind.REMOVED)


def test_cancel_ends_a_long_wait_promptly(reader: PcscReader) -> None:
    threading.Timer(0.2, reader.cancel).start()
    started = time.monotonic()
    while (event := reader.wait_for_change(30)) is not None:
        # the card an earlier test left going away, seen late under load: not this test's
        assert event.kind is CardEventKind.REMOVED, event
    assert time.monotonic() - started < 5


def test_vpcd_reader_has_no_pin_pad(reader: PcscReader) -> None:
    assert reader.has_pin_pad() is False


def test_reader_survives_a_pcscd_restart(
    pcscd: PcscdProcess, reader: PcscReader, emulator: VpcdEmulator
) -> None:
    emulator.insert(EmulatedCard(SITHS3, "9752210000000001"))
    wait_for(reader, CardEventKind.INSERTED)
    pcscd.stop()
    lost = wait_for(reader, CardEventKind.READER_LOST)
    assert [e.kind for e in lost][:2] == [CardEventKind.REMOVED, CardEventKind.READER_LOST]
    with pytest.raises(ReaderUnavailable):
        reader.identify()
    pcscd.start()
    found = wait_for(reader, CardEventKind.INSERTED, timeout=10)
    assert CardEventKind.READER_FOUND in [e.kind for e in found]
    assert reader.identify().card_number == "9752210000000001"
    emulator.remove()
    wait_for(reader, CardEventKind.REMOVED)
    assert drain(reader) == []
