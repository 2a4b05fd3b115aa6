"""SimulatedPinPad: the reader's keypad and display, and its one-line socket protocol."""

from __future__ import annotations

import logging
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hardware.sim.pinpad import PadPrompt, SimulatedPinPad
from kiosk.errors import InvalidInput, PinEntryCancelled, PinRuleViolation
from tests.integration.card.holder import CANCEL, WAIT, Holder


@pytest.fixture
def pad() -> Iterator[SimulatedPinPad]:
    reader_pad = SimulatedPinPad(length=6, timeout_s=10.0)
    try:
        yield reader_pad
    finally:
        reader_pad.close()


def ask_over_socket(path: Path, request: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(20)
        client.connect(str(path))
        client.sendall(request)
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = client.recv(64)
            if not chunk:
                break
            reply += chunk
        return reply


def test_ask_returns_the_digits_and_the_display_follows(pad: SimulatedPinPad) -> None:
    shown: list[PadPrompt | None] = []
    pad.on_prompt(shown.append)
    holder = Holder(pad).will_type("482915")
    assert pad.asking is None
    assert pad.ask(PadPrompt.NEW_PIN) == "482915"
    assert holder.done() == [PadPrompt.NEW_PIN]
    assert shown == [PadPrompt.NEW_PIN, None]
    assert pad.asking is None


def test_cancel_and_timeout_are_cancelled_entries(pad: SimulatedPinPad) -> None:
    holder = Holder(pad).will_type(CANCEL)
    with pytest.raises(PinEntryCancelled) as caught:
        pad.ask(PadPrompt.PIN)
    holder.done()
    assert caught.value.data["reason"] == "cancel"
    pad.timeout_s = 0.05
    with pytest.raises(PinEntryCancelled) as caught:
        pad.ask(PadPrompt.OLD_PIN)
    assert caught.value.data["reason"] == "timeout"
    assert pad.asking is None


@pytest.mark.parametrize("digits", ["48291", "4829150"])
def test_a_wrong_length_breaks_the_length_rule(pad: SimulatedPinPad, digits: str) -> None:
    holder = Holder(pad).will_type(digits)
    with pytest.raises(PinRuleViolation) as caught:
        pad.ask(PadPrompt.PIN)
    holder.done()
    assert caught.value.rule == "length"
    assert caught.value.data["length"] == 6


def test_keys_with_nothing_asked_are_ignored_and_only_digits_exist(
    pad: SimulatedPinPad, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pad.enter("482915")
    pad.cancel()
    assert pad.asking is None
    assert "nothing asked" in caplog.text
    assert "482915" not in caplog.text
    with pytest.raises(InvalidInput):
        pad.enter("48a915")
    holder = Holder(pad).will_type("730284")
    assert pad.ask(PadPrompt.PIN) == "730284"  # the earlier OK was not kept for later
    holder.done()


def test_close_cancels_a_pending_ask_and_later_ones(pad: SimulatedPinPad) -> None:
    errors: list[Exception] = []

    def asker() -> None:
        try:
            pad.ask(PadPrompt.PIN)
        except PinEntryCancelled as exc:
            errors.append(exc)

    holder = Holder(pad).will_type(WAIT)
    thread = threading.Thread(target=asker)
    thread.start()
    holder.done()  # it is asking now
    pad.close()
    thread.join(timeout=10)
    assert len(errors) == 1
    with pytest.raises(PinEntryCancelled):
        pad.ask(PadPrompt.PIN)


def test_socket_protocol_answers_each_outcome(pad: SimulatedPinPad) -> None:
    path = pad.serve()
    assert pad.serve() == path  # started once
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    holder = Holder(pad)
    holder.will_type("482915")
    assert ask_over_socket(path, b"ask new_pin\n") == b"ok 482915\n"
    assert holder.done() == [PadPrompt.NEW_PIN]
    holder.will_type(CANCEL)
    assert ask_over_socket(path, b"ask confirm_pin\n") == b"cancel\n"
    holder.done()
    holder.will_type("123")
    assert ask_over_socket(path, b"ask pin\n") == b"length\n"
    holder.done()
    pad.timeout_s = 0.05
    assert ask_over_socket(path, b"ask old_pin\n") == b"timeout\n"
    assert ask_over_socket(path, b"ask everything\n") == b"error\n"
    assert ask_over_socket(path, b"hello\n") == b"error\n"


def test_socket_server_logs_no_digits_and_goes_away_on_close(
    pad: SimulatedPinPad, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = pad.serve()
    holder = Holder(pad).will_type("271828")
    assert ask_over_socket(path, b"ask pin\n") == b"ok 271828\n"
    holder.done()
    assert "PIN pad" in caplog.text
    assert "271828" not in caplog.text
    pad.close()
    assert not path.exists()
    assert not path.parent.exists()
