"""Where a PKCS#11 module behaves unlike a real SITHS card, said once as flags."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VendorQuirks:
    """How one module differs from a card that follows PKCS#11 to the letter."""

    name: str
    locks_pin: bool = True  # the token itself locks the PIN after too many wrong tries
    reports_pin_counters: bool = True  # CKF_USER_PIN_COUNT_LOW / FINAL_TRY / LOCKED are set
    # With CKF_PROTECTED_AUTHENTICATION_PATH, a PIN of length 0 in C_InitPIN / C_SetPIN
    # means "ask on the reader's pad" (OpenSC-style; python-pkcs11 cannot pass NULL there,
    # only C_Login gets NULL). False: new PINs cannot be typed on the pad, so the kiosk
    # does not use the pad at all for this module.
    empty_pin_uses_pad: bool = True


STANDARD = VendorQuirks("standard")
# SoftHSM2 never counts wrong PINs, so it never locks one and never sets the counter
# flags; the demo simulates tries and locking above the token (hardware.sim.tries).
SOFTHSM = VendorQuirks("SoftHSM", locks_pin=False, reports_pin_counters=False)

_BY_MANUFACTURER = {"SoftHSM": SOFTHSM}


def quirks_for(manufacturer_id: str) -> VendorQuirks:
    """The quirks of a module, by its CK_INFO manufacturerID."""
    return _BY_MANUFACTURER.get(manufacturer_id.strip(), STANDARD)
