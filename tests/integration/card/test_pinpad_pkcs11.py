"""Pkcs11Token with PINs typed on the reader's own pad: real SoftHSM2 behind the compiled
PIN-pad shim (hardware/sim/pinpad_pkcs11.c), the simulated pad answering over its socket."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from hardware.pkcs11 import Pkcs11Module, Pkcs11Token
from hardware.pkcs11.module import find_softhsm_module
from hardware.sim.cast import demo_cards
from hardware.sim.deck import SimDeck, SimToken
from hardware.sim.pinpad import PadPrompt, SimulatedPinPad
from hardware.sim.pinpad_build import MODULE_ENV, SOCKET_ENV, private_module_copy, shim_module
from kiosk.errors import (
    PinEntryCancelled,
    PinMismatch,
    PinRuleViolation,
    TokenError,
    WrongPin,
)
from kiosk.settings import PinPolicySettings
from tests.conftest import IN_CI, require_tool
from tests.integration.card.conftest import (
    SO_PIN,
    DemoPki,
    SoftHsm,
    provider_for,
)
from tests.integration.card.holder import CANCEL, WAIT, Holder, wrong_pins_until_locked
from tests.integration.card.test_pkcs11_token import NEW_PIN, OTHER_PIN, RECEIPT, verify

pytestmark = pytest.mark.softhsm


@dataclass(frozen=True)
class ShimBuild:
    """The compiled shim and the private copy of SoftHSM2 it wraps (once per session)."""

    shim: Path
    real: Path


@pytest.fixture(scope="session")
def shim_build(tmp_path_factory: pytest.TempPathFactory) -> ShimBuild:
    """Compile the shim with cc (CI=true: a missing cc fails) into a per-session cache."""
    require_tool("cc", "C compiler for the PIN-pad shim")
    softhsm = find_softhsm_module()
    if softhsm is None:
        if IN_CI:
            pytest.fail("libsofthsm2.so is not installed")
        pytest.skip("libsofthsm2.so is not installed")
    cache = tmp_path_factory.mktemp("pinpad-build")
    return ShimBuild(shim_module(cache), private_module_copy(softhsm, cache))


@pytest.fixture
def pad() -> Iterator[SimulatedPinPad]:
    """The reader's keypad; tests answer its prompts from another thread."""
    reader_pad = SimulatedPinPad(length=6, timeout_s=10.0)
    try:
        yield reader_pad
    finally:
        reader_pad.close()


@pytest.fixture
def pad_hsm(
    softhsm: SoftHsm, shim_build: ShimBuild, pad: SimulatedPinPad, monkeypatch: pytest.MonkeyPatch
) -> SoftHsm:
    """The same token directory seen through the shim, its pad served on a socket."""
    monkeypatch.setenv(MODULE_ENV, str(shim_build.real))
    monkeypatch.setenv(SOCKET_ENV, str(pad.serve()))
    return SoftHsm(softhsm.conf, Pkcs11Module.load(str(shim_build.shim), softhsm.conf))


@pytest.fixture
def pad_token(pad_hsm: SoftHsm, card_token: Pkcs11Token, demo_pki: DemoPki) -> Pkcs11Token:
    """Anna's card token (no PIN known yet) through the shim: the reader has a PIN pad."""
    return provider_for(pad_hsm, demo_pki).open()


@pytest.fixture
def holder(pad: SimulatedPinPad) -> Holder:
    """The card holder at the reader's keypad."""
    return Holder(pad)


P, OLD, NEW, AGAIN = PadPrompt.PIN, PadPrompt.OLD_PIN, PadPrompt.NEW_PIN, PadPrompt.CONFIRM_PIN


def test_pin_pad_is_reported_through_the_shim_and_not_without(
    softhsm: SoftHsm, pad_hsm: SoftHsm, pad_token: Pkcs11Token, demo_pki: DemoPki
) -> None:
    assert pad_token.pin_pad() is True
    assert provider_for(softhsm, demo_pki).open().pin_pad() is False
    pad_hsm.module.reinitialize()
    off = provider_for(pad_hsm, demo_pki)
    off.use_pin_pad = False  # hardware.use_reader_pin_pad = false
    assert off.open().pin_pad() is False


def test_a_pin_passed_in_is_forwarded_and_a_none_pin_without_a_pad_is_refused(
    softhsm: SoftHsm, pad_token: Pkcs11Token, demo_pki: DemoPki, holder: Holder
) -> None:
    pad_token.set_initial_pin(SO_PIN, NEW_PIN)  # SO login with the known SO PIN, no pad
    assert pad_token.admin_sign_in(NEW_PIN).usage == "authentication"
    direct = provider_for(softhsm, demo_pki).open()
    with pytest.raises(TokenError) as caught:
        direct.sign_receipt(None, RECEIPT)
    assert caught.value.data["reason"] == "no_pin_pad"


def test_admin_signs_in_with_the_pin_typed_on_the_pad(
    pad_token: Pkcs11Token, holder: Holder
) -> None:
    pad_token.set_initial_pin(SO_PIN, NEW_PIN)
    holder.will_type(NEW_PIN)
    cert = pad_token.admin_sign_in(None)
    assert holder.done() == [P]
    assert cert.usage == "authentication"
    assert cert.hsa_id == "SE2321000016-A1B2"


def test_first_pin_on_the_pad_init_pin_profile(pad_token: Pkcs11Token, holder: Holder) -> None:
    holder.will_type(NEW_PIN, NEW_PIN)
    pad_token.set_initial_pin(SO_PIN, None)
    assert holder.done() == [NEW, AGAIN]
    assert pad_token.pin_status().initialised is True
    verify(pad_token.sign_receipt(NEW_PIN, RECEIPT), pad_token, RECEIPT)  # it was written


def test_first_pin_on_the_pad_transport_pin_profile(
    pad_hsm: SoftHsm, pad_token: Pkcs11Token, demo_pki: DemoPki, holder: Holder
) -> None:
    pad_token.set_initial_pin(SO_PIN, "111222")  # the transport PIN printed in the letter
    token = provider_for(pad_hsm, demo_pki, profile="transport_pin").open()
    holder.will_type(NEW_PIN, NEW_PIN)
    token.set_initial_pin("111222", None)
    assert holder.done() == [NEW, AGAIN]
    verify(token.sign_receipt(NEW_PIN, RECEIPT), token, RECEIPT)
    with pytest.raises(WrongPin):
        token.admin_sign_in("111222")


def test_change_pin_on_the_pad_asks_old_new_new(pad_token: Pkcs11Token, holder: Holder) -> None:
    pad_token.set_initial_pin(SO_PIN, NEW_PIN)
    holder.will_type(NEW_PIN, OTHER_PIN, OTHER_PIN)
    pad_token.change_pin(None, None)
    assert holder.done() == [OLD, NEW, AGAIN]
    verify(pad_token.sign_receipt(OTHER_PIN, RECEIPT), pad_token, RECEIPT)
    with pytest.raises(WrongPin):
        pad_token.sign_receipt(NEW_PIN, RECEIPT)


def test_unlock_sets_the_new_pin_typed_on_the_pad(pad_token: Pkcs11Token, holder: Holder) -> None:
    pad_token.set_initial_pin(SO_PIN, NEW_PIN)
    holder.will_type(OTHER_PIN, OTHER_PIN)
    pad_token.unlock_pin(SO_PIN, None)
    assert holder.done() == [NEW, AGAIN]
    assert pad_token.admin_sign_in(OTHER_PIN).usage == "authentication"


def test_receipt_signed_with_the_pin_typed_on_the_pad_verifies(
    pad_token: Pkcs11Token, holder: Holder
) -> None:
    pad_token.set_initial_pin(SO_PIN, NEW_PIN)
    holder.will_type(NEW_PIN)
    signature = pad_token.sign_receipt(None, RECEIPT)
    assert holder.done() == [P]
    verify(signature, pad_token, RECEIPT)


def test_cancel_on_the_pad_then_the_token_still_works(
    pad_token: Pkcs11Token, holder: Holder
) -> None:
    pad_token.set_initial_pin(SO_PIN, NEW_PIN)
    holder.will_type(CANCEL)
    with pytest.raises(PinEntryCancelled):
        pad_token.admin_sign_in(None)
    holder.done()
    holder.will_type(NEW_PIN, CANCEL)
    with pytest.raises(PinEntryCancelled):
        pad_token.change_pin(None, None)
    assert holder.done() == [OLD, NEW]
    pad_token.unlock_pin(SO_PIN, OTHER_PIN)  # SO login after the cancelled user login
    verify(pad_token.sign_receipt(OTHER_PIN, RECEIPT), pad_token, RECEIPT)


def test_timeout_on_the_pad_is_a_cancelled_entry(
    pad_token: Pkcs11Token, pad: SimulatedPinPad, holder: Holder
) -> None:
    pad_token.set_initial_pin(SO_PIN, NEW_PIN)
    pad.timeout_s = 0.2
    holder.will_type(WAIT)
    with pytest.raises(PinEntryCancelled):
        pad_token.sign_receipt(None, RECEIPT)
    assert holder.done() == [P]
    assert pad.asking is None
    pad.timeout_s = 10.0
    holder.will_type(NEW_PIN)
    verify(pad_token.sign_receipt(None, RECEIPT), pad_token, RECEIPT)
    holder.done()


def test_new_pins_that_differ_on_the_pad_are_a_mismatch_and_nothing_is_written(
    pad_token: Pkcs11Token, holder: Holder
) -> None:
    holder.will_type(NEW_PIN, OTHER_PIN)
    with pytest.raises(PinMismatch):
        pad_token.set_initial_pin(SO_PIN, None)
    assert holder.done() == [NEW, AGAIN]
    assert pad_token.pin_status().initialised is True  # the token's provisioning PIN stays
    with pytest.raises(WrongPin):
        pad_token.admin_sign_in(NEW_PIN)
    pad_token.set_initial_pin(SO_PIN, NEW_PIN)
    holder.will_type(NEW_PIN, OTHER_PIN, "999111")
    with pytest.raises(PinMismatch):
        pad_token.change_pin(None, None)
    holder.done()
    assert pad_token.admin_sign_in(NEW_PIN).usage == "authentication"


def test_five_digits_on_the_pad_break_the_length_rule(
    pad_token: Pkcs11Token, holder: Holder
) -> None:
    holder.will_type("48291")
    with pytest.raises(PinRuleViolation) as caught:
        pad_token.unlock_pin(SO_PIN, None)
    holder.done()
    assert caught.value.rule == "length"
    assert caught.value.data["length"] == 6
    pad_token.set_initial_pin(SO_PIN, NEW_PIN)
    holder.will_type("48291")
    with pytest.raises(PinRuleViolation):
        pad_token.admin_sign_in(None)
    holder.done()
    assert pad_token.admin_sign_in(NEW_PIN).usage == "authentication"


def test_wrong_pin_on_the_pad_is_refused_by_the_token(
    pad_token: Pkcs11Token, holder: Holder
) -> None:
    pad_token.set_initial_pin(SO_PIN, NEW_PIN)
    holder.will_type(OTHER_PIN)
    with pytest.raises(WrongPin) as caught:
        pad_token.admin_sign_in(None)
    holder.done()
    assert caught.value.tries_left is None  # SoftHSM reports no counters (quirk)
    holder.will_type(OTHER_PIN, "135790", "135790")
    with pytest.raises(WrongPin):
        pad_token.change_pin(None, None)  # the wrong old PIN, checked by C_SetPIN
    holder.done()
    pad_token.unlock_pin(SO_PIN, OTHER_PIN)
    assert pad_token.admin_sign_in(OTHER_PIN).usage == "authentication"


def test_the_current_pin_is_checked_on_the_pad_before_the_change_asks_old_new_new(
    pad_token: Pkcs11Token, holder: Holder
) -> None:
    """The PIN change on a reader with a pad: C_Login on the protected path checks the
    current PIN (asked once); a wrong one is refused before any new PIN is asked."""
    pad_token.set_initial_pin(SO_PIN, NEW_PIN)
    holder.will_type(OTHER_PIN)
    with pytest.raises(WrongPin):
        pad_token.verify_pin(None)
    assert holder.done() == [P]  # no new PIN asked on a wrong current one
    holder.will_type(NEW_PIN)
    pad_token.verify_pin(None)
    assert holder.done() == [P]
    holder.will_type(NEW_PIN, "135790", "135790")
    pad_token.change_pin(None, None)
    assert holder.done() == [OLD, NEW, AGAIN]
    assert pad_token.admin_sign_in("135790").usage == "authentication"


def test_wrong_pins_on_the_pad_count_tries_in_the_simulation_and_lock(
    pad_token: Pkcs11Token, holder: Holder
) -> None:
    """SimToken over the shimmed token: tries counted as for typed PINs, then locked."""
    pad_token.set_initial_pin(SO_PIN, NEW_PIN)
    card = next(c for c in demo_cards(date.today()) if c.owner)
    deck = SimDeck((card,), lambda _card: None)
    deck.insert(card.card_number)
    deck.states[card.card_number].pin_set = True
    token = SimToken(pad_token, card, deck, PinPolicySettings())
    assert token.pin_pad() is True
    wrong_pins_until_locked(token, holder, OTHER_PIN, RECEIPT)
    holder.will_type(OTHER_PIN, OTHER_PIN)
    token.unlock_pin(SO_PIN, None)
    holder.done()
    holder.will_type(OTHER_PIN)
    assert token.admin_sign_in(None).usage == "authentication"
    holder.done()


def test_the_pad_never_logs_the_digits(
    pad_token: Pkcs11Token, holder: Holder, pad: SimulatedPinPad, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    holder.will_type("271828", "271828")
    pad_token.set_initial_pin(SO_PIN, None)
    holder.done()
    holder.will_type("271828")
    pad_token.admin_sign_in(None)
    holder.done()
    holder.will_type("314159", "161803")
    with pytest.raises(PinMismatch):
        pad_token.change_pin("271828", None)
    holder.done()
    pad.enter("577215")  # nothing asked: ignored
    assert pad.asking is None
    assert "PIN pad" in caplog.text  # the pad did log what happened
    for digits in ("271828", "314159", "161803", "577215"):
        assert digits not in caplog.text


def test_an_unreachable_pad_is_a_token_error(
    pad_token: Pkcs11Token, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pad_token.set_initial_pin(SO_PIN, NEW_PIN)
    monkeypatch.setenv(SOCKET_ENV, str(tmp_path / "no-reader.sock"))
    with pytest.raises(TokenError):
        pad_token.admin_sign_in(None)  # CKR_DEVICE_ERROR from the shim
    assert pad_token.admin_sign_in(NEW_PIN).usage == "authentication"


def test_the_shim_without_a_real_module_fails_to_load(shim_build: ShimBuild) -> None:
    script = (
        "from hardware.pkcs11 import Pkcs11Module\n"
        "from kiosk.errors import TokenError\n"
        "try:\n"
        f"    Pkcs11Module.load({str(shim_build.shim)!r})\n"
        "except TokenError:\n"
        "    print('refused')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != MODULE_ENV}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "refused", result.stderr
    assert "KIOSK_PINPAD_MODULE is not set" in result.stderr
