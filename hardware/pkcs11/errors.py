"""PKCS#11 errors translated into the kiosk's error hierarchy."""

from __future__ import annotations

import pkcs11
from pkcs11 import exceptions as p11

from kiosk.errors import (
    CardError,
    CardRemoved,
    CardUnreadable,
    KioskError,
    PinEntryCancelled,
    PinLocked,
    PinMismatch,
    PinRuleViolation,
    TokenError,
    WrongPin,
)

_CARD_GONE = (
    p11.TokenNotPresent,
    p11.DeviceRemoved,
    p11.SessionClosed,
    p11.SessionHandleInvalid,
    p11.SlotIDInvalid,
    p11.NoSuchToken,
)


def pkcs11_error(
    exc: pkcs11.PKCS11Error,
    action: str,
    tries_left: int | None = None,
    pad: bool = False,
    pin_length: int | None = None,
) -> KioskError:
    """The kiosk error for a PKCS#11 failure while doing ``action`` (never carries a PIN).

    ``pad``: a PIN was typed on the reader's own PIN pad in this operation, so the
    reader's refusals are told apart (see PAD_ERRORS in docs/hardware.md).
    """
    detail = f"{action}: {type(exc).__name__}"
    if pad:
        padded = _pad_error(exc, detail, pin_length)
        if padded is not None:
            return padded
    if isinstance(exc, p11.PinIncorrect):
        return WrongPin(detail, tries_left=tries_left)
    if isinstance(exc, p11.PinLocked):
        return PinLocked(detail)
    if isinstance(exc, p11.PinLenRange | p11.PinInvalid | p11.PinTooWeak):
        return PinRuleViolation("length", detail)
    if isinstance(exc, _CARD_GONE):
        return CardRemoved(detail)
    if isinstance(exc, p11.TokenNotRecognised):
        return CardUnreadable(detail)
    if isinstance(exc, p11.UserPinNotInitialized):
        return TokenError(detail, reason="pin_not_initialised")
    return TokenError(detail)


def _pad_error(exc: pkcs11.PKCS11Error, detail: str, pin_length: int | None) -> KioskError | None:
    if isinstance(exc, p11.FunctionCancelled):  # cancel key or the reader's timeout
        return PinEntryCancelled(detail)
    if isinstance(exc, p11.PinInvalid):  # OpenSC's code for the two new PINs differing
        return PinMismatch(detail)
    if isinstance(exc, p11.PinLenRange):
        return PinRuleViolation("length", detail, length=pin_length)
    return None


def is_card_error(error: KioskError) -> bool:
    """Whether an error came from the card (for callers that retry only those)."""
    return isinstance(error, CardError)
