"""The PKCS#11 token adapter (python-pkcs11): OpenSC, a vendor module, or SoftHSM2."""

from hardware.pkcs11.module import Pkcs11Module, find_softhsm_module
from hardware.pkcs11.quirks import VendorQuirks, quirks_for
from hardware.pkcs11.token import Pkcs11Token, Pkcs11TokenProvider

__all__ = [
    "Pkcs11Module",
    "Pkcs11Token",
    "Pkcs11TokenProvider",
    "VendorQuirks",
    "find_softhsm_module",
    "quirks_for",
]
