"""The demo's simulated reader with its own PIN pad (hardware.sim_pin_pad): SimToken asks the
one SimulatedPinPad for every PIN of None, on SoftHSM2 and on memory tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from composition.wiring import build_services
from hardware.sim import DemoHardware, build_demo_hardware
from hardware.sim.pinpad import PadPrompt, SimulatedPinPad
from kiosk.demo_cast import DEMO_ACTIVE_PIN, demo_so_pin
from kiosk.errors import (
    CardRemoved,
    PinEntryCancelled,
    PinMismatch,
    PinRuleViolation,
    TokenError,
    WrongPin,
)
from kiosk.ports import CertificateToken
from kiosk.visit.runner import signing_certificate
from tests.conftest import require_tool
from tests.integration.card.holder import CANCEL, WAIT, Holder, wrong_pins_until_locked
from tests.integration.card.test_sim import (
    ANNA,
    EVA,
    KARIN,
    NEW_PIN,
    RECEIPT,
    TODAY,
    demo_material,
    democa_cache,
    fresh_state,
    settings_with,
    verify,
)

__all__ = ["demo_material", "democa_cache"]  # fixtures shared with test_sim

pytestmark = pytest.mark.softhsm

OTHER_PIN = "730284"
P, OLD, NEW, AGAIN = PadPrompt.PIN, PadPrompt.OLD_PIN, PadPrompt.NEW_PIN, PadPrompt.CONFIRM_PIN


@pytest.fixture(params=["softhsm", "memory"])
def demo(
    request: pytest.FixtureRequest, tmp_path: Path, democa_cache: Path, demo_material: Path
) -> Iterator[DemoHardware]:
    """Demo hardware whose simulated reader has a PIN pad (10 s timeout; tests answer it)."""
    if request.param == "softhsm":
        require_tool("softhsm2-util", "SoftHSM2")
    hardware = build_demo_hardware(
        fresh_state(tmp_path, democa_cache),
        TODAY,
        settings_with(token=request.param, sim_pin_pad=True),
        demo_material,
    )
    assert hardware.pin_pad is not None
    hardware.pin_pad.timeout_s = 10.0
    try:
        yield hardware
    finally:
        hardware.close()


@pytest.fixture
def holder(demo: DemoHardware) -> Holder:
    """The card holder at the demo reader's keypad."""
    assert demo.pin_pad is not None
    return Holder(demo.pin_pad)


def signature_der(demo: DemoHardware) -> bytes:
    """The certificate whose key signs the receipt, by the runner's own rule (a card with a
    signature PIN of its own signs it under the authentication PIN)."""
    token = demo.tokens.open()
    two_pins = isinstance(token, CertificateToken) and token.has_signature_pin()
    return signing_certificate(token.certificates(), two_pins)


def test_activation_with_every_pin_typed_on_the_reader(demo: DemoHardware, holder: Holder) -> None:
    demo.deck.insert(KARIN.card_number)
    admin = demo.tokens.open()
    assert admin.pin_pad() is True
    holder.will_type(KARIN.pin or "")
    assert admin.admin_sign_in(None).hsa_id == KARIN.hsa_id
    assert holder.done() == [P]
    demo.deck.insert(ANNA.card_number)
    token = demo.tokens.open()
    holder.will_type(NEW_PIN, NEW_PIN)
    token.set_initial_pin(demo_so_pin(ANNA.card_number), None)
    assert holder.done() == [NEW, AGAIN]
    assert token.pin_status().initialised is True
    holder.will_type(NEW_PIN)
    signature = token.sign_receipt(None, RECEIPT)
    holder.done()
    verify(signature, signature_der(demo), RECEIPT)
    verify(token.sign_receipt(NEW_PIN, RECEIPT), signature_der(demo), RECEIPT)  # written


def test_change_and_unlock_on_the_reader(demo: DemoHardware, holder: Holder) -> None:
    demo.deck.insert(EVA.card_number)
    token = demo.tokens.open()
    holder.will_type(DEMO_ACTIVE_PIN, NEW_PIN, NEW_PIN)
    token.change_pin(None, None)
    assert holder.done() == [OLD, NEW, AGAIN]
    with pytest.raises(WrongPin):
        token.admin_sign_in(DEMO_ACTIVE_PIN)
    holder.will_type(OTHER_PIN, OTHER_PIN)
    token.unlock_pin(demo_so_pin(EVA.card_number), None)
    assert holder.done() == [NEW, AGAIN]
    assert token.admin_sign_in(OTHER_PIN).hsa_id == EVA.hsa_id


def test_refusals_on_the_reader_leave_the_card_usable(demo: DemoHardware, holder: Holder) -> None:
    demo.deck.insert(ANNA.card_number)
    token = demo.tokens.open()
    so = demo_so_pin(ANNA.card_number)
    holder.will_type(NEW_PIN, OTHER_PIN)
    with pytest.raises(PinMismatch):
        token.set_initial_pin(so, None)
    holder.done()
    assert token.pin_status().initialised is False  # nothing written
    holder.will_type("48291")
    with pytest.raises(PinRuleViolation) as caught:
        token.set_initial_pin(so, None)
    holder.done()
    assert (caught.value.rule, caught.value.data["length"]) == ("length", 6)
    holder.will_type(NEW_PIN, CANCEL)
    with pytest.raises(PinEntryCancelled):
        token.set_initial_pin(so, None)
    holder.done()
    assert demo.pin_pad is not None
    demo.pin_pad.timeout_s = 0.2
    holder.will_type(WAIT)
    with pytest.raises(PinEntryCancelled):
        token.set_initial_pin(so, None)
    holder.done()
    demo.pin_pad.timeout_s = 10.0
    holder.will_type(NEW_PIN, NEW_PIN)
    token.set_initial_pin(so, None)
    holder.done()
    holder.will_type(NEW_PIN)
    assert token.admin_sign_in(None).hsa_id == ANNA.hsa_id
    holder.done()


def test_pulling_the_card_out_ends_the_entry_on_the_reader(demo: DemoHardware) -> None:
    demo.deck.insert(ANNA.card_number)
    token = demo.tokens.open()
    pad = demo.pin_pad
    assert pad is not None
    seen: list[PadPrompt] = []
    pad.on_prompt(lambda p: None if p is None else (seen.append(p), demo.deck.remove()))
    with pytest.raises(CardRemoved) as caught:
        token.set_initial_pin(demo_so_pin(ANNA.card_number), None)
    assert caught.value.data["entry_ended"] == "cancel"  # at once, not the pad's timeout
    assert seen == [NEW]
    assert pad.asking is None  # the reader's display is free again
    demo.deck.insert(ANNA.card_number)
    assert demo.tokens.open().pin_status().initialised is False  # nothing was written


def test_wrong_pins_on_the_reader_count_tries_and_lock(demo: DemoHardware, holder: Holder) -> None:
    demo.deck.insert(EVA.card_number)
    token = demo.tokens.open()
    wrong_pins_until_locked(token, holder, OTHER_PIN, RECEIPT)
    assert token.pin_status().locked is True
    assert demo.pin_pad is not None and demo.pin_pad.asking is None


def test_use_reader_pin_pad_false_means_no_pad(tmp_path: Path, democa_cache: Path) -> None:
    hardware = build_demo_hardware(
        fresh_state(tmp_path, democa_cache),
        TODAY,
        settings_with(token="memory", sim_pin_pad=True, use_reader_pin_pad=False),
    )
    try:
        assert hardware.pin_pad is None
        hardware.deck.insert(KARIN.card_number)
        token = hardware.tokens.open()
        assert token.pin_pad() is False
        with pytest.raises(TokenError):
            token.admin_sign_in(None)
        assert token.admin_sign_in(KARIN.pin).hsa_id == KARIN.hsa_id
    finally:
        hardware.close()


def test_services_expose_the_demo_pad_and_close_it(tmp_path: Path, democa_cache: Path) -> None:
    services = build_services(
        settings_with(token="memory", sim_pin_pad=True),
        fresh_state(tmp_path, democa_cache),
        demo=True,
        today=TODAY,
        with_camera=False,
    )
    pad = services.pin_pad
    try:
        assert isinstance(pad, SimulatedPinPad)
    finally:
        services.close()
    with pytest.raises(PinEntryCancelled):
        pad.ask(PadPrompt.PIN)  # closed with the services
