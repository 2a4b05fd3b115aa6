"""An in-memory token with software keys, for machines without SoftHSM2.

It behaves as the SoftHSM2 token does (same PIN checks, same certificates, same
signatures, the same key pairs by CKA_ID); like SoftHSM it never locks a PIN itself, the
simulation layer does. It is a one-PIN card (the signature role uses the user PIN) unless
made with ``two_pins``: then, as a SITHS card with a second token, the signature key pair
lives under a signature PIN of its own, set with the SO credential.

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
from hardware.sim.cast import SimCard
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
from kiosk.settings import PinPolicySettings, PolicyLevel, Settings

MEMORY_QUIRKS = VendorQuirks("memory", locks_pin=False, reports_pin_counters=False)
KEY_ALGORITHMS = (KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P256)  # as SoftHSM2 offers them

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class _Pair:
    """A key pair on the memory card: its label, private key, certificate (if written) and
    whether it has a public-key object (a pair generated on the card has one), and the PIN
    it lives under (on a two-PIN card; a one-PIN card keeps every pair under the user PIN)."""

    label: str
    key: PrivateKey
    certificate: bytes | None
    listed: bool
    role: PinRole = PinRole.AUTHENTICATION


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
        two_pins: bool = False,
        signature_pin: str | None = None,
        key_algorithms: Sequence[KeyAlgorithm] = KEY_ALGORITHMS,
    ) -> None:
        self._creds = creds
        self._key_algorithms = tuple(key_algorithms)
        self._signature_certificate = signature_certificate
        self._so_pin = so_pin
        self._user_pin = user_pin
        self._two_pins = two_pins
        self._signature_pin = signature_pin
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
            key_id: _Pair(label, pair.key, pair.cert_der, listed=False,
                          role=self._role_of(key_id == SIGN_ID))
            for key_id, label, pair in held
        }

    def _role_of(self, signature: bool) -> PinRole:
        """The PIN a pair lives under: the signature PIN's on a two-PIN card."""
        return PinRole.SIGNATURE if signature and self._two_pins else PinRole.AUTHENTICATION

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
        signature = _sign_with(creds.authentication.key, data)
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

    def verify_pin(self, pin: str | None) -> None:
        """Log in with the user PIN (and out): nothing changes."""
        self._login(held_pin(pin, self.pin_policy))

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
        reachable = {k: p for k, p in self._pairs.items() if p.role is PinRole.AUTHENTICATION}
        for usage in (SIGNATURE, AUTHENTICATION):  # the user PIN reaches no signature-PIN key
            for info in infos:
                if info.usage == usage and info.key_id in reachable:
                    return _sign_with(reachable[info.key_id].key, receipt)
        raise TokenError("the card holds no private key for its certificates")

    # --- key pairs and certificates (kiosk.ports.CertificateToken) -----------------------

    def _key_login(self, role: PinRole, pin: str | None) -> None:
        pin = held_pin(pin, self.pin_policy)
        if role is not PinRole.SIGNATURE or not self._two_pins:
            self._login(pin)
        elif self._signature_pin is None:
            raise TokenError("the card has no signature PIN yet", reason="pin_not_initialised")
        elif pin != self._signature_pin:
            raise WrongPin("signature login refused")

    def _in(self, role: PinRole) -> dict[bytes, _Pair]:
        """The pairs a login as ``role`` reaches (all of them on a one-PIN card)."""
        return {k: p for k, p in self._pairs.items() if p.role is self._role_of(
            role is PinRole.SIGNATURE)}

    def _pair(self, role: PinRole, key_id: bytes) -> _Pair:
        pair = self._in(role).get(key_id)
        if pair is None:
            raise TokenError(f"no key pair {key_id.hex()} on the card", reason="no_key")
        return pair

    def has_signature_pin(self) -> bool:
        """Whether the card has a signature PIN of its own (made with ``two_pins``)."""
        return self._two_pins

    def signature_pin_status(self) -> PinStatus:
        """The signature PIN's state (the user PIN's on a one-PIN card)."""
        if not self._two_pins:
            return self.pin_status()
        return PinStatus(initialised=self._signature_pin is not None)

    def set_signature_pin(self, credential: str, new_pin: str | None) -> None:
        """Set the signature PIN with the SO credential (on a one-PIN card: the user PIN)."""
        new_pin = held_pin(new_pin, self.pin_policy)
        self._so_login(credential)
        if self._two_pins:
            self._signature_pin = new_pin
        else:
            self._user_pin = new_pin

    def key_algorithms(self, role: PinRole) -> tuple[KeyAlgorithm, ...]:
        """What the card generates, its first choice first (RSA 2048, then EC P-256, unless
        made with fewer)."""
        return self._key_algorithms

    def card_keys(self) -> list[CardKey]:
        """The key pairs with a public-key object (those generated on the card)."""
        return [
            CardKey(key_id, p.label, p.role, _algorithm(p.key), _spki(p.key))
            for key_id, p in self._pairs.items()
            if p.listed
        ]

    def private_key_ids(self, role: PinRole, pin: str | None) -> frozenset[bytes]:
        """The CKA_IDs of the private keys under ``role``'s PIN (every one on a one-PIN
        card), after a login."""
        self._key_login(role, pin)
        return frozenset(self._in(role))

    def generate_key_pair(
        self,
        role: PinRole,
        pin: str | None,
        key_id: bytes,
        label: str,
        algorithm: KeyAlgorithm | None = None,
    ) -> CardKey:
        """A new software key pair (or the one already under ``key_id``: a retry)."""
        chosen = algorithm or self._key_algorithms[0]
        if chosen not in self._key_algorithms:
            raise TokenError(f"the card cannot generate {chosen} key pairs",
                             reason="key_algorithm")
        self._key_login(role, pin)
        existing = self._in(role).get(key_id)
        if existing is None or not existing.listed:
            key: PrivateKey = (
                rsa.generate_private_key(65537, 2048)
                if chosen is KeyAlgorithm.RSA_2048
                else ec.generate_private_key(ec.SECP256R1())
            )
            self._pairs[key_id] = _Pair(label, key, None, listed=True,
                                        role=self._role_of(role is PinRole.SIGNATURE))
        return next(k for k in self.card_keys() if k.key_id == key_id)

    def certificate_request(
        self, role: PinRole, pin: str | None, key_id: bytes, common_name: str, serial_number: str
    ) -> bytes:
        """A PKCS#10 request for ``key_id``, signed by that key."""
        self._key_login(role, pin)
        pair = self._pair(role, key_id)
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
        self._key_login(role, pin)
        pair = self._pair(role, key_id)
        self._pairs[key_id] = replace(pair, label=label, certificate=der)

    def delete_key_pair(self, role: PinRole, pin: str | None, key_id: bytes) -> None:
        """Remove the certificate and key pair ``key_id`` (nothing if there is none)."""
        self._key_login(role, pin)
        if key_id in self._in(role):
            del self._pairs[key_id]

    def sign(self, role: PinRole, pin: str | None, key_id: bytes, data: bytes) -> bytes:
        """Log in and sign ``data`` with the key ``key_id``."""
        self._key_login(role, pin)
        return _sign_with(self._pair(role, key_id).key, data)


def _algorithm(key: PrivateKey) -> KeyAlgorithm:
    return KeyAlgorithm.RSA_2048 if isinstance(key, rsa.RSAPrivateKey) else KeyAlgorithm.EC_P256


def memory_token(
    card: SimCard,
    creds: PersonCredentials,
    settings: Settings,
    trust_anchors: Sequence[bytes] = (),
    now: Callable[[], datetime] | None = None,
    key_algorithms: Sequence[KeyAlgorithm] = KEY_ALGORITHMS,
) -> MemoryToken:
    """The memory token of the simulated card ``card`` holding ``creds``: its PINs, its
    signature certificate (or none) and its second PIN as the card says."""
    hw = settings.hardware
    return MemoryToken(
        creds,
        card.so_pin,
        card.pin,
        hw.card_profile,
        settings.pin_policy,
        hw.policy_levels,
        trust_anchors,
        now,
        signature_certificate=card.signature_certificate,
        two_pins=card.two_pins,
        signature_pin=card.signature_pin,
        key_algorithms=key_algorithms,
    )
