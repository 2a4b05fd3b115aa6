"""An in-memory token with software keys, for machines without SoftHSM2.

It behaves as the SoftHSM2 token does (same PIN checks, same certificates, same
signatures, the same key pairs by CKA_ID); like SoftHSM it never locks a PIN itself, the
simulation layer does. It is a one-PIN card: the signature role uses the user PIN.

Key pairs (kiosk.ports.CertificateToken) are software keys from ``cryptography``: RSA 2048
or EC P-256, requests built by hardware.pkcs11.csr as on a PKCS#11 card. As on the SoftHSM2
demo card, the provisioned pairs carry no public-key object, so ``card_keys`` lists only
the pairs generated on the card.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hardware.certs import AUTHENTICATION, SIGNATURE, classify_card_certificates, load_certificate
from hardware.pinformat import held_pin
from hardware.pkcs11.csr import certification_request
from hardware.pkcs11.quirks import VendorQuirks
from hardware.sim.democa import (
    ADDITIONAL_ID,
    ADDITIONAL_LABEL,
    AUTH_ID,
    SIGN_ID,
    PersonCredentials,
)
from kiosk.errors import CardUnreadable, TokenError, WrongPin
from kiosk.handout import AdminSignature
from kiosk.model import CertificateInfo
from kiosk.ports import CardKey, KeyAlgorithm, PinRole, PinStatus
from kiosk.settings import PinPolicySettings, PolicyLevel

MEMORY_QUIRKS = VendorQuirks("memory", locks_pin=False, reports_pin_counters=False)
KEY_ALGORITHMS = (KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P256)  # as SoftHSM2 offers them

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class _Pair:
    """A key pair on the memory card: its label, private key, certificate (if written) and
    whether it has a public-key object (a pair generated on the card has one)."""

    label: str
    key: PrivateKey
    certificate: bytes | None
    listed: bool


def _spki(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _sign_with(key: PrivateKey, data: bytes) -> bytes:
    """SHA-256: PKCS#1 v1.5 for RSA, DER-encoded ECDSA for EC (as the PKCS#11 token)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


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
        held = [(AUTH_ID, "Legitimering", creds.authentication)]
        if signature_certificate:
            held.append((SIGN_ID, "Underskrift", creds.signature))
        if creds.additional is not None:
            held.append((ADDITIONAL_ID, ADDITIONAL_LABEL, creds.additional))
        self._pairs = {
            key_id: _Pair(label, pair.key, pair.cert_der, listed=False)
            for key_id, label, pair in held
        }

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
        """The card's end-entity certificates, classified, each with its key's CKA_ID."""
        held = [(p.label, p.certificate, key_id) for key_id, p in self._pairs.items()
                if p.certificate is not None]
        ca_der = self._creds.issuing_ca.public_bytes(Encoding.DER)
        infos = classify_card_certificates(
            [*((label, der) for label, der, _ in held), ("Utfärdare", ca_der)],
            self.policy_levels,
            self.trust_anchors,
            self._now() if self._now else None,
        )
        key_ids = {der: key_id for _, der, key_id in held}
        return [replace(info, key_id=key_ids.get(info.der, b"")) for info in infos]

    def sign_receipt(self, pin: str | None, receipt: bytes) -> bytes:
        """Log in and sign with the key of the signature certificate, else of the
        authentication certificate (SHA-256; PKCS#1 v1.5 or ECDSA)."""
        pin = held_pin(pin, self.pin_policy)
        self._login(pin)
        infos = self.certificates()
        for usage in (SIGNATURE, AUTHENTICATION):
            for info in infos:
                if info.usage == usage and info.key_id in self._pairs:
                    return _sign_with(self._pairs[info.key_id].key, receipt)
        raise TokenError("the card holds no private key for its certificates")

    # --- key pairs and certificates (kiosk.ports.CertificateToken) -----------------------

    def _key_login(self, pin: str | None) -> None:
        self._login(held_pin(pin, self.pin_policy))

    def _pair(self, key_id: bytes) -> _Pair:
        pair = self._pairs.get(key_id)
        if pair is None:
            raise TokenError(f"no key pair {key_id.hex()} on the card", reason="no_key")
        return pair

    def has_signature_pin(self) -> bool:
        """A memory card has one PIN."""
        return False

    def signature_pin_status(self) -> PinStatus:
        """The (only) user PIN's state."""
        return self.pin_status()

    def set_signature_pin(self, credential: str, new_pin: str | None) -> None:
        """On a one-PIN card the signature PIN is the user PIN, set with the SO credential."""
        new_pin = held_pin(new_pin, self.pin_policy)
        self._so_login(credential)
        self._user_pin = new_pin

    def key_algorithms(self, role: PinRole) -> tuple[KeyAlgorithm, ...]:
        """RSA 2048 first, then EC P-256."""
        return KEY_ALGORITHMS

    def card_keys(self) -> list[CardKey]:
        """The key pairs with a public-key object (those generated on the card)."""
        return [
            CardKey(key_id, p.label, PinRole.AUTHENTICATION, _algorithm(p.key), _spki(p.key))
            for key_id, p in self._pairs.items()
            if p.listed
        ]

    def private_key_ids(self, role: PinRole, pin: str | None) -> frozenset[bytes]:
        """Every private key's CKA_ID (one token holds them all), after a login."""
        self._key_login(pin)
        return frozenset(self._pairs)

    def generate_key_pair(
        self,
        role: PinRole,
        pin: str | None,
        key_id: bytes,
        label: str,
        algorithm: KeyAlgorithm | None = None,
    ) -> CardKey:
        """A new software key pair (or the one already under ``key_id``: a retry)."""
        chosen = algorithm or KEY_ALGORITHMS[0]
        if chosen not in KEY_ALGORITHMS:
            raise TokenError(f"the card cannot generate {chosen} key pairs",
                             reason="key_algorithm")
        self._key_login(pin)
        existing = self._pairs.get(key_id)
        if existing is None or not existing.listed:
            key: PrivateKey = (
                rsa.generate_private_key(65537, 2048)
                if chosen is KeyAlgorithm.RSA_2048
                else ec.generate_private_key(ec.SECP256R1())
            )
            self._pairs[key_id] = _Pair(label, key, None, listed=True)
        return next(k for k in self.card_keys() if k.key_id == key_id)

    def certificate_request(
        self, role: PinRole, pin: str | None, key_id: bytes, common_name: str, serial_number: str
    ) -> bytes:
        """A PKCS#10 request for ``key_id``, signed by that key."""
        self._key_login(pin)
        pair = self._pair(key_id)
        if not pair.listed:
            raise TokenError(f"no key pair {key_id.hex()} on the card", reason="no_key")
        return certification_request(
            _spki(pair.key), common_name, serial_number, lambda info: _sign_with(pair.key, info)
        )

    def write_certificate(
        self, role: PinRole, pin: str | None, key_id: bytes, label: str, der: bytes
    ) -> None:
        """Store ``der`` as the certificate of ``key_id`` (replacing one there)."""
        load_certificate(der)  # refuse what does not parse before touching the card
        self._key_login(pin)
        pair = self._pair(key_id)
        self._pairs[key_id] = replace(pair, label=label, certificate=der)

    def delete_key_pair(self, role: PinRole, pin: str | None, key_id: bytes) -> None:
        """Remove the certificate and key pair ``key_id`` (nothing if there is none)."""
        self._key_login(pin)
        self._pairs.pop(key_id, None)

    def sign(self, role: PinRole, pin: str | None, key_id: bytes, data: bytes) -> bytes:
        """Log in and sign ``data`` with the key ``key_id``."""
        self._key_login(pin)
        return _sign_with(self._pair(key_id).key, data)


def _algorithm(key: PrivateKey) -> KeyAlgorithm:
    return KeyAlgorithm.RSA_2048 if isinstance(key, rsa.RSAPrivateKey) else KeyAlgorithm.EC_P256
