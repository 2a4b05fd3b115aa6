"""Pkcs11Token: PINs, certificates and the receipt signature on a card through PKCS#11.

Every operation looks its token up again (by serial, then label) so a card that left
the reader is reported as CardRemoved instead of failing on stale handles. A failed
login re-initialises the module (see hardware.pkcs11.module) before anything else runs.

A PIN argument of None (kiosk.ports.ON_READER_PAD) is typed on the reader's own PIN pad:
C_Login gets no PIN (python-pkcs11's PROTECTED_AUTH), C_InitPIN / C_SetPIN an empty one
(VendorQuirks.empty_pin_uses_pad). The PIN then never passes through the kiosk.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

import pkcs11
from pkcs11 import Attribute, Mechanism, ObjectClass, TokenFlag
from pkcs11 import exceptions as p11
from pkcs11.types import SignMixin

from hardware.certs import (
    AUTHENTICATION,
    SIGNATURE,
    classify_card_certificates,
    load_trust_anchors,
)
from hardware.pinformat import held_pin
from hardware.pkcs11.errors import pkcs11_error
from hardware.pkcs11.module import Pkcs11Module
from hardware.pkcs11.quirks import VendorQuirks
from kiosk.errors import CardRemoved, CardUnreadable, ConfigError, PinLocked, TokenError
from kiosk.model import CertificateInfo
from kiosk.ports import PinStatus
from kiosk.settings import PinPolicySettings, PolicyLevel, Settings

log = logging.getLogger(__name__)

PROFILES = ("init_pin", "transport_pin")
PAD_PIN = ""  # C_InitPIN / C_SetPIN: take this PIN on the reader's pad (empty_pin_uses_pad)


def _token_serial(token: pkcs11.Token) -> bytes:
    return bytes(token.serial).rstrip(b" \x00")


class Pkcs11Token:
    """The Token port on one PKCS#11 token."""

    def __init__(
        self,
        module: Pkcs11Module,
        label: str,
        serial: bytes,
        profile: str = "init_pin",
        pin_policy: PinPolicySettings | None = None,
        policy_levels: Sequence[PolicyLevel] = (),
        trust_anchors: Sequence[bytes] = (),
        now: Callable[[], datetime] | None = None,
        use_pin_pad: bool = True,
    ) -> None:
        if profile not in PROFILES:
            raise ConfigError(f"card_profile {profile!r} is not one of {', '.join(PROFILES)}")
        self.module = module
        self.label = label
        self.serial = serial
        self.profile = profile
        self.pin_policy = pin_policy or PinPolicySettings()
        self.policy_levels = tuple(policy_levels)
        self.trust_anchors = tuple(trust_anchors)
        self._now = now
        self.use_pin_pad = use_pin_pad

    @property
    def quirks(self) -> VendorQuirks:
        """How this module differs from a card that follows PKCS#11 to the letter."""
        return self.module.quirks

    # --- plumbing ---------------------------------------------------------------------

    def _token(self) -> pkcs11.Token:
        try:
            for slot in self.module.lib.get_slots(token_present=True):
                token = slot.get_token()
                if _token_serial(token) == self.serial:
                    return token
        except pkcs11.PKCS11Error as exc:
            raise pkcs11_error(exc, "find token") from None
        raise CardRemoved("the card's token is no longer present", label=self.label)

    def _flags(self) -> TokenFlag:
        return self._token().flags

    def _tries_left(self, so: bool = False) -> int | None:
        if not self.module.quirks.reports_pin_counters:
            return None
        flags = self._flags()
        final = TokenFlag.SO_PIN_FINAL_TRY if so else TokenFlag.USER_PIN_FINAL_TRY
        locked = TokenFlag.SO_PIN_LOCKED if so else TokenFlag.USER_PIN_LOCKED
        if flags & locked:
            return 0
        return 1 if flags & final else None

    @contextlib.contextmanager
    def _session(
        self,
        action: str,
        user_pin: str | object | None = None,
        so_pin: str | None = None,
        rw: bool = False,
        pad: bool = False,
    ) -> Iterator[pkcs11.Session]:
        """A session, logged in if a PIN is given; ``pad``: a PIN is typed on the reader."""
        with self.module.lock:
            token = self._token()
            try:
                session = token.open(rw=rw, user_pin=user_pin, so_pin=so_pin)
            except pkcs11.PKCS11Error as exc:
                self.module.reinitialize()  # the failed C_Login left its session open
                raise self._login_error(exc, action, so=so_pin is not None, pad=pad) from None
            try:
                yield session
            except pkcs11.PKCS11Error as exc:
                if pad:  # C_SetPIN checks the old PIN typed on the pad: a try, as a login
                    raise self._login_error(exc, action, so=False, pad=True) from None
                raise pkcs11_error(exc, action) from None
            finally:
                with contextlib.suppress(pkcs11.PKCS11Error):
                    session.close()

    def _login_error(
        self, exc: pkcs11.PKCS11Error, action: str, so: bool, pad: bool = False
    ) -> Exception:
        if isinstance(exc, p11.PinIncorrect):
            try:
                tries = self._tries_left(so)
            except CardRemoved:
                return CardRemoved(f"{action}: the card left during login")
            if tries == 0:
                return PinLocked(f"{action}: PIN locked after this try")
            return pkcs11_error(exc, action, tries_left=tries)
        return pkcs11_error(exc, action, pad=pad, pin_length=self.pin_policy.length)

    def _login_pin(self, pin: str | None) -> str | object:
        """What C_Login gets: PROTECTED_AUTH for a PIN typed on the pad, else the PIN."""
        if pin is None and self.pin_pad():
            return pkcs11.PROTECTED_AUTH
        return held_pin(pin, self.pin_policy)

    def _new_pin(self, pin: str | None) -> str:
        """What C_InitPIN / C_SetPIN get: "" for a PIN typed on the pad, else the PIN."""
        if pin is None and self.pin_pad():
            return PAD_PIN
        return held_pin(pin, self.pin_policy)

    # --- the Token port ----------------------------------------------------------------

    def pin_pad(self) -> bool:
        """Whether PINs are typed on the reader's own pad (protected auth path, if allowed)."""
        if not (self.use_pin_pad and self.quirks.empty_pin_uses_pad):
            return False
        with self.module.lock:
            return bool(self._flags() & TokenFlag.PROTECTED_AUTHENTICATION_PATH)

    def pin_status(self) -> PinStatus:
        """The user PIN's state as the token reports it."""
        with self.module.lock:
            flags = self._flags()
        return PinStatus(
            initialised=bool(flags & TokenFlag.USER_PIN_INITIALIZED),
            count_low=bool(flags & TokenFlag.USER_PIN_COUNT_LOW),
            final_try=bool(flags & TokenFlag.USER_PIN_FINAL_TRY),
            locked=bool(flags & TokenFlag.USER_PIN_LOCKED),
        )

    def admin_sign_in(self, pin: str | None) -> CertificateInfo:
        """Log in with the administrator's PIN; return their authentication certificate."""
        login = self._login_pin(pin)
        with self._session("admin sign-in", user_pin=login, pad=pin is None) as session:
            certs = self._classified(session)
        for info in certs:
            if info.usage == AUTHENTICATION:
                return info
        raise CardUnreadable("the card holds no authentication certificate")

    def set_initial_pin(self, credential: str, new_pin: str | None) -> None:
        """Write the first PIN: C_InitPIN as SO, or C_SetPIN from the transport PIN."""
        new, pad = self._new_pin(new_pin), new_pin is None
        if self.profile == "init_pin":
            with self._session("write first PIN", so_pin=credential, rw=True, pad=pad) as session:
                session.init_pin(new)
        else:
            with self._session("write first PIN", user_pin=credential, rw=True, pad=pad) as session:
                session.set_pin(credential, new)

    def change_pin(self, old_pin: str | None, new_pin: str | None) -> None:
        """Change the user PIN (C_SetPIN after logging in with the old one).

        With the old PIN on the reader's pad there is no login: C_SetPIN in a R/W public
        session asks old, new and new again on the pad and checks the old PIN itself.
        """
        new = self._new_pin(new_pin)
        if old_pin is None and self.pin_pad():
            with self._session("change PIN", rw=True, pad=True) as session:
                session.set_pin(PAD_PIN, new)
            return
        old = held_pin(old_pin, self.pin_policy)
        with self._session("change PIN", user_pin=old, rw=True, pad=new_pin is None) as session:
            session.set_pin(old, new)

    def unlock_pin(self, credential: str, new_pin: str | None) -> None:
        """Unlock with the PUK/SO credential: C_InitPIN as SO sets a new user PIN."""
        new = self._new_pin(new_pin)
        with self._session("unlock PIN", so_pin=credential, rw=True, pad=new_pin is None) as s:
            s.init_pin(new)

    def certificates(self) -> list[CertificateInfo]:
        """The card's end-entity certificates, classified (no PIN needed)."""
        with self._session("read certificates") as session:
            return self._classified(session)

    def sign_receipt(self, pin: str | None, receipt: bytes) -> bytes:
        """Log in with ``pin`` and sign ``receipt`` (SHA-256) with the signature key."""
        login = self._login_pin(pin)
        with self._session("sign receipt", user_pin=login, pad=pin is None) as session:
            key = self._signing_key(session)
            if key.key_type == pkcs11.KeyType.EC:
                from cryptography.hazmat.primitives import hashes
                from pkcs11.util.ec import encode_ecdsa_signature

                digest = hashes.Hash(hashes.SHA256())
                digest.update(receipt)
                raw = key.sign(digest.finalize(), mechanism=Mechanism.ECDSA)
                return encode_ecdsa_signature(raw)
            signature: bytes = key.sign(receipt, mechanism=Mechanism.SHA256_RSA_PKCS)
            return signature

    # --- certificates and keys -----------------------------------------------------------

    def _raw_certificates(self, session: pkcs11.Session) -> list[tuple[str, bytes, bytes]]:
        found = []
        for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
            attrs = obj.get_attributes([Attribute.LABEL, Attribute.VALUE, Attribute.ID])
            found.append(
                (
                    str(attrs.get(Attribute.LABEL, "")),
                    bytes(attrs[Attribute.VALUE]),
                    bytes(attrs.get(Attribute.ID, b"")),
                )
            )
        return found

    def _classified(self, session: pkcs11.Session) -> list[CertificateInfo]:
        raw = self._raw_certificates(session)
        moment = self._now() if self._now else None
        return classify_card_certificates(
            [(label, der) for label, der, _ in raw],
            self.policy_levels,
            self.trust_anchors,
            moment,
        )

    def _signing_key(self, session: pkcs11.Session) -> SignMixin:
        raw = {der: key_id for _, der, key_id in self._raw_certificates(session)}
        infos = self._classified(session)
        for usage in (SIGNATURE, AUTHENTICATION):
            for info in infos:
                key_id = raw.get(info.der)
                if info.usage != usage or not key_id:
                    continue
                with contextlib.suppress(p11.NoSuchKey):
                    key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
                    if isinstance(key, SignMixin):
                        return key
        raise TokenError("the card holds no private key for its certificates")


class Pkcs11TokenProvider:
    """Finds the token of the card in a reader."""

    def __init__(
        self,
        module: Pkcs11Module,
        card_number_of: Callable[[str | None], str | None] | None = None,
        profile: str = "init_pin",
        pin_policy: PinPolicySettings | None = None,
        policy_levels: Sequence[PolicyLevel] = (),
        trust_anchors: Sequence[bytes] = (),
        now: Callable[[], datetime] | None = None,
        labels_carry_number: bool = False,
        use_pin_pad: bool = True,
    ) -> None:
        self.module = module
        self.card_number_of = card_number_of
        self.labels_carry_number = labels_carry_number
        self.use_pin_pad = use_pin_pad
        self._token_args = (profile, pin_policy, tuple(policy_levels), tuple(trust_anchors), now)

    @classmethod
    def from_settings(
        cls,
        module: Pkcs11Module,
        settings: Settings,
        card_number_of: Callable[[str | None], str | None] | None = None,
    ) -> Pkcs11TokenProvider:
        """A provider with the card profile, PIN policy, policy OIDs and trust anchors set."""
        hw = settings.hardware
        return cls(
            module,
            card_number_of=card_number_of,
            profile=hw.card_profile,
            pin_policy=settings.pin_policy,
            policy_levels=hw.policy_levels,
            trust_anchors=load_trust_anchors(hw.trust_anchors),
            use_pin_pad=hw.use_reader_pin_pad,
        )

    def open(self, reader: str | None = None) -> Pkcs11Token:
        """The token of the card now in ``reader``: by reader slot, card number, or the only one.

        OpenSC names each slot after its reader; SoftHSM2 demo tokens carry the card
        number in their label. With ``labels_carry_number`` a card whose number matches
        no label is refused rather than matched to the only token present.
        """
        with self.module.lock:
            try:
                tokens = [
                    (slot, slot.get_token())
                    for slot in self.module.lib.get_slots(token_present=True)
                ]
            except pkcs11.PKCS11Error as exc:
                raise pkcs11_error(exc, "list tokens") from None
        if not tokens:
            raise CardRemoved("no card token is present")
        chosen: pkcs11.Token | None = None
        if reader:
            chosen = next((t for s, t in tokens if reader in s.slot_description), None)
        number = self.card_number_of(reader) if self.card_number_of and chosen is None else None
        if chosen is None and number:
            chosen = next(
                (
                    t
                    for _, t in tokens
                    if t.label.strip().endswith(number) or _token_serial(t) == number.encode()
                ),
                None,
            )
        if chosen is None and len(tokens) == 1 and not (number and self.labels_carry_number):
            chosen = tokens[0][1]
        if chosen is None:
            raise CardUnreadable(
                "cannot tell which PKCS#11 token belongs to the card", card_number=number
            )
        profile, policy, levels, anchors, now = self._token_args
        return Pkcs11Token(
            self.module,
            chosen.label,
            _token_serial(chosen),
            profile,
            policy,
            levels,
            anchors,
            now,
            use_pin_pad=self.use_pin_pad,
        )
