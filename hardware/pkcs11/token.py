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
from dataclasses import replace
from datetime import datetime

import pkcs11
from pkcs11 import Attribute, Mechanism, ObjectClass, TokenFlag
from pkcs11 import exceptions as p11
from pkcs11.types import SignMixin

from hardware.certs import (
    AUTHENTICATION,
    SIGNATURE,
    classify_card_certificates,
    is_ca,
    load_certificate,
    load_trust_anchors,
)
from hardware.pinformat import held_pin
from hardware.pkcs11.csr import algorithm_of, certification_request, rsa_public_key_info
from hardware.pkcs11.errors import pkcs11_error
from hardware.pkcs11.module import Pkcs11Module
from hardware.pkcs11.quirks import VendorQuirks
from kiosk.errors import CardRemoved, CardUnreadable, ConfigError, PinLocked, TokenError
from kiosk.handout import AdminSignature
from kiosk.model import CertificateInfo
from kiosk.ports import CardKey, KeyAlgorithm, PinRole, PinStatus
from kiosk.settings import PinPolicySettings, PolicyLevel, Settings

log = logging.getLogger(__name__)

PROFILES = ("init_pin", "transport_pin")
# A token label with one of these marks is the signature-PIN token of a two-PIN card
# (OpenSC names each PIN's slot "<card> (<PIN label>)"; the demo cards use "PIN2").
SIGNATURE_LABEL_MARKS = ("PIN2", "SIGNATURE", "UNDERSKRIFT")
# What the kiosk asks a card for, in order of preference (SITHS cards carry RSA keys).
KEY_PREFERENCE = (KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P256)
_KEYGEN = {
    KeyAlgorithm.RSA_2048: (Mechanism.RSA_PKCS_KEY_PAIR_GEN, 2048),
    KeyAlgorithm.EC_P256: (Mechanism.EC_KEY_PAIR_GEN, 256),
}
PAD_PIN = ""  # C_InitPIN / C_SetPIN: take this PIN on the reader's pad (empty_pin_uses_pad)


def _token_serial(token: pkcs11.Token) -> bytes:
    return bytes(token.serial).rstrip(b" \x00")


def is_signature_token(label: str) -> bool:
    """Whether a token label names a card's signature-PIN token (SIGNATURE_LABEL_MARKS)."""
    upper = label.upper()
    return any(mark in upper for mark in SIGNATURE_LABEL_MARKS)


def _capable(mechanism: Mechanism, size: int, available: set[Mechanism], info: object) -> bool:
    if mechanism not in available:
        return False
    low, high = getattr(info, "min_key_length", None), getattr(info, "max_key_length", None)
    if mechanism is Mechanism.EC_KEY_PAIR_GEN and high is not None and high < 64:
        return True  # some modules give EC sizes in bytes
    return (low is None or low <= size) and (high is None or high >= size)


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
        signature_serial: bytes | None = None,
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
        self.signature_serial = signature_serial

    @property
    def quirks(self) -> VendorQuirks:
        """How this module differs from a card that follows PKCS#11 to the letter."""
        return self.module.quirks

    # --- plumbing ---------------------------------------------------------------------

    def _serial(self, role: PinRole) -> bytes:
        if role is PinRole.SIGNATURE and self.signature_serial is not None:
            return self.signature_serial
        return self.serial

    def _token(self, role: PinRole = PinRole.AUTHENTICATION) -> pkcs11.Token:
        serial = self._serial(role)
        try:
            for slot in self.module.lib.get_slots(token_present=True):
                token = slot.get_token()
                if _token_serial(token) == serial:
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
        role: PinRole = PinRole.AUTHENTICATION,
    ) -> Iterator[pkcs11.Session]:
        """A session, logged in if a PIN is given; ``pad``: a PIN is typed on the reader."""
        with self.module.lock:
            token = self._token(role)
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

    def _login_pin(self, pin: str | None, role: PinRole = PinRole.AUTHENTICATION) -> str | object:
        """What C_Login gets: PROTECTED_AUTH for a PIN typed on the pad, else the PIN."""
        if pin is None and self.pin_pad(role):
            return pkcs11.PROTECTED_AUTH
        return held_pin(pin, self.pin_policy)

    def _new_pin(self, pin: str | None, role: PinRole = PinRole.AUTHENTICATION) -> str:
        """What C_InitPIN / C_SetPIN get: "" for a PIN typed on the pad, else the PIN."""
        if pin is None and self.pin_pad(role):
            return PAD_PIN
        return held_pin(pin, self.pin_policy)

    # --- the Token port ----------------------------------------------------------------

    def pin_pad(self, role: PinRole = PinRole.AUTHENTICATION) -> bool:
        """Whether PINs are typed on the reader's own pad (protected auth path, if allowed)."""
        if not (self.use_pin_pad and self.quirks.empty_pin_uses_pad):
            return False
        with self.module.lock:
            return bool(self._token(role).flags & TokenFlag.PROTECTED_AUTHENTICATION_PATH)

    def pin_status(self, role: PinRole = PinRole.AUTHENTICATION) -> PinStatus:
        """The user PIN's state as the token reports it."""
        with self.module.lock:
            flags = self._token(role).flags
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

    def admin_sign_in_and_sign(
        self, pin: str | None, data: bytes
    ) -> tuple[CertificateInfo, AdminSignature]:
        """Sign in and, in the same login, sign ``data`` with the authentication key."""
        login = self._login_pin(pin)
        with self._session("admin sign-in", user_pin=login, pad=pin is None) as session:
            raw = self._raw_certificates(session)
            certs = self._classify(raw)
            auth = next((info for info in certs if info.usage == AUTHENTICATION), None)
            if auth is None:
                raise CardUnreadable("the card holds no authentication certificate")
            key_id = next((kid for _, der, kid in raw if der == auth.der), b"")
            try:
                key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
            except (p11.NoSuchKey, p11.MultipleObjectsReturned):
                raise TokenError("the card holds no one key for its authentication "
                                 "certificate") from None
            if not isinstance(key, SignMixin):
                raise TokenError("the authentication key cannot sign")
            signature = _sign_with(key, data)
            chain = tuple(der for _, der, _ in raw if is_ca(load_certificate(der)))
        return auth, AdminSignature(auth.der, signature, chain)

    def set_initial_pin(self, credential: str, new_pin: str | None) -> None:
        """Write the first PIN: C_InitPIN as SO, or C_SetPIN from the transport PIN."""
        new, pad = self._new_pin(new_pin), new_pin is None
        if self.profile == "init_pin":
            with self._session("write first PIN", so_pin=credential, rw=True, pad=pad) as session:
                session.init_pin(new)
        else:
            with self._session("write first PIN", user_pin=credential, rw=True, pad=pad) as session:
                session.set_pin(credential, new)

    def verify_pin(self, pin: str | None) -> None:
        """Log in with the user PIN (on the reader's pad for None) and out: nothing changes.

        A refusal is WrongPin (tries left when the token reports them) or PinLocked; the
        failed login re-initialises the module, as every login here does (SoftHSM2).
        """
        login = self._login_pin(pin)
        with self._session("verify PIN", user_pin=login, pad=pin is None):
            pass

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
        """The card's end-entity certificates on both its tokens, classified (no PIN needed)."""
        raw: list[tuple[str, bytes, bytes]] = []
        for role in self._roles():
            with self._session("read certificates", role=role) as session:
                raw.extend(r for r in self._raw_certificates(session) if r not in raw)
        return self._classify(raw)

    def sign_receipt(self, pin: str | None, receipt: bytes) -> bytes:
        """Log in with ``pin`` and sign ``receipt`` (SHA-256) with the signature key."""
        login = self._login_pin(pin)
        with self._session("sign receipt", user_pin=login, pad=pin is None) as session:
            return _sign_with(self._signing_key(session), receipt)

    # --- key pairs and certificates (kiosk.ports.CertificateToken) -------------------------

    def _roles(self) -> tuple[PinRole, ...]:
        if self.signature_serial is None:
            return (PinRole.AUTHENTICATION,)
        return (PinRole.AUTHENTICATION, PinRole.SIGNATURE)

    def has_signature_pin(self) -> bool:
        """Whether the card shows a second token for its signature PIN."""
        return self.signature_serial is not None

    def signature_pin_status(self) -> PinStatus:
        """The signature PIN's state (the authentication PIN's on a one-PIN card)."""
        return self.pin_status(PinRole.SIGNATURE)

    def set_signature_pin(self, credential: str, new_pin: str | None) -> None:
        """C_InitPIN as SO on the signature token sets the holder's signature PIN."""
        role = PinRole.SIGNATURE
        new, pad = self._new_pin(new_pin, role), new_pin is None
        with self._session(
            "set signature PIN", so_pin=credential, rw=True, pad=pad, role=role
        ) as session:
            session.init_pin(new)

    def key_algorithms(self, role: PinRole) -> tuple[KeyAlgorithm, ...]:
        """The key pairs the token can generate, RSA 2048 first."""
        with self.module.lock:
            slot = self._token(role).slot
            try:
                available = slot.get_mechanisms()
                return tuple(
                    algorithm
                    for algorithm in KEY_PREFERENCE
                    if _capable(
                        _KEYGEN[algorithm][0],
                        _KEYGEN[algorithm][1],
                        available,
                        slot.get_mechanism_info(_KEYGEN[algorithm][0])
                        if _KEYGEN[algorithm][0] in available
                        else None,
                    )
                )
            except pkcs11.PKCS11Error as exc:
                raise pkcs11_error(exc, "list key mechanisms") from None

    def card_keys(self) -> list[CardKey]:
        """The card's key pairs, from the public key objects of both tokens."""
        found: list[CardKey] = []
        for role in self._roles():
            with self._session("read keys", role=role) as session:
                for key in session.get_objects({Attribute.CLASS: ObjectClass.PUBLIC_KEY}):
                    card_key = _card_key(key, role)
                    if card_key is not None:
                        found.append(card_key)
        return found

    def private_key_ids(self, role: PinRole, pin: str | None) -> frozenset[bytes]:
        """The CKA_IDs of the private key objects on ``role``'s token (logged in)."""
        login = self._login_pin(pin, role)
        with self._session("read keys", user_pin=login, pad=pin is None, role=role) as session:
            return frozenset(
                bytes(key[Attribute.ID])
                for key in session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})
            )

    def generate_key_pair(
        self,
        role: PinRole,
        pin: str | None,
        key_id: bytes,
        label: str,
        algorithm: KeyAlgorithm | None = None,
    ) -> CardKey:
        """A new key pair on the card: private key sensitive, never extractable, signing.

        If a key pair with ``key_id`` is there already (a retry), it is returned instead.
        """
        offered = self.key_algorithms(role)
        chosen = algorithm or (offered[0] if offered else None)
        if chosen is None or chosen not in offered:
            raise TokenError(
                f"the card cannot generate {chosen or 'RSA 2048 or EC P-256'} key pairs",
                reason="key_algorithm",
            )
        login = self._login_pin(pin, role)
        with self._session(
            "generate key pair", user_pin=login, rw=True, pad=pin is None, role=role
        ) as session:
            existing = _public_key(session, key_id)
            if existing is not None:
                card_key = _card_key(existing, role)
                if card_key is not None:
                    return card_key
            decrypt = chosen is KeyAlgorithm.RSA_2048 and role is PinRole.AUTHENTICATION
            private_template = {
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.SIGN: True,
                Attribute.DECRYPT: decrypt,
                Attribute.UNWRAP: False,
                Attribute.DERIVE: False,
            }
            public_template = {
                Attribute.TOKEN: True,
                Attribute.PRIVATE: False,
                Attribute.VERIFY: True,
                Attribute.ENCRYPT: False,
                Attribute.WRAP: False,
            }
            if chosen is KeyAlgorithm.RSA_2048:
                public, _ = session.generate_keypair(
                    pkcs11.KeyType.RSA,
                    2048,
                    id=key_id,
                    label=label,
                    store=True,
                    public_template=public_template,
                    private_template=private_template,
                )
            else:
                from pkcs11.util.ec import encode_named_curve_parameters

                params = session.create_domain_parameters(
                    pkcs11.KeyType.EC,
                    {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                    local=True,
                )
                public, _ = params.generate_keypair(
                    id=key_id,
                    label=label,
                    store=True,
                    public_template=public_template,
                    private_template=private_template,
                )
            card_key = _card_key(public, role)
        if card_key is None:
            raise TokenError("the card made a key pair it cannot describe")
        log.info("key pair %s (%s) generated on the card", key_id.hex(), chosen)
        return card_key

    def certificate_request(
        self, role: PinRole, pin: str | None, key_id: bytes, common_name: str, serial_number: str
    ) -> bytes:
        """A PKCS#10 request for ``key_id``, signed on the card by that key (asn1crypto)."""
        login = self._login_pin(pin, role)
        with self._session(
            "sign certificate request", user_pin=login, pad=pin is None, role=role
        ) as session:
            public = _public_key(session, key_id)
            card_key = _card_key(public, role) if public is not None else None
            if card_key is None:
                raise TokenError(f"no key pair {key_id.hex()} on the card", reason="no_key")
            private = _private_key(session, key_id)
            return certification_request(
                card_key.public_key,
                common_name,
                serial_number,
                lambda info: _sign_with(private, info),
            )

    def write_certificate(
        self, role: PinRole, pin: str | None, key_id: bytes, label: str, der: bytes
    ) -> None:
        """Store ``der`` as the certificate of key ``key_id`` (an older one with the id goes)."""
        from pkcs11.util.x509 import decode_x509_certificate

        load_certificate(der)  # refuse what does not parse before touching the card
        login = self._login_pin(pin, role)
        with self._session(
            "write certificate", user_pin=login, rw=True, pad=pin is None, role=role
        ) as session:
            for old in list(
                session.get_objects(
                    {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.ID: key_id}
                )
            ):
                if bytes(old[Attribute.VALUE]) == der:
                    return
                old.destroy()
            attrs = dict(decode_x509_certificate(der))
            attrs.update(
                {
                    Attribute.ID: key_id,
                    Attribute.LABEL: label,
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: False,
                }
            )
            session.create_object(attrs)

    def delete_key_pair(self, role: PinRole, pin: str | None, key_id: bytes) -> None:
        """Destroy the certificate, private key and public key with CKA_ID ``key_id``."""
        login = self._login_pin(pin, role)
        with self._session(
            "delete key pair", user_pin=login, rw=True, pad=pin is None, role=role
        ) as session:
            for object_class in (
                ObjectClass.CERTIFICATE,
                ObjectClass.PRIVATE_KEY,
                ObjectClass.PUBLIC_KEY,
            ):
                for obj in list(
                    session.get_objects({Attribute.CLASS: object_class, Attribute.ID: key_id})
                ):
                    obj.destroy()

    def sign(self, role: PinRole, pin: str | None, key_id: bytes, data: bytes) -> bytes:
        """Log in with the ``role`` PIN and sign ``data`` with the key ``key_id``."""
        login = self._login_pin(pin, role)
        with self._session("sign", user_pin=login, pad=pin is None, role=role) as session:
            return _sign_with(_private_key(session, key_id), data)

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
        return self._classify(self._raw_certificates(session))

    def _classify(self, raw: list[tuple[str, bytes, bytes]]) -> list[CertificateInfo]:
        moment = self._now() if self._now else None
        infos = classify_card_certificates(
            [(label, der) for label, der, _ in raw],
            self.policy_levels,
            self.trust_anchors,
            moment,
        )
        key_ids = {der: key_id for _, der, key_id in raw}
        return [replace(info, key_id=key_ids.get(info.der, b"")) for info in infos]

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
        signature_tokens = [(s, t) for s, t in tokens if is_signature_token(t.label)]
        tokens = [(s, t) for s, t in tokens if not is_signature_token(t.label)]
        if not tokens:
            raise CardUnreadable("the card shows only its signature-PIN token")
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
        signature = _signature_token_of(chosen, reader, signature_tokens, tokens)
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
            signature_serial=_token_serial(signature) if signature is not None else None,
        )


def _signature_token_of(
    chosen: pkcs11.Token,
    reader: str | None,
    signature_tokens: list[tuple[pkcs11.Slot, pkcs11.Token]],
    others: list[tuple[pkcs11.Slot, pkcs11.Token]],
) -> pkcs11.Token | None:
    """The signature-PIN token of the card whose authentication token is ``chosen``.

    A marked token (SIGNATURE_LABEL_MARKS) whose label starts as ``chosen``'s does, or
    one on the same reader; failing that, a second unmarked token on the same reader.
    """
    base = chosen.label.strip()
    for slot, token in signature_tokens:
        if token.label.strip().startswith(base) or (reader and reader in slot.slot_description):
            return token
    if reader:
        same_reader = [t for s, t in others if reader in s.slot_description and t is not chosen]
        if same_reader:
            return same_reader[0]
    return None


def _sign_with(key: SignMixin, data: bytes) -> bytes:
    """SHA-256 signature on the card: PKCS#1 v1.5 for RSA, DER-encoded ECDSA for EC."""
    if key.key_type == pkcs11.KeyType.EC:
        from cryptography.hazmat.primitives import hashes
        from pkcs11.util.ec import encode_ecdsa_signature

        digest = hashes.Hash(hashes.SHA256())
        digest.update(data)
        raw = key.sign(digest.finalize(), mechanism=Mechanism.ECDSA)
        return encode_ecdsa_signature(raw)
    signature: bytes = key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS)
    return signature


def _public_key(session: pkcs11.Session, key_id: bytes) -> pkcs11.PublicKey | None:
    try:
        key = session.get_key(object_class=ObjectClass.PUBLIC_KEY, id=key_id)
    except p11.NoSuchKey:
        return None
    except p11.MultipleObjectsReturned:
        raise TokenError(f"more than one public key {key_id.hex()} on the card") from None
    if not isinstance(key, pkcs11.PublicKey):
        return None
    return key


def _private_key(session: pkcs11.Session, key_id: bytes) -> SignMixin:
    try:
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
    except (p11.NoSuchKey, p11.MultipleObjectsReturned):
        raise TokenError(
            f"no single private key {key_id.hex()} on the card", reason="no_key"
        ) from None
    if not isinstance(key, SignMixin):
        raise TokenError(f"private key {key_id.hex()} cannot sign")
    return key


def _card_key(key: object, role: PinRole) -> CardKey | None:
    """A public key object described as a CardKey; None for a key type the kiosk does not use."""
    from pkcs11.util.ec import encode_ec_public_key
    from pkcs11.util.rsa import encode_rsa_public_key

    if not isinstance(key, pkcs11.PublicKey):
        return None
    try:
        if key.key_type == pkcs11.KeyType.RSA:
            spki = rsa_public_key_info(encode_rsa_public_key(key))
        elif key.key_type == pkcs11.KeyType.EC:
            spki = encode_ec_public_key(key)
        else:
            return None
        algorithm = algorithm_of(spki)
    except TokenError:
        return None
    return CardKey(
        key_id=bytes(key[Attribute.ID]),
        label=str(key[Attribute.LABEL]),
        role=role,
        algorithm=algorithm,
        public_key=spki,
    )
