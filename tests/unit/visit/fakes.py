"""Small in-test fakes of the token and the portal, for UNIT tests of the flows and the
runner only.

The real adapters (pyscard/vpcd reader, SoftHSM2 token, reference portal over HTTP) are
exercised by their owners' integration tests; these fakes stand in so the pure state
machines can be driven through every path in milliseconds. Each fake has fault switches
that raise the same KioskErrors the real adapters raise.

The reader, the cast's cards in it, the reader's own PIN pad and the clock are
hardware/sim's (the memory reader, ``demo_cards``, ``SimulatedPinPad`` typing ahead,
``ManualClock``): one family of simulated hardware for the demo and the tests. The result
store is the real SQLite outbox (kiosk.outbox.Outbox) in a folder of its own per rig.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from hardware.sim.cast import FOREIGN_CARD, demo_cards
from hardware.sim.clock import ManualClock
from hardware.sim.pinpad import PadPrompt, SimulatedPinPad
from hardware.sim.reader import MEMORY_READER_NAME, MemoryReader
from kiosk.demo_cast import DEMO_OFFICE, DemoHolder, demo_admins, demo_holders, demo_so_pin
from kiosk.devicekey import DeviceKey
from kiosk.errors import (
    CardNotFound,
    CardRemoved,
    CardUnreadable,
    KioskError,
    PinLocked,
    PortalRejected,
    PortalUnreachable,
    TokenError,
    WrongPin,
)
from kiosk.handout import AdminSignature
from kiosk.model import (
    AdminAuthorisation,
    CardRecord,
    CardStatus,
    CertificateInfo,
    DocumentEvidence,
    Provenance,
    TrustLevel,
    VisitResult,
)
from kiosk.outbox import Outbox
from kiosk.ports import (
    ActivationTicket,
    CardKey,
    IssuedCertificate,
    KeyAlgorithm,
    PinLetterOrder,
    PinRole,
    PinStatus,
)
from kiosk.settings import KioskIdentitySettings, Settings

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


def cert(hsa_id: str, usage: str = "authentication", der: bytes = b"DER") -> CertificateInfo:
    return CertificateInfo(
        label=usage,
        usage=usage,
        subject=f"CN=Someone,serialNumber={hsa_id}",
        issuer="CN=SITHS e-id Person ID 3 CA v1",
        serial=0x1234,
        not_before=T0 - timedelta(days=10),
        not_after=T0 + timedelta(days=5 * 365),
        hsa_id=hsa_id,
        trust_level=TrustLevel.LOA3,
        chain_valid=True,
        der=der,
    )


@dataclass
class FakeCard:
    number: str
    pin: str | None = None
    tries_left: int = 3
    locked: bool = False
    certificates: list[CertificateInfo] = field(default_factory=list)
    signed: list[bytes] = field(default_factory=list)
    # key pairs on the card (CertificateToken): CKA_ID -> (PIN role, private key)
    keys: dict[bytes, tuple[PinRole, Any]] = field(default_factory=dict)
    two_pins: bool = False  # a signature PIN of its own
    sign_pin: str | None = None


class FakeToken:
    """A card's token; ``faults`` maps a method name to the KioskError it raises once."""

    def __init__(
        self,
        card: FakeCard,
        faults: dict[str, KioskError],
        admin_pin: str,
        pad: SimulatedPinPad | None = None,
    ) -> None:
        self.card = card
        self.faults = faults
        self.admin_pin = admin_pin
        self.pad = pad

    def _typed(self, pin: str | None, prompt: str = "pin") -> str:
        if pin is not None:
            return pin
        if self.pad is None:
            raise KioskError("a PIN pad entry reached a token without a PIN pad")
        return self.pad.ask_new() if prompt == "new_pin" else self.pad.ask(PadPrompt(prompt))

    def _fault(self, name: str) -> None:
        error = self.faults.pop(name, None)
        if error is not None:
            raise error

    def _check(self, pin: str) -> None:
        if self.card.locked:
            raise PinLocked()
        if pin != self.card.pin:
            self.card.tries_left -= 1
            if self.card.tries_left <= 0:
                self.card.locked = True
                raise PinLocked()
            raise WrongPin(tries_left=self.card.tries_left)
        self.card.tries_left = 3

    def pin_pad(self) -> bool:
        return self.pad is not None

    def pin_status(self) -> PinStatus:
        return PinStatus(initialised=self.card.pin is not None, locked=self.card.locked)

    def admin_sign_in(self, pin: str | None) -> CertificateInfo:
        self._fault("admin_sign_in")
        if self._typed(pin) != self.admin_pin:
            raise WrongPin(tries_left=2)
        return self.card.certificates[0]

    def admin_sign_in_and_sign(
        self, pin: str | None, data: bytes
    ) -> tuple[CertificateInfo, AdminSignature]:
        info = self.admin_sign_in(pin)
        return info, AdminSignature(info.der, b"fake-signature:" + data)

    def set_initial_pin(self, credential: str, new_pin: str | None) -> None:
        self._fault("set_initial_pin")
        if credential != demo_so_pin(self.card.number):
            raise KioskError("bad credential")
        self.card.pin = self._typed(new_pin, "new_pin")

    def change_pin(self, old_pin: str | None, new_pin: str | None) -> None:
        self._fault("change_pin")
        self._check(self._typed(old_pin, "old_pin"))
        self.card.pin = self._typed(new_pin, "new_pin")

    def unlock_pin(self, credential: str, new_pin: str | None) -> None:
        self._fault("unlock_pin")
        if credential != demo_so_pin(self.card.number):
            raise WrongPin("SO login refused")
        self.card.pin = self._typed(new_pin, "new_pin")
        self.card.locked = False
        self.card.tries_left = 3

    def certificates(self) -> list[CertificateInfo]:
        self._fault("certificates")
        return list(self.card.certificates)

    def sign_receipt(self, pin: str | None, receipt: bytes) -> bytes:
        self._fault("sign_receipt")
        self._check(self._typed(pin))
        self.card.signed.append(receipt)
        return b"SIG:" + receipt[:8]

    # --- CertificateToken: P-256 keys in memory, the request is the key's SPKI ------------

    def _role(self, role: PinRole, pin: str | None) -> None:
        if role is PinRole.SIGNATURE and self.card.two_pins:
            if self._typed(pin) != self.card.sign_pin:
                raise WrongPin(tries_left=2)
            return
        self._check(self._typed(pin))

    def has_signature_pin(self) -> bool:
        return self.card.two_pins

    def signature_pin_status(self) -> PinStatus:
        return PinStatus(initialised=self.card.sign_pin is not None, locked=False)

    def set_signature_pin(self, credential: str, new_pin: str | None) -> None:
        self._fault("set_signature_pin")
        if credential != demo_so_pin(self.card.number):
            raise WrongPin(tries_left=2)
        self.card.sign_pin = self._typed(new_pin, "new_pin")

    def key_algorithms(self, role: PinRole) -> tuple[KeyAlgorithm, ...]:
        return (KeyAlgorithm.EC_P256,)

    def card_keys(self) -> list[CardKey]:
        return [
            CardKey(key_id, "key", role, KeyAlgorithm.EC_P256, spki(private.public_key()))
            for key_id, (role, private) in self.card.keys.items()
        ]

    def private_key_ids(self, role: PinRole, pin: str | None) -> frozenset[bytes]:
        self._role(role, pin)
        return frozenset(k for k, (r, _) in self.card.keys.items() if r is role)

    def generate_key_pair(
        self, role: PinRole, pin: str | None, key_id: bytes, label: str,
        algorithm: KeyAlgorithm | None = None,
    ) -> CardKey:
        self._fault("generate_key_pair")
        self._role(role, pin)
        if key_id not in self.card.keys:
            self.card.keys[key_id] = (role, ec.generate_private_key(ec.SECP256R1()))
        return next(k for k in self.card_keys() if k.key_id == key_id)

    def certificate_request(
        self, role: PinRole, pin: str | None, key_id: bytes, common_name: str, serial_number: str
    ) -> bytes:
        self._fault("certificate_request")
        self._role(role, pin)
        return spki(self.card.keys[key_id][1].public_key())

    def write_certificate(
        self, role: PinRole, pin: str | None, key_id: bytes, label: str, der: bytes
    ) -> None:
        self._fault("write_certificate")
        self._role(role, pin)
        info = info_of(der, "signature" if label == "Underskrift" else "authentication", key_id)
        self.card.certificates = [
            c for c in self.card.certificates if c.key_id != key_id
        ] + [info]

    def delete_key_pair(self, role: PinRole, pin: str | None, key_id: bytes) -> None:
        self._fault("delete_key_pair")
        self._role(role, pin)
        self.card.keys.pop(key_id, None)
        self.card.certificates = [c for c in self.card.certificates if c.key_id != key_id]

    def sign(self, role: PinRole, pin: str | None, key_id: bytes, data: bytes) -> bytes:
        self._fault("sign")
        self._role(role, pin)
        if key_id not in self.card.keys:
            raise TokenError("no such key")
        private = self.card.keys[key_id][1]
        return bytes(private.sign(data, ec.ECDSA(hashes.SHA256())))


class FakeTokens:
    def __init__(self, reader: MemoryReader) -> None:
        self.reader = reader
        self.cards: dict[str, FakeCard] = {}
        self.faults: dict[str, KioskError] = {}
        self.admin_pin = demo_admins(TODAY)[0].pin
        self.pad: SimulatedPinPad | None = None  # set: the reader has its own PIN pad

    def open(self, reader: str | None = None) -> FakeToken:
        inserted = self.reader.card
        if inserted is None:
            raise CardRemoved("no card")
        if inserted.owner is None:
            raise CardUnreadable("the card has no SITHS token", card_number=inserted.card_number)
        card = self.cards[inserted.card_number]
        return FakeToken(card, self.faults, self.admin_pin, self.pad)


class FakePortal:
    def __init__(self) -> None:
        self.records = {h.card_number: record_of(h) for h in demo_holders(TODAY)}
        self.admins = {a.hsa_id: admin_auth(i) for i, a in enumerate(demo_admins(TODAY))}
        self.down = False
        self.rejects: dict[str, str] = {}
        self.calls: list[tuple[str, str]] = []  # (method, idempotency key or argument)
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
        self, card_number: str, admin_hsa_id: str, evidence: DocumentEvidence, idempotency_key: str
    ) -> ActivationTicket:
        self._gate("start_unlock")
        self.calls.append(("start_unlock", idempotency_key))
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
        """Answers a repeated key from its record; ``request`` is the key's SPKI here."""
        self._gate("issue_certificate")
        self.calls.append(("issue_certificate", idempotency_key))
        if idempotency_key not in self.issued:
            key = serialization.load_der_public_key(request)
            der = issue_der(key, kind, T0 + timedelta(days=730))
            serial = format(x509.load_der_x509_certificate(der).serial_number, "x")
            self.issued[idempotency_key] = IssuedCertificate(
                serial, card_number, kind, subject_id, "CN=Holder", "CN=Fake CA", T0,
                T0 + timedelta(days=730), 730, False, "valid", der, (), replaces,
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


@dataclass
class Rig:
    reader: MemoryReader
    tokens: FakeTokens
    portal: FakePortal
    store: Outbox
    clock: ManualClock

    def results(self) -> dict[str, VisitResult]:
        """The results the outbox holds (none is sent here), by idempotency key."""
        return {r.idempotency_key: r for _, r in self.store.pending()}

    def fail_store(self, failing: bool = True) -> None:
        """Make the outbox's database refuse every write (SQLite ``query_only``): each
        write raises the StorageError the outbox raises for a failing database."""
        self.store._conn.execute(f"PRAGMA query_only = {int(failing)}")

    def insert(self, h: DemoHolder, pin: str | None = None, number_on_chip: bool = True
               ) -> FakeCard:
        """``h``'s card in the reader (its number only on its back without ``number_on_chip``)."""
        card = self.tokens.cards.setdefault(
            h.card_number, FakeCard(h.card_number, pin, certificates=[cert(h.hsa_id, "signature")])
        )
        self.put(h.card_number, number_on_chip)
        return card

    def put(self, card_number: str | None, number_on_chip: bool = True) -> None:
        """The cast's card ``card_number`` in the reader (None: take the card out)."""
        sim = SIM_CARDS[card_number] if card_number is not None else None
        self.reader.place(replace(sim, number_on_chip=number_on_chip) if sim else None)

    def insert_foreign(self) -> None:
        """A card of another issuer (no SITHS token) in the reader."""
        self.put(FOREIGN_CARD)

    def reader_pad(self) -> SimulatedPinPad:
        """Give the reader its own PIN pad; the test types ahead on it."""
        self.tokens.pad = SimulatedPinPad(length=SETTINGS.pin_policy.length, timeout_s=0)
        return self.tokens.pad


def rig() -> Rig:
    reader = MemoryReader(SETTINGS.hardware.atr_table)
    tokens = FakeTokens(reader)
    admin = demo_admins(TODAY)[0]
    tokens.cards[admin.card_number] = FakeCard(
        admin.card_number, admin.pin, certificates=[cert(admin.hsa_id)]
    )
    clock = ManualClock(T0, step=timedelta(seconds=1))  # each event a second after the last
    folder = Path(tempfile.mkdtemp(prefix="visit-rig-", dir=MEMORY_DISK))
    store = Outbox(folder, DEVICE_KEY, ManualClock(T0, step=timedelta(seconds=1)))
    the_rig = Rig(reader, tokens, FakePortal(), store, clock)
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


# --- real certificates for the fake cards' in-memory keys -----------------------------

FAKE_CA = ec.generate_private_key(ec.SECP256R1())


def spki(public_key: Any) -> bytes:
    return bytes(public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ))


def issue_der(public_key: Any, kind: str, not_after: datetime) -> bytes:
    from kiosk.pki import certificate

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Fake {kind}")])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fake CA")])
    cert = certificate(name, public_key, FAKE_CA, T0 - timedelta(days=365), not_after,
                       issuer=issuer)
    return bytes(cert.public_bytes(serialization.Encoding.DER))


def info_of(der: bytes, usage: str, key_id: bytes, hsa_id: str | None = None) -> CertificateInfo:
    cert = x509.load_der_x509_certificate(der)
    return CertificateInfo(
        label=usage, usage=usage, subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(), serial=cert.serial_number,
        not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
        hsa_id=hsa_id, chain_valid=True, der=der, key_id=key_id,
    )


def add_additional(card: FakeCard, organisation: str, hsa_id: str | None = None) -> CertificateInfo:
    """An additional certificate (tilläggscertifikat) from ``organisation`` on the card:
    a real key pair under the authentication PIN (CKA_ID 03)."""
    from dataclasses import replace

    private = ec.generate_private_key(ec.SECP256R1())
    card.keys[b"\x03"] = (PinRole.AUTHENTICATION, private)
    der = issue_der(private.public_key(), "additional", T0 + timedelta(days=400))
    info = replace(info_of(der, "authentication", b"\x03", hsa_id), organisation=organisation)
    card.certificates.append(info)
    return info


def key_card(
    number: str, pin: str, hsa_id: str, *, two_pins: bool, sign_pin: str | None = None,
    signature_days: int | None = None, authentication_days: int = 900,
) -> FakeCard:
    """A fake card with a real key pair and certificate for authentication (ending in
    ``authentication_days``) and, given ``signature_days``, one for signature."""
    card = FakeCard(number, pin, two_pins=two_pins, sign_pin=sign_pin)
    wanted = [("authentication", b"\x01", PinRole.AUTHENTICATION, authentication_days)]
    if signature_days is not None:
        role = PinRole.SIGNATURE if two_pins else PinRole.AUTHENTICATION
        wanted.append(("signature", b"\x02", role, signature_days))
    for usage, key_id, role, days in wanted:
        private = ec.generate_private_key(ec.SECP256R1())
        card.keys[key_id] = (role, private)
        der = issue_der(private.public_key(), usage, T0 + timedelta(days=days))
        card.certificates.append(info_of(der, usage, key_id, hsa_id))
    return card
