"""Card fixtures: one private pcscd with the vpcd reader per session, SoftHSM2 tokens per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hardware.emulator import VpcdEmulator
from hardware.emulator.pcscd import PcscdProcess, vpcd_driver
from hardware.pcsc import PcscReader
from kiosk.ports import CardEvent, CardEventKind
from kiosk.settings import HardwareSettings
from tests.conftest import IN_CI, require_tool


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PcscdProcess]:
    """pcscd in the foreground with only the vpcd reader; stopped at the end of the session."""
    require_tool("pcscd", "PC/SC daemon")
    if vpcd_driver() is None:
        message = "the vsmartcard-vpcd driver is not installed"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    process = PcscdProcess(work_dir=tmp_path_factory.mktemp("pcscd"))
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def emulator(pcscd: PcscdProcess) -> Iterator[VpcdEmulator]:
    """The card emulator on the vpcd reader; the card is removed after the test."""
    emu = VpcdEmulator(port=pcscd.port)
    try:
        yield emu
    finally:
        emu.close()


@pytest.fixture
def reader(pcscd: PcscdProcess) -> Iterator[PcscReader]:
    """A PcscReader on the first vpcd reader slot, with the default ATR table."""
    settings = HardwareSettings(reader_name="Kiosk vpcd 00 00")
    pcsc = PcscReader.from_settings(settings)
    drain(pcsc)
    try:
        yield pcsc
    finally:
        pcsc.close()


def drain(reader: PcscReader, quiet_s: float = 0.3) -> list[CardEvent]:
    """Collect events until the reader stays quiet for ``quiet_s``."""
    events = []
    while (event := reader.wait_for_change(quiet_s)) is not None:
        events.append(event)
    return events


def wait_for(reader: PcscReader, kind: CardEventKind, timeout: float = 5.0) -> list[CardEvent]:
    """Events up to and including the first of ``kind``; fails the test on timeout."""
    events: list[CardEvent] = []
    while True:
        event = reader.wait_for_change(timeout)
        assert event is not None, f"no {kind} event within {timeout}s; saw {events}"
        events.append(event)
        if event.kind == kind:
            return events
