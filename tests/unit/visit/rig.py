"""The visit unit tests' rig: hardware/sim's deck and memory cards, a portal double, the
real outbox.

The reader, the cast's cards, the cards' tokens, the reader's own PIN pad and the clock are
hardware/sim's: the memory reader, a ``SimDeck`` of ``demo_cards`` whose tokens are
``SimToken`` over ``MemoryToken`` (software keys, real certificates from a demo CA, PIN
tries and locking kept by the deck, one-shot faults armed with ``SimDeck.fail_next``),
``SimulatedPinPad`` and ``ManualClock``: one family of simulated hardware for the demo and
the tests. The result store is the real SQLite outbox in a folder of its own per rig.

The portal is ``FakePortal``: no in-memory portal exists, and the property tests would
not bear the TLS reference portal (tests/integration/portal runs that one). It issues real
certificates from the request's key with the portal's own CA code (portal.ca) under the
same demo root as the cards.

The slow material (the demo CA's and each card's RSA keys) is made once per process and
shared by every rig: a memory card is cheap to build from it, and makes EC P-256 keys on
the card (RSA generation would cost ~0.05 s a key).
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding

from hardware.sim.cast import FOREIGN_CARD, SimCard, demo_cards
from hardware.sim.clock import ManualClock
from hardware.sim.deck import SimDeck, SimTokenProvider
from hardware.sim.democa import DemoCA, PersonCredentials
from hardware.sim.memtoken import MemoryToken, memory_token
from hardware.sim.pinpad import SimulatedPinPad
from hardware.sim.reader import MEMORY_READER_NAME, MemoryReader
from kiosk.demo_cast import DEMO_OFFICE, DemoHolder, demo_admins, demo_holders, demo_so_pin
from kiosk.devicekey import DeviceKey
from kiosk.errors import (
    CardNotFound,
    PortalRejected,
    PortalUnreachable,
    TokenError,
    WrongPin,
)
from kiosk.model import (
    AdminAuthorisation,
    CardRecord,
    CardStatus,
    CertificateInfo,
    DocumentEvidence,
    Provenance,
    UnlockPurpose,
    VisitResult,
)
from kiosk.outbox import Outbox
from kiosk.pki import certificate_serial, signature_verifies
from kiosk.ports import (
    ActivationTicket,
    IssuedCertificate,
    KeyAlgorithm,
    PinLetterOrder,
    PinRole,
)
from kiosk.settings import KioskIdentitySettings, Settings
from portal.ca import IssuingCA, RequestInvalid, verify_request

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
TODAY = T0.date()
SETTINGS = Settings(kiosk=KioskIdentitySettings(card_office=DEMO_OFFICE))
READER = MEMORY_READER_NAME
SIM_CARDS = {card.card_number: card for card in demo_cards(TODAY)}


def holder(key: str) -> DemoHolder:
    return next(h for h in demo_holders(TODAY) if h.key == key)


def record_of(h: DemoHolder, **changes: Any) -> CardRecord:
    record = CardRecord(
        card_number=h.card_number,
        status=h.card_status,
        kind=h.card_kind,
        issuer=h.issuer,
        holder_name=h.name,
        personnummer=h.personnummer,
        hsa_id=h.hsa_id,
        trust_level=h.trust_level,
        manufactured=h.manufactured,
        valid_until=h.manufactured + timedelta(days=5 * 365),
    )
    return replace(record, **changes)


def evidence_of(h: DemoHolder, **changes: Any) -> DocumentEvidence:
    evidence = DocumentEvidence(
        doc_type=h.document,
        expiry=h.document_expiry,
        birth_date=None,
        personnummer=h.personnummer,
        document_number=h.document_number,
        how={"personnummer": Provenance.SCANNED},
    )
    return replace(evidence, **changes)


def admin_auth(index: int = 0) -> AdminAuthorisation:
    a = demo_admins(TODAY)[index]
    return AdminAuthorisation(a.hsa_id, a.name, DEMO_OFFICE, a.training_valid_until)


class FakePortal:
    def __init__(self) -> None:
        self.records = {h.card_number: record_of(h) for h in demo_holders(TODAY)}
        self.admins = {a.hsa_id: admin_auth(i) for i, a in enumerate(demo_admins(TODAY))}
        self.down = False
        self.rejects: dict[str, str] = {}
        self.calls: list[tuple[str, str]] = []  # (method, idempotency key or argument)
        self.unlock_purposes: list[UnlockPurpose] = []
        self.letters: dict[str, tuple[str, dict[str, Any]]] = {}  # PIN/PUK letters by key
        self.issued: dict[str, IssuedCertificate] = {}  # certificates by idempotency key

    def _gate(self, method: str) -> None:
        if self.down:
            raise PortalUnreachable("down")
        if method in self.rejects:
            raise PortalRejected(self.rejects[method])

    def card(self, card_number: str) -> CardRecord:
        self._gate("card")
        if card_number not in self.records:
            raise CardNotFound(card_number)
        return self.records[card_number]

    def authorise_admin(self, hsa_id: str) -> AdminAuthorisation:
        self._gate("authorise_admin")
        if hsa_id not in self.admins:
            raise PortalRejected("unknown_admin")
        return self.admins[hsa_id]

    def _ticket(self, card_number: str, now: datetime) -> ActivationTicket:
        return ActivationTicket(
            "ACT-" + card_number, card_number, demo_so_pin(card_number), now,
            now + timedelta(days=5),
        )

    def start_activation(
        self, card_number: str, admin_hsa_id: str, evidence: DocumentEvidence, idempotency_key: str
    ) -> ActivationTicket:
        self._gate("start_activation")
        self.calls.append(("start_activation", idempotency_key))
        self.records[card_number] = replace(self.records[card_number], activation_started=T0)
        return self._ticket(card_number, T0)

    def complete_activation(
        self,
        activation_id: str,
        receipt: bytes,
        signature: bytes,
        certificate: bytes,
        idempotency_key: str,
    ) -> CardRecord:
        self._gate("complete_activation")
        self.calls.append(("complete_activation", idempotency_key))
        number = activation_id.removeprefix("ACT-")
        self.records[number] = replace(self.records[number], status=CardStatus.ACTIVE)
        return self.records[number]

    def start_unlock(
        self, card_number: str, admin_hsa_id: str, evidence: DocumentEvidence,
        idempotency_key: str, purpose: UnlockPurpose = UnlockPurpose.UNLOCK,
    ) -> ActivationTicket:
        self._gate("start_unlock")
        self.calls.append(("start_unlock", idempotency_key))
        self.unlock_purposes.append(purpose)
        return self._ticket(card_number, T0)

    def block(
        self, card_number: str, admin_hsa_id: str, reason: str, idempotency_key: str,
        admin_statement: dict[str, Any] | None = None,
    ) -> CardRecord:
        self._gate("block")
        self.calls.append(("block", idempotency_key))
        self.records[card_number] = replace(self.records[card_number], status=CardStatus.BLOCKED)
        return self.records[card_number]

    def heartbeat(self, status: dict[str, Any]) -> None:
        return None

    # --- CertificatePortal: only the PIN/PUK letter order is used by a visit yet -------

    def order_pin_letter(
        self, card_number: str, admin_hsa_id: str, evidence: Mapping[str, Any],
        idempotency_key: str,
    ) -> PinLetterOrder:
        self._gate("order_pin_letter")
        self.calls.append(("order_pin_letter", idempotency_key))
        self.letters[idempotency_key] = (card_number, dict(evidence))
        return PinLetterOrder(idempotency_key, card_number, T0, T0 + timedelta(days=5))

    def issue_certificate(
        self, card_number: str, admin_hsa_id: str, kind: str, subject_id: str, request: bytes,
        idempotency_key: str, replaces: str | None = None, organisation: str | None = None,
    ) -> IssuedCertificate:
        """The portal CA's certificate for the request's key (checked as the portal does),
        valid two years; a repeated key is answered from its record."""
        self._gate("issue_certificate")
        self.calls.append(("issue_certificate", idempotency_key))
        if idempotency_key not in self.issued:
            try:
                verified = verify_request(request)
            except RequestInvalid as exc:
                raise PortalRejected(exc.reason) from None
            record = self.records[card_number]
            end = T0 + timedelta(days=730)
            made = portal_ca().issue(
                verified, record.holder_name, record.hsa_id, record.personnummer,
                int(record.trust_level), subject_id, kind == "signature", T0, end.date(),
                **({"organisation": organisation} if organisation else {}),
            )
            der = made.public_bytes(Encoding.DER)
            self.issued[idempotency_key] = IssuedCertificate(
                certificate_serial(der), card_number, kind, subject_id,
                made.subject.rfc4514_string(), made.issuer.rfc4514_string(),
                made.not_valid_before_utc, made.not_valid_after_utc,
                (made.not_valid_after_utc - T0).days, False, "valid", der,
                (portal_ca().issuing.cert_der,), replaces, organisation or "",
            )
        return self.issued[idempotency_key]

    def card_certificates(self, card_number: str) -> list[IssuedCertificate]:
        self._gate("card_certificates")
        return [c for c in self.issued.values() if c.card_number == card_number]

    def revoke_certificate(
        self, card_number: str, serial: str, admin_hsa_id: str, reason: str, idempotency_key: str,
        certificate: bytes | None = None,
    ) -> IssuedCertificate:
        self._gate("revoke_certificate")
        self.calls.append(("revoke_certificate", serial))
        raise PortalRejected("certificate_not_found")


# --- the material every rig shares (made once per process) ------------------------------


@functools.cache
def demo_ca() -> DemoCA:
    """The demo root and issuing CA of the cards and of the portal double."""
    return DemoCA.create(TODAY)


@functools.cache
def portal_ca() -> IssuingCA:
    """The portal's issuing CA (portal.ca) over the same demo root and issuing CA."""
    return IssuingCA(demo_ca().root, demo_ca().issuing, SETTINGS.hardware.policy_levels)


@functools.cache
def premade_keys(card_number: str) -> tuple[rsa.RSAPrivateKey, ...]:
    """The RSA keys of the card ``card_number``'s authentication, signature and additional
    pairs, made on its first use: every making of that card reuses them (no two cards
    share a key, so a signature made with the wrong card never verifies)."""
    return tuple(rsa.generate_private_key(65537, 2048) for _ in range(3))


def ends(days: int) -> date:
    """The day a certificate ending ``days`` days (and some hours) after T0 ends on."""
    return (T0 + timedelta(days=days + 1)).date()


@functools.cache
def credentials(
    card_number: str,
    hsa_id: bool = True,
    authentication_days: int | None = None,
    signature_days: int | None = None,
    additional: str | None = None,
) -> PersonCredentials:
    """The keys and certificates of the cast's card ``card_number`` (its certificates end
    where the days say, else five years after it was made; ``hsa_id`` False: certificates
    naming the holder by personnummer alone)."""
    owner = SIM_CARDS[card_number].owner
    assert owner is not None, card_number
    return demo_ca().issue_person(
        owner.given_names, owner.surname, owner.hsa_id if hsa_id else None, owner.personnummer,
        owner.trust_level, owner.valid_from, levels=SETTINGS.hardware.policy_levels,
        valid_until=ends(authentication_days) if authentication_days is not None else None,
        signature_until=ends(signature_days) if signature_days is not None else None,
        additional_organisation=additional,
        additional_until=ends(400) if additional else None,
        keys=premade_keys(card_number),
    )


def number_of(who: DemoHolder | str) -> str:
    return who if isinstance(who, str) else who.card_number


@dataclass
class Rig:
    """One test's hardware: the reader, the deck and its memory cards, the portal double,
    the outbox and the clock."""

    reader: MemoryReader
    deck: SimDeck
    tokens: SimTokenProvider
    portal: FakePortal
    store: Outbox
    clock: ManualClock
    cards: dict[str, MemoryToken] = field(default_factory=dict)  # made on first use
    made: dict[str, dict[str, Any]] = field(default_factory=dict)  # how each was made here

    def results(self) -> dict[str, VisitResult]:
        """The results the outbox holds (none is sent here), by idempotency key."""
        return {r.idempotency_key: r for _, r in self.store.pending()}

    def fail_store(self, failing: bool = True) -> None:
        """Make the outbox's database refuse every write (SQLite ``query_only``): each
        write raises the StorageError the outbox raises for a failing database."""
        self.store._conn.execute(f"PRAGMA query_only = {int(failing)}")

    def card(
        self,
        who: DemoHolder | str,
        pin: str | None,
        *,
        two_pins: bool = True,
        signature_pin: str | None = None,
        signature_days: int | None = 900,
        authentication_days: int = 900,
        additional: str | None = None,
        hsa_id: bool = True,
    ) -> MemoryToken:
        """Make (or make again) the cast's card of ``who`` as a memory card: user PIN
        ``pin``; a signature PIN of its own (``signature_pin``) on a ``two_pins`` card;
        an authentication certificate ending in ``authentication_days``, a signature one
        ending in ``signature_days`` (None: none), and an additional one from
        ``additional`` (CKA_ID 03, ending in 400 days)."""
        number = number_of(who)
        spec = dict(two_pins=two_pins, signature_pin=signature_pin,
                    signature_days=signature_days, authentication_days=authentication_days,
                    additional=additional, hsa_id=hsa_id)
        sim = replace(SIM_CARDS[number], pin=pin, two_pins=two_pins, signature_pin=signature_pin,
                      signature_certificate=signature_days is not None)
        self.deck.put_card(sim)
        creds = credentials(number, hsa_id, authentication_days, signature_days, additional)
        self.cards[number] = memory_token(sim, creds, SETTINGS,
                                          key_algorithms=(KeyAlgorithm.EC_P256,))
        self.made[number] = {"pin": pin, **spec}
        return self.cards[number]

    def add_additional(self, who: DemoHolder | str, organisation: str) -> CertificateInfo:
        """The card of ``who``, made again as it was (nothing has run on it yet) with an
        additional certificate (tilläggscertifikat) from ``organisation``."""
        number = number_of(who)
        spec = {**self.made[number], "additional": organisation}
        token = self.card(who, spec.pop("pin"), **spec)
        return next(c for c in token.certificates() if c.organisation == organisation)

    def memory(self, card: SimCard) -> MemoryToken:
        """The memory token of ``card`` (the cast's card as it is, on first use)."""
        if card.card_number not in self.cards:
            creds = credentials(card.card_number)
            self.cards[card.card_number] = memory_token(
                card, creds, SETTINGS, key_algorithms=(KeyAlgorithm.EC_P256,)
            )
        return self.cards[card.card_number]

    def insert(self, h: DemoHolder, pin: str | None = None, number_on_chip: bool = True
               ) -> MemoryToken:
        """``h``'s card in the reader (its number only on its back without ``number_on_chip``);
        made on first use with the user PIN ``pin`` and the cast's signature certificate
        and PIN."""
        if h.card_number not in self.cards:
            cast = SIM_CARDS[h.card_number]
            self.card(h, pin, two_pins=cast.two_pins, signature_pin=cast.signature_pin,
                      signature_days=900 if cast.signature_certificate else None)
        self.put(h.card_number, number_on_chip)
        return self.cards[h.card_number]

    def put(self, card_number: str | None, number_on_chip: bool = True) -> None:
        """The cast's card ``card_number`` in the reader (None: take the card out)."""
        if card_number is None:
            self.deck.remove()
            return
        card = self.deck.card(card_number)
        if card.number_on_chip is not number_on_chip:
            state = self.deck.states[card_number]  # the same card: its PIN state stays
            self.deck.put_card(replace(card, number_on_chip=number_on_chip))
            self.deck.states[card_number] = state
        self.deck.insert(card_number)

    def insert_foreign(self) -> None:
        """A card of another issuer (no SITHS token) in the reader."""
        self.put(FOREIGN_CARD)

    def reader_pad(self) -> SimulatedPinPad:
        """Give the reader its own PIN pad; the test types ahead on it."""
        self.tokens.pad = SimulatedPinPad(length=SETTINGS.pin_policy.length, timeout_s=0)
        return self.tokens.pad

    # --- what a test reads back from a card ------------------------------------------------

    def pin_is(self, who: DemoHolder | str, pin: str,
               role: PinRole = PinRole.AUTHENTICATION) -> bool:
        """Whether ``pin`` is the card's PIN of ``role`` (a login on the memory card; the
        deck counts no try for it)."""
        try:
            self.cards[number_of(who)].private_key_ids(role, pin)
        except (WrongPin, TokenError):
            return False
        return True

    def pin_set(self, who: DemoHolder | str) -> bool:
        """Whether the card has a user PIN (as the card reports it)."""
        return self.cards[number_of(who)].pin_status().initialised

    def locked(self, who: DemoHolder | str) -> bool:
        """Whether the deck holds the card's PIN locked (three wrong tries, or a test)."""
        return self.deck.states[number_of(who)].locked

    def lock(self, who: DemoHolder | str) -> None:
        """Lock the card's PIN, as three wrong tries do."""
        self.deck.states[number_of(who)].locked = True

    def certificates(self, who: DemoHolder | str) -> list[CertificateInfo]:
        """The certificates on the card, read from it."""
        return self.cards[number_of(who)].certificates()

    def key_ids(self, who: DemoHolder | str, pin: str, role: PinRole) -> frozenset[bytes]:
        """The ids of the private keys under the card's PIN of ``role`` (``pin``)."""
        return self.cards[number_of(who)].private_key_ids(role, pin)

    def working_authentication(self, who: DemoHolder | str, pin: str) -> list[CertificateInfo]:
        """Authentication certificates valid at T0 whose key is on the card under the
        authentication PIN and signs what the certificate verifies."""
        token = self.cards[number_of(who)]
        keys = token.private_key_ids(PinRole.AUTHENTICATION, pin)
        working = []
        for info in token.certificates():
            if info.usage != "authentication" or info.key_id not in keys:
                continue
            if not info.not_before <= T0 <= info.not_after:
                continue
            signature = token.sign(PinRole.AUTHENTICATION, pin, info.key_id, b"probe")
            if signature_verifies(info.der, signature, b"probe"):
                working.append(info)
        return working


def rig() -> Rig:
    reader = MemoryReader(SETTINGS.hardware.atr_table)
    deck = SimDeck(tuple(SIM_CARDS.values()), reader.place)
    clock = ManualClock(T0, step=timedelta(seconds=1))  # each event a second after the last
    folder = Path(tempfile.mkdtemp(prefix="visit-rig-", dir=MEMORY_DISK))
    store = Outbox(folder, DEVICE_KEY, ManualClock(T0, step=timedelta(seconds=1)))
    holder_of: list[Rig] = []
    tokens = SimTokenProvider(deck, lambda card: holder_of[0].memory(card), SETTINGS.pin_policy)
    the_rig = Rig(reader, deck, tokens, FakePortal(), store, clock)
    holder_of.append(the_rig)
    weakref.finalize(the_rig, _remove_store, store, folder)
    return the_rig


DEVICE_KEY = DeviceKey(Ed25519PrivateKey.generate())
# the outbox's files on a RAM disk where there is one: its fsyncs are then no disk waits
MEMORY_DISK = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def _remove_store(store: Outbox, folder: Path) -> None:
    store.close()
    shutil.rmtree(folder, ignore_errors=True)


def today() -> date:
    return TODAY
