"""An in-memory token with software keys, for machines without SoftHSM2.

It behaves as the SoftHSM2 token does (same PIN checks, same certificates, same
signatures); like SoftHSM it never locks a PIN itself, the simulation layer does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from hardware.certs import AUTHENTICATION, classify_card_certificates
from hardware.pinformat import held_pin
from hardware.pkcs11.quirks import VendorQuirks
from hardware.sim.democa import ADDITIONAL_LABEL, PersonCredentials
from kiosk.errors import CardUnreadable, TokenError, WrongPin
from kiosk.handout import AdminSignature
from kiosk.model import CertificateInfo
from kiosk.ports import PinStatus
from kiosk.settings import PinPolicySettings, PolicyLevel

MEMORY_QUIRKS = VendorQuirks("memory", locks_pin=False, reports_pin_counters=False)


class MemoryToken:
    """The Token port held in memory: software keys, PINs compared in memory."""

    quirks = MEMORY_QUIRKS

    def __init__(
        self,
        creds: PersonCredentials,
        so_pin: str,
        user_pin: str | None,
        profile: str = "init_pin",
        pin_policy: PinPolicySettings | None = None,
        policy_levels: Sequence[PolicyLevel] = (),
        trust_anchors: Sequence[bytes] = (),
        now: Callable[[], datetime] | None = None,
        signature_certificate: bool = True,
    ) -> None:
        self._creds = creds
        self._signature_certificate = signature_certificate
        self._so_pin = so_pin
        self._user_pin = user_pin
        self.profile = profile
        self.pin_policy = pin_policy or PinPolicySettings()
        self.policy_levels = tuple(policy_levels)
        self.trust_anchors = tuple(trust_anchors)
        self._now = now

    def _login(self, pin: str) -> None:
        if self._user_pin is None:
            raise TokenError("the card has no user PIN yet", reason="pin_not_initialised")
        if pin != self._user_pin:
            raise WrongPin("user login refused")

    def _so_login(self, credential: str) -> None:
        if credential != self._so_pin:
            raise WrongPin("SO login refused")

    def pin_pad(self) -> bool:
        """An in-memory token has no reader, so no PIN pad."""
        return False

    def pin_status(self) -> PinStatus:
        """Initialised or not; the memory token keeps no counters."""
        return PinStatus(initialised=self._user_pin is not None)

    def admin_sign_in(self, pin: str | None) -> CertificateInfo:
        """Log in and return the authentication certificate."""
        pin = held_pin(pin, self.pin_policy)
        self._login(pin)
        for info in self.certificates():
            if info.usage == AUTHENTICATION:
                return info
        raise CardUnreadable("the card holds no authentication certificate")

    def admin_sign_in_and_sign(
        self, pin: str | None, data: bytes
    ) -> tuple[CertificateInfo, AdminSignature]:
        """Sign in, and sign ``data`` with the authentication key (RSA PKCS#1 v1.5, SHA-256)."""
        info = self.admin_sign_in(pin)
        creds = self._creds
        signature = creds.authentication.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        chain = (creds.issuing_ca.public_bytes(Encoding.DER),)
        return info, AdminSignature(creds.authentication.cert_der, signature, chain)

    def set_initial_pin(self, credential: str, new_pin: str | None) -> None:
        """Write the first PIN per the card profile."""
        new_pin = held_pin(new_pin, self.pin_policy)
        if self.profile == "init_pin":
            self._so_login(credential)
        else:
            self._login(credential)
        self._user_pin = new_pin

    def change_pin(self, old_pin: str | None, new_pin: str | None) -> None:
        """Change the user PIN."""
        old_pin = held_pin(old_pin, self.pin_policy)
        new_pin = held_pin(new_pin, self.pin_policy)
        self._login(old_pin)
        self._user_pin = new_pin

    def unlock_pin(self, credential: str, new_pin: str | None) -> None:
        """Set a new user PIN with the SO credential."""
        new_pin = held_pin(new_pin, self.pin_policy)
        self._so_login(credential)
        self._user_pin = new_pin

    def certificates(self) -> list[CertificateInfo]:
        """The card's certificates, classified."""
        creds = self._creds
        held = [("Legitimering", creds.authentication.cert_der)]
        if self._signature_certificate:
            held.append(("Underskrift", creds.signature.cert_der))
        if creds.additional is not None:
            held.append((ADDITIONAL_LABEL, creds.additional.cert_der))
        return classify_card_certificates(
            [*held, ("Utfärdare", creds.issuing_ca.public_bytes(Encoding.DER))],
            self.policy_levels,
            self.trust_anchors,
            self._now() if self._now else None,
        )

    def sign_receipt(self, pin: str | None, receipt: bytes) -> bytes:
        """Log in and sign with the signature key, else the authentication key (RSA PKCS#1
        v1.5, SHA-256)."""
        pin = held_pin(pin, self.pin_policy)
        self._login(pin)
        pair = self._creds.signature if self._signature_certificate else self._creds.authentication
        return pair.key.sign(receipt, padding.PKCS1v15(), hashes.SHA256())
