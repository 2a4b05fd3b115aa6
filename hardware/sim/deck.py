"""The simulated deck of cards, its fault hooks, and the token wrapper that honours them.

SoftHSM2 (and the memory token) never count wrong PINs, so where the token's quirks say
it does not lock, ``SimToken`` keeps the tries itself: three wrong PINs lock the PIN
until it is unlocked with the SO credential, as on a SITHS card.

A PIN of None (kiosk.ports.ON_READER_PAD) is typed on the reader's own pad: the inner
token's, if it has one (PKCS#11 protected authentication path), else the simulated
reader's ``SimulatedPinPad`` (hardware.sim_pin_pad), which asks a new PIN twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from hardware.pinformat import check_pin_format, held_pin
from hardware.pkcs11.quirks import VendorQuirks
from hardware.sim.cast import SimCard
from hardware.sim.pinpad import PadPrompt, SimulatedPinPad
from hardware.sim.reader import ADMIN_READER_NAME
from kiosk.errors import (
    CardRemoved,
    CardUnreadable,
    InvalidInput,
    KioskError,
    PinEntryCancelled,
    PinLocked,
    TokenError,
    WrongPin,
)
from kiosk.handout import AdminSignature
from kiosk.model import CertificateInfo
from kiosk.ports import CardKey, CertificateToken, KeyAlgorithm, PinRole, PinStatus, Token
from kiosk.settings import PinPolicySettings

log = logging.getLogger(__name__)

FAULTS = ("remove_mid_write", "wrong_pin", "locked_pin", "token_error")
# the SimToken methods a per-method fault (SimDeck.fail_next) can be armed on
TOKEN_METHODS = (
    "pin_status", "admin_sign_in", "admin_sign_in_and_sign", "set_initial_pin", "verify_pin",
    "change_pin",
    "unlock_pin", "certificates", "sign_receipt", "has_signature_pin", "signature_pin_status",
    "set_signature_pin", "key_algorithms", "card_keys", "private_key_ids", "generate_key_pair",
    "certificate_request", "write_certificate", "delete_key_pair", "sign",
)
MAX_PIN_TRIES = 3
T = TypeVar("T")


class QuirkyToken(Token, Protocol):
    @property
    def quirks(self) -> VendorQuirks:
        """How the token differs from a card that follows PKCS#11 to the letter."""
        ...


@dataclass
class SimCardState:
    """What the simulation remembers of one card while the demo runs (never a PIN)."""

    pin_set: bool
    wrong_tries: int = 0
    locked: bool = False


class SimDeck:
    """CardDeck: insert and remove simulated cards, arm one-shot faults (named ones, and
    per token method: the next call of that method raises the KioskError given)."""

    def __init__(
        self,
        cards: tuple[SimCard, ...],
        place: Callable[[SimCard | None], None],
        place_admin: Callable[[SimCard | None], None] | None = None,
    ) -> None:
        self._cards = {c.card_number: c for c in cards}
        self._place = place
        self._place_admin = place_admin  # the administrator's reader (two-reader demo)
        self._lock = threading.Lock()
        self._current: SimCard | None = None
        self.admin_current: SimCard | None = None
        self._fault: str | None = None
        self._method_faults: dict[str, KioskError] = {}
        self.states = {c.card_number: SimCardState(pin_set=c.pin is not None) for c in cards}

    def cards(self) -> list[str]:
        """Card numbers of every simulated card."""
        return list(self._cards)

    def put_card(self, card: SimCard) -> None:
        """Add ``card`` to the deck, or put it in place of the deck's card of its number;
        its state starts afresh (its PIN set or not as the card says)."""
        with self._lock:
            self._cards[card.card_number] = card
            self.states[card.card_number] = SimCardState(pin_set=card.pin is not None)

    def card(self, card_number: str) -> SimCard:
        """One simulated card; InvalidInput for an unknown number."""
        try:
            return self._cards[card_number]
        except KeyError:
            raise InvalidInput(f"no simulated card {card_number!r}") from None

    @property
    def current(self) -> SimCard | None:
        """The card in the reader now."""
        return self._current

    def insert(self, card_number: str) -> None:
        """Put a card in the reader (taking out any other first)."""
        card = self.card(card_number)
        with self._lock:
            self._current = card
        self._place(card)

    @property
    def two_readers(self) -> bool:
        """Whether the administrator's card has a reader of its own."""
        return self._place_admin is not None

    def insert_admin(self, card_number: str) -> None:
        """Put a card in the administrator's reader (two-reader demo)."""
        if self._place_admin is None:
            raise InvalidInput("the demo has one reader (hardware.admin_reader is empty)")
        card = self.card(card_number)
        with self._lock:
            self.admin_current = card
        self._place_admin(card)

    def remove_admin(self) -> None:
        """Take the card out of the administrator's reader."""
        with self._lock:
            had = self.admin_current is not None
            self.admin_current = None
        if had and self._place_admin is not None:
            self._place_admin(None)

    def remove(self) -> None:
        """Take the card out of the reader."""
        with self._lock:
            had = self._current is not None
            self._current = None
        if had:
            self._place(None)

    def set_fault(self, fault: str | None) -> None:
        """Arm a one-shot fault (one of FAULTS) or clear it with None."""
        if fault is not None and fault not in FAULTS:
            raise InvalidInput(f"unknown fault {fault!r}; one of {', '.join(FAULTS)}")
        with self._lock:
            self._fault = fault
        log.info("simulated fault armed: %s", fault)

    def fail_next(self, method: str, error: KioskError) -> None:
        """Arm a one-shot fault on one token method (one of TOKEN_METHODS): its next call,
        on whichever card, raises ``error`` before it touches the card."""
        if method not in TOKEN_METHODS:
            raise InvalidInput(f"no token method {method!r}; one of {', '.join(TOKEN_METHODS)}")
        with self._lock:
            self._method_faults[method] = error
        log.info("simulated fault armed on %s: %s", method, type(error).__name__)

    def take_method_fault(self, method: str) -> KioskError | None:
        """The error armed on ``method``, if any; it is disarmed by being taken."""
        with self._lock:
            return self._method_faults.pop(method, None)

    def take_fault(self, fault: str) -> bool:
        """Whether ``fault`` is armed; it is disarmed by being taken."""
        with self._lock:
            if self._fault == fault:
                self._fault = None
                return True
            return False


def _key_token(inner: QuirkyToken) -> CertificateToken:
    """The inner token's key-pair side; TokenError when it has none."""
    if not isinstance(inner, CertificateToken):
        raise TokenError("this simulated card cannot make key pairs", reason="no_key_support")
    return inner


class _SimKeys:
    """SimToken's CertificateToken methods: guarded like the PIN calls (the card must be in
    the reader; faults fire), authentication-PIN work counted as tries, then delegated."""

    inner: QuirkyToken

    def _guard(self, method: str) -> None:  # pragma: no cover - SimToken's
        raise NotImplementedError

    def _with_pin(self, role: PinRole, action: Callable[[], T]) -> T:
        raise NotImplementedError  # pragma: no cover - SimToken's

    def has_signature_pin(self) -> bool:
        """Whether the simulated card has a signature-PIN token (as the cast's card says)."""
        self._guard("has_signature_pin")
        return isinstance(self.inner, CertificateToken) and self.inner.has_signature_pin()

    def signature_pin_status(self) -> PinStatus:
        """The signature PIN's state as the token reports it."""
        self._guard("signature_pin_status")
        return _key_token(self.inner).signature_pin_status()

    def set_signature_pin(self, credential: str, new_pin: str | None) -> None:
        """Set the signature PIN with the SO credential."""
        self._guard("set_signature_pin")
        _key_token(self.inner).set_signature_pin(credential, new_pin)

    def key_algorithms(self, role: PinRole) -> tuple[KeyAlgorithm, ...]:
        """What the token can generate."""
        self._guard("key_algorithms")
        return _key_token(self.inner).key_algorithms(role)

    def card_keys(self) -> list[CardKey]:
        """The key pairs on the card."""
        self._guard("card_keys")
        return _key_token(self.inner).card_keys()

    def private_key_ids(self, role: PinRole, pin: str | None) -> frozenset[bytes]:
        """The ids of the private keys under ``role``'s PIN."""
        self._guard("private_key_ids")
        keys = _key_token(self.inner)
        return self._with_pin(role, lambda: keys.private_key_ids(role, pin))

    def generate_key_pair(
        self,
        role: PinRole,
        pin: str | None,
        key_id: bytes,
        label: str,
        algorithm: KeyAlgorithm | None = None,
    ) -> CardKey:
        """A key pair made on the card."""
        self._guard("generate_key_pair")
        keys = _key_token(self.inner)
        return self._with_pin(
            role, lambda: keys.generate_key_pair(role, pin, key_id, label, algorithm)
        )

    def certificate_request(
        self, role: PinRole, pin: str | None, key_id: bytes, common_name: str, serial_number: str
    ) -> bytes:
        """A PKCS#10 request signed on the card."""
        self._guard("certificate_request")
        keys = _key_token(self.inner)
        return self._with_pin(
            role,
            lambda: keys.certificate_request(role, pin, key_id, common_name, serial_number),
        )

    def write_certificate(
        self, role: PinRole, pin: str | None, key_id: bytes, label: str, der: bytes
    ) -> None:
        """A certificate written beside its key pair."""
        self._guard("write_certificate")
        keys = _key_token(self.inner)
        self._with_pin(role, lambda: keys.write_certificate(role, pin, key_id, label, der))

    def delete_key_pair(self, role: PinRole, pin: str | None, key_id: bytes) -> None:
        """A certificate and its key pair removed."""
        self._guard("delete_key_pair")
        keys = _key_token(self.inner)
        self._with_pin(role, lambda: keys.delete_key_pair(role, pin, key_id))

    def sign(self, role: PinRole, pin: str | None, key_id: bytes, data: bytes) -> bytes:
        """A signature with the key ``key_id``."""
        self._guard("sign")
        keys = _key_token(self.inner)
        return self._with_pin(role, lambda: keys.sign(role, pin, key_id, data))


class SimToken(_SimKeys):
    """A card token with the deck's fault hooks and, where needed, PIN tries and locking.

    It is a kiosk.ports.CertificateToken: key pairs and certificates pass through to the
    inner token (SoftHSM2 or memory); an inner token without them refuses (no_key_support).
    """

    def __init__(
        self,
        inner: QuirkyToken,
        card: SimCard,
        deck: SimDeck,
        pin_policy: PinPolicySettings,
        pad: SimulatedPinPad | None = None,
    ) -> None:
        self.inner = inner
        self.card = card
        self.deck = deck
        self.state = deck.states[card.card_number]
        self.pin_policy = pin_policy
        self.pad = pad
        self.counts_tries = not inner.quirks.locks_pin

    def _guard(self, method: str) -> None:
        if self.card not in (self.deck.current, self.deck.admin_current):
            raise CardRemoved("the card left the reader", card_number=self.card.card_number)
        armed = self.deck.take_method_fault(method)
        if armed is not None:
            raise armed
        if self.deck.take_fault("token_error"):
            raise TokenError("simulated token error")
        if self.deck.take_fault("locked_pin"):
            self.state.locked = True

    def _with_user_pin(self, action: Callable[[], T]) -> T:
        if self.state.locked:
            raise PinLocked("the PIN is locked")
        if not self.state.pin_set:
            raise TokenError("the card has no user PIN yet", reason="pin_not_initialised")
        if self.deck.take_fault("wrong_pin"):
            self._wrong(WrongPin("simulated wrong PIN"))
        try:
            result = action()
        except WrongPin as exc:
            self._wrong(exc)
        self.state.wrong_tries = 0
        return result

    def _wrong(self, exc: WrongPin) -> Any:
        if not self.counts_tries:
            raise exc
        self.state.wrong_tries += 1
        left = MAX_PIN_TRIES - self.state.wrong_tries
        if left <= 0:
            self.state.locked = True
            raise PinLocked("the PIN is locked after too many wrong tries")
        raise WrongPin(exc.detail, tries_left=left)

    def _before_write(self, *new_pins: str | None) -> None:
        for pin in new_pins:
            if pin is not None:  # None: the inner token's own pad takes it
                check_pin_format(pin, self.pin_policy)
        if self.deck.take_fault("remove_mid_write"):
            self.deck.remove()
            raise CardRemoved("the card was pulled out while the PIN was written")

    def _pin(self, pin: str | None, prompt: PadPrompt) -> str | None:
        """``pin``; for None: None if the inner token has a pad, else asked on ours."""
        if pin is not None or self.inner.pin_pad():
            return pin
        if self.pad is None:
            return held_pin(pin, self.pin_policy)
        return self._ask(prompt)

    def _ask(self, prompt: PadPrompt) -> str:
        """Ask on the reader's pad; a card pulled out meanwhile ends the entry as CardRemoved."""
        return self._on_pad(lambda pad: pad.ask(prompt))

    def _on_pad(self, entry: Callable[[SimulatedPinPad], str]) -> str:
        if self.pad is None:
            raise TokenError("the simulated reader has no PIN pad", reason="no_pin_pad")
        try:
            return entry(self.pad)
        except PinEntryCancelled as ended:
            if self.deck.current is not self.card:
                raise CardRemoved(
                    "the card left the reader during PIN entry",
                    card_number=self.card.card_number,
                    entry_ended=ended.data.get("reason"),
                ) from None
            raise

    def _new_pin(self, pin: str | None) -> str | None:
        """As ``_pin`` for a new PIN: our pad asks it twice and compares, as a reader does."""
        if pin is not None or self.inner.pin_pad() or self.pad is None:
            return self._pin(pin, PadPrompt.NEW_PIN)
        return self._on_pad(SimulatedPinPad.ask_new)

    def _with_pin(self, role: PinRole, action: Callable[[], T]) -> T:
        """Key-pair work under ``role``'s PIN: the authentication PIN's tries are kept (as
        for every other use of it); the signature PIN's only by the token itself."""
        if role is PinRole.AUTHENTICATION or not _key_token(self.inner).has_signature_pin():
            return self._with_user_pin(action)
        return action()

    def pin_pad(self) -> bool:
        """Whether PINs are typed on the reader's own pad (the token's, or the simulated one)."""
        return self.pad is not None or self.inner.pin_pad()

    def pin_status(self) -> PinStatus:
        """The PIN's state, with the tries the simulation keeps."""
        self._guard("pin_status")
        inner = self.inner.pin_status()
        if not self.counts_tries:
            return inner
        return PinStatus(
            initialised=self.state.pin_set,
            count_low=self.state.wrong_tries > 0,
            final_try=self.state.wrong_tries == MAX_PIN_TRIES - 1,
            locked=self.state.locked,
        )

    def admin_sign_in(self, pin: str | None) -> CertificateInfo:
        """Log in with the administrator's PIN; their authentication certificate."""
        self._guard("admin_sign_in")
        return self._with_user_pin(lambda: self.inner.admin_sign_in(self._pin(pin, PadPrompt.PIN)))

    def admin_sign_in_and_sign(
        self, pin: str | None, data: bytes
    ) -> tuple[CertificateInfo, AdminSignature]:
        """Sign in and sign ``data`` in one PIN entry."""
        self._guard("admin_sign_in_and_sign")
        return self._with_user_pin(
            lambda: self.inner.admin_sign_in_and_sign(self._pin(pin, PadPrompt.PIN), data)
        )

    def set_initial_pin(self, credential: str, new_pin: str | None) -> None:
        """Write the holder's first PIN."""
        self._guard("set_initial_pin")
        new_pin = self._new_pin(new_pin)
        self._before_write(new_pin)
        self.inner.set_initial_pin(credential, new_pin)
        self.state.pin_set, self.state.locked, self.state.wrong_tries = True, False, 0

    def verify_pin(self, pin: str | None) -> None:
        """Log in with the user PIN and out (a try, as every login); on the pad: the PIN."""
        self._guard("verify_pin")
        self._with_user_pin(lambda: self.inner.verify_pin(self._pin(pin, PadPrompt.PIN)))

    def change_pin(self, old_pin: str | None, new_pin: str | None) -> None:
        """Change the PIN (the old one counts as a try); on the pad: old, new, new."""
        self._guard("change_pin")
        if new_pin is not None:
            check_pin_format(new_pin, self.pin_policy)

        def change() -> None:
            old = self._pin(old_pin, PadPrompt.OLD_PIN)
            new = self._new_pin(new_pin)
            self._before_write(new)
            self.inner.change_pin(old, new)

        self._with_user_pin(change)

    def unlock_pin(self, credential: str, new_pin: str | None) -> None:
        """Unlock with the SO credential and set a new PIN."""
        self._guard("unlock_pin")
        new_pin = self._new_pin(new_pin)
        self._before_write(new_pin)
        self.inner.unlock_pin(credential, new_pin)
        self.state.pin_set, self.state.locked, self.state.wrong_tries = True, False, 0

    def certificates(self) -> list[CertificateInfo]:
        """The card's certificates, classified."""
        self._guard("certificates")
        return self.inner.certificates()

    def sign_receipt(self, pin: str | None, receipt: bytes) -> bytes:
        """Log in and sign the receipt."""
        self._guard("sign_receipt")
        return self._with_user_pin(
            lambda: self.inner.sign_receipt(self._pin(pin, PadPrompt.PIN), receipt)
        )


class SimTokenProvider:
    """TokenProvider for the card in the simulated reader."""

    def __init__(
        self,
        deck: SimDeck,
        open_inner: Callable[[SimCard], QuirkyToken],
        pin_policy: PinPolicySettings,
        pad: SimulatedPinPad | None = None,
    ) -> None:
        self.deck = deck
        self.open_inner = open_inner
        self.pin_policy = pin_policy
        self.pad = pad

    def open(self, reader: str | None = None) -> SimToken:
        """The token of the card now in the reader (the administrator's, in theirs)."""
        card = self.deck.admin_current if reader == ADMIN_READER_NAME else self.deck.current
        if card is None:
            raise CardRemoved("no card in the reader")
        if card.owner is None:
            raise CardUnreadable("the card has no SITHS token", card_number=card.card_number)
        return SimToken(self.open_inner(card), card, self.deck, self.pin_policy, self.pad)

