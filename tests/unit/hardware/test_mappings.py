"""Library errors become kiosk errors; PIN format; vendor quirks; PC/SC part 10 features."""

from __future__ import annotations

import pytest
from pkcs11 import exceptions as p11
from smartcard import scard

from hardware.pcsc.errors import pcsc_error
from hardware.pcsc.reader import PIN_PAD_FEATURES, pin_pad_features
from hardware.pinformat import check_pin_format
from hardware.pkcs11.errors import pkcs11_error
from hardware.pkcs11.quirks import SOFTHSM, STANDARD, quirks_for
from hardware.sim.cast import demo_cards
from hardware.sim.deck import SimDeck
from kiosk import errors
from kiosk.settings import PinPolicySettings


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (p11.PinIncorrect(), errors.WrongPin),
        (p11.PinLocked(), errors.PinLocked),
        (p11.PinLenRange(), errors.PinRuleViolation),
        (p11.TokenNotPresent(), errors.CardRemoved),
        (p11.DeviceRemoved(), errors.CardRemoved),
        (p11.SessionHandleInvalid(), errors.CardRemoved),
        (p11.NoSuchToken(), errors.CardRemoved),
        (p11.TokenNotRecognised(), errors.CardUnreadable),
        (p11.UserPinNotInitialized(), errors.TokenError),
        (p11.DeviceError(), errors.TokenError),
        (p11.GeneralError(), errors.TokenError),
    ],
)
def test_pkcs11_errors_map_to_kiosk_errors(exc: p11.PKCS11Error, kind: type) -> None:
    mapped = pkcs11_error(exc, "test", tries_left=1)
    assert type(mapped) is kind


def test_wrong_pin_carries_tries_left() -> None:
    mapped = pkcs11_error(p11.PinIncorrect(), "login", tries_left=1)
    assert isinstance(mapped, errors.WrongPin) and mapped.tries_left == 1


@pytest.mark.parametrize(
    ("hresult", "kind"),
    [
        (scard.SCARD_E_NO_SERVICE, errors.ReaderUnavailable),
        (scard.SCARD_E_SERVICE_STOPPED, errors.ReaderUnavailable),
        (scard.SCARD_E_UNKNOWN_READER, errors.ReaderUnavailable),
        (scard.SCARD_W_REMOVED_CARD, errors.CardRemoved),
        (scard.SCARD_E_NO_SMARTCARD, errors.CardRemoved),
        (scard.SCARD_W_UNRESPONSIVE_CARD, errors.CardUnreadable),
        (scard.SCARD_E_PROTO_MISMATCH, errors.CardUnreadable),
    ],
)
def test_pcsc_errors_map_to_kiosk_errors(hresult: int, kind: type) -> None:
    assert type(pcsc_error(hresult, "test")) is kind


def test_pin_format_rules() -> None:
    policy = PinPolicySettings()
    check_pin_format("482915", policy)
    for pin, rule in (("4829", "length"), ("4829150", "length"), ("48291a", "digits")):
        with pytest.raises(errors.PinRuleViolation) as caught:
            check_pin_format(pin, policy)
        assert caught.value.rule == rule
        assert pin not in str(caught.value.params())


def test_quirks_by_manufacturer() -> None:
    assert quirks_for("SoftHSM") is SOFTHSM
    assert SOFTHSM.locks_pin is False
    assert quirks_for("OpenSC Project") is STANDARD


def test_pin_pad_feature_tlv() -> None:
    # A PIN pad reader: VERIFY_PIN_DIRECT (06) and MODIFY_PIN_DIRECT (07), then a cut tail.
    tlv = bytes.fromhex("0604 42330006 0704 42330007 1204 42330012 0a04 4233")
    features = pin_pad_features(tlv)
    assert features == {0x06: 0x42330006, 0x07: 0x42330007, 0x12: 0x42330012}
    assert PIN_PAD_FEATURES & features.keys()
    assert not PIN_PAD_FEATURES & pin_pad_features(bytes.fromhex("1204 42330012")).keys()
    assert pin_pad_features(b"") == {}


def test_deck_refuses_unknown_faults_and_cards() -> None:
    from datetime import date

    deck = SimDeck(demo_cards(date(2026, 1, 1)), lambda _card: None)
    with pytest.raises(errors.InvalidInput):
        deck.set_fault("fire")
    with pytest.raises(errors.InvalidInput):
        deck.insert("0000")
    deck.set_fault("token_error")
    assert deck.take_fault("wrong_pin") is False
    assert deck.take_fault("token_error") is True
    assert deck.take_fault("token_error") is False
