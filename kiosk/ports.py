"""Ports: the Protocols that hardware/ and the portal client implement.

The visit flows never call these; the visit runner (kiosk.visit.runner) executes the
effects a flow asks for by calling them on a worker thread. Every method may raise only
kiosk.errors exceptions: adapters translate library errors at their boundary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from kiosk.errors import PortalError
from kiosk.model import (
    AdminAuthorisation,
    CardIdentity,
    CardRecord,
    CardWork,
    CertificateInfo,
    DocumentEvidence,
    PinWriteIntent,
    UnlockPurpose,
    VisitResult,
)

if TYPE_CHECKING:  # kiosk.handout imports cryptography: not on the way to the first frame
    from kiosk.handout import AdminSignature


class CardEventKind(StrEnum):
    """Presence changes a reader reports."""

    INSERTED = "inserted"
    REMOVED = "removed"
    READER_LOST = "reader_lost"
    READER_FOUND = "reader_found"


@dataclass(frozen=True)
class CardEvent:
    """One presence change in one reader."""

    kind: CardEventKind
    reader: str
    atr: bytes = b""


@runtime_checkable
class CardReader(Protocol):
    """PC/SC presence and identity (pyscard, or the simulated reader)."""

    def readers(self) -> list[str]:
        """Names of the readers connected now."""
        ...

    def wait_for_change(self, timeout: float) -> CardEvent | None:
        """Block up to ``timeout`` seconds for the next presence change; None on timeout."""
        ...

    def cancel(self) -> None:
        """Make a pending wait_for_change return None promptly (any thread)."""
        ...

    def identify(self, reader: str | None = None) -> CardIdentity:
        """Classify the card in the reader by ATR and read its card number if exposed."""
        ...

    def has_pin_pad(self, reader: str | None = None) -> bool:
        """Whether the reader has its own PIN pad (PC/SC part 10)."""
        ...


@dataclass(frozen=True)
class PinStatus:
    """What the token reports about its user PIN."""

    initialised: bool
    count_low: bool = False
    final_try: bool = False
    locked: bool = False


ON_READER_PAD = None
"""A PIN argument of ``None``: the holder types that PIN on the reader's own PIN pad.

The PIN then never passes through the kiosk: the adapter asks the token to prompt on its
protected authentication path (PKCS#11 ``C_Login``/``C_InitPIN``/``C_SetPIN`` without a
PIN), and the reader asks for it (for a new PIN: twice). Pass it only when
``Token.pin_pad()`` is true; the reader's pad refusals arrive as PinEntryCancelled,
PinRuleViolation("length"), PinMismatch or WrongPin.
"""


@runtime_checkable
class Token(Protocol):
    """PKCS#11 access to the card in the reader (python-pkcs11, or an in-memory token).

    Every PIN argument may be ON_READER_PAD (None) when ``pin_pad()`` is true.
    """

    def pin_pad(self) -> bool:
        """Whether PINs are typed on the reader's own PIN pad (protected authentication path)."""
        ...

    def pin_status(self) -> PinStatus:
        """The user PIN's state as the token reports it."""
        ...

    def admin_sign_in(self, pin: str | None) -> CertificateInfo:
        """Log in with the administrator's own PIN; return their authentication cert."""
        ...

    def admin_sign_in_and_sign(
        self, pin: str | None, data: bytes
    ) -> tuple[CertificateInfo, AdminSignature]:
        """As ``admin_sign_in``, and in the same login sign ``data`` (the session delegation,
        kiosk.handout) with the authentication key: one PIN entry for both."""
        ...

    def set_initial_pin(self, credential: str, new_pin: str | None) -> None:
        """Write the holder's first PIN using the credential the card profile needs."""
        ...

    def verify_pin(self, pin: str | None) -> None:
        """Log in with the user PIN and out again, changing nothing: WrongPin (with
        ``tries_left`` when the token reports it) or PinLocked if the card refuses it."""
        ...

    def change_pin(self, old_pin: str | None, new_pin: str | None) -> None:
        """Change the user PIN (on the reader's pad: both None, asked old, new, new)."""
        ...

    def unlock_pin(self, credential: str, new_pin: str | None) -> None:
        """Unlock a locked PIN with a PUK/SO credential and set a new one."""
        ...

    def certificates(self) -> list[CertificateInfo]:
        """The card's certificates, classified."""
        ...

    def sign_receipt(self, pin: str | None, receipt: bytes) -> bytes:
        """Log in with ``pin`` and sign ``receipt`` with the signature (or auth) key."""
        ...


class PinRole(StrEnum):
    """Which of a card's two PINs guards a key.

    The authentication PIN (säkerhetskod) guards the authentication key; the signature
    PIN (underskriftskod) guards the signature key. Real cards' modules usually show
    them as two PKCS#11 tokens (slots) for one card; a card with one PIN has one token.
    """

    AUTHENTICATION = "authentication"
    SIGNATURE = "signature"


class KeyAlgorithm(StrEnum):
    """Key pairs the kiosk asks a card to generate (whichever the card offers)."""

    RSA_2048 = "rsa-2048"
    EC_P256 = "ec-p256"


@dataclass(frozen=True)
class CardKey:
    """A key pair on the card: its CKA_ID, label, PIN and public key (SubjectPublicKeyInfo DER)."""

    key_id: bytes
    label: str
    role: PinRole
    algorithm: KeyAlgorithm
    public_key: bytes


@runtime_checkable
class CertificateToken(Token, Protocol):
    """A card token that can make key pairs and hold the certificates issued for them.

    ``role`` chooses the PIN (and on a two-PIN card the token) a key lives under; ``pin``
    is that PIN, or ON_READER_PAD. ``key_id`` is chosen by the caller, so a repeated call
    (a retry after a crash) finds the key pair made the first time instead of a second.
    The private key never leaves the card (sensitive, never extractable).
    """

    def has_signature_pin(self) -> bool:
        """Whether the card has a signature PIN of its own (a second token)."""
        ...

    def signature_pin_status(self) -> PinStatus:
        """The signature PIN's state (the authentication PIN's on a one-PIN card)."""
        ...

    def set_signature_pin(self, credential: str, new_pin: str | None) -> None:
        """Set the holder's signature PIN with the card's PUK/SO credential."""
        ...

    def key_algorithms(self, role: PinRole) -> tuple[KeyAlgorithm, ...]:
        """The key pairs the card can generate under ``role``, the kiosk's preference first."""
        ...

    def card_keys(self) -> list[CardKey]:
        """Every key pair on the card, read from its public keys (no PIN needed)."""
        ...

    def private_key_ids(self, role: PinRole, pin: str | None) -> frozenset[bytes]:
        """The CKA_IDs of the private keys under ``role``'s PIN (a login with it: private
        objects show only then); a certificate's key is on the card if its id is here."""
        ...

    def generate_key_pair(
        self,
        role: PinRole,
        pin: str | None,
        key_id: bytes,
        label: str,
        algorithm: KeyAlgorithm | None = None,
    ) -> CardKey:
        """Generate (or find, if ``key_id`` exists) a key pair on the card."""
        ...

    def certificate_request(
        self, role: PinRole, pin: str | None, key_id: bytes, common_name: str, serial_number: str
    ) -> bytes:
        """A PKCS#10 request (DER) for the key ``key_id``, signed by that key on the card."""
        ...

    def write_certificate(
        self, role: PinRole, pin: str | None, key_id: bytes, label: str, der: bytes
    ) -> None:
        """Store a certificate for the key ``key_id`` (replacing one with the same id)."""
        ...

    def delete_key_pair(self, role: PinRole, pin: str | None, key_id: bytes) -> None:
        """Remove the certificate, private and public key with CKA_ID ``key_id``."""
        ...

    def sign(self, role: PinRole, pin: str | None, key_id: bytes, data: bytes) -> bytes:
        """Sign ``data`` (SHA-256) with the key ``key_id``: PKCS#1 v1.5 or DER ECDSA."""
        ...


@runtime_checkable
class TokenProvider(Protocol):
    """Opens the PKCS#11 token of the card in a reader."""

    def open(self, reader: str | None = None) -> Token:
        """The token of the card now in ``reader`` (first reader if None)."""
        ...


@runtime_checkable
class CardDeck(Protocol):
    """Control of simulated cards (demo and tests): insert, remove, inject faults."""

    def cards(self) -> list[str]:
        """Card numbers of the simulated cards that can be inserted."""
        ...

    def insert(self, card_number: str) -> None:
        """Put a simulated card into the reader."""
        ...

    def remove(self) -> None:
        """Take the card out of the reader."""
        ...

    def set_fault(self, fault: str | None) -> None:
        """Arm a fault hook (e.g. "remove_mid_write", "token_error") or clear it."""
        ...


@dataclass(frozen=True)
class Frame:
    """One camera frame: a numpy array (BGR) kept opaque to the core."""

    image: Any
    taken_at: float
    index: int


@runtime_checkable
class FrameSource(Protocol):
    """A camera, a video file, an image folder or an MJPEG URL."""

    def start(self) -> None:
        """Begin capturing on the source's own thread."""
        ...

    def latest(self) -> Frame | None:
        """The newest frame, never a backlog; None before the first frame."""
        ...

    def stop(self) -> None:
        """Stop capturing and release the device."""
        ...


@dataclass(frozen=True)
class BarcodeRead:
    """One decoded barcode."""

    format: str
    text: str
    position: Sequence[tuple[int, int]] = ()


@dataclass(frozen=True)
class MrzRead:
    """MRZ lines read from a frame, not yet validated by kiosk.identity.mrz.

    ``uncertain`` lists the (line, column) cells the reader could not tell apart from
    another character; ``confidence`` is the share of cells read with certainty.
    """

    lines: tuple[str, ...]
    confidence: float
    uncertain: tuple[tuple[int, int], ...] = ()


@runtime_checkable
class Scanner(Protocol):
    """Barcode and MRZ decoding of frames (zxing-cpp or pyzbar; tesserocr for MRZ)."""

    def barcodes(self, frame: Frame) -> list[BarcodeRead]:
        """Barcodes of the configured formats in the frame."""
        ...

    def mrz(self, frame: Frame) -> MrzRead | None:
        """The MRZ band of the frame, if one was found and read."""
        ...


@dataclass(frozen=True)
class ActivationTicket:
    """The portal's answer to starting an activation or unlock.

    ``credential`` is what the card profile needs to set the first PIN (or unlock);
    it is held in memory only, never stored or logged by the kiosk.
    """

    activation_id: str
    card_number: str
    credential: str
    started_at: datetime
    deadline: datetime


@runtime_checkable
class Portal(Protocol):
    """The card-office portal API (kiosk.portal_client, or the reference portal)."""

    def card(self, card_number: str) -> CardRecord:
        """The card's record."""
        ...

    def authorise_admin(self, hsa_id: str) -> AdminAuthorisation:
        """The administrator's authorisation at this card office."""
        ...

    def start_activation(
        self,
        card_number: str,
        admin_hsa_id: str,
        evidence: DocumentEvidence,
        idempotency_key: str,
    ) -> ActivationTicket:
        """Start an activation; the 5-day completion window starts now."""
        ...

    def complete_activation(
        self,
        activation_id: str,
        receipt: bytes,
        signature: bytes,
        certificate: bytes,
        idempotency_key: str,
    ) -> CardRecord:
        """Complete an activation with the holder's signed receipt; the card becomes Aktiv."""
        ...

    def start_unlock(
        self,
        card_number: str,
        admin_hsa_id: str,
        evidence: DocumentEvidence,
        idempotency_key: str,
        purpose: UnlockPurpose = UnlockPurpose.UNLOCK,
    ) -> ActivationTicket:
        """Get the unlock credential after an ID check, for ``purpose``."""
        ...

    def block(
        self,
        card_number: str,
        admin_hsa_id: str,
        reason: str,
        idempotency_key: str,
        admin_statement: dict[str, Any] | None = None,
    ) -> CardRecord:
        """Block (spärra) a card; the card becomes Spärrad. ``admin_statement``: the signed
        statement made when the administrator blocked it (a block queued offline)."""
        ...

    def heartbeat(self, status: dict[str, Any]) -> None:
        """Report the kiosk's health."""
        ...


@dataclass(frozen=True)
class Completion:
    """One recorded activation completion, as a batch carries it (its own key)."""

    activation_id: str
    receipt: bytes
    signature: bytes
    certificate: bytes
    idempotency_key: str


@runtime_checkable
class BatchPortal(Portal, Protocol):
    """A portal that takes a backlog's completions in batches (kiosk.portal_client)."""

    def complete_activations(
        self, items: Sequence[Completion]
    ) -> list[CardRecord | PortalError] | None:
        """Complete each item as ``complete_activation`` would, in one request: per item
        the card record or the error its single call raises. None when this portal takes
        no batches (an older one): send them one by one. Raises PortalError when the
        batch as a whole failed (unreachable, refused): then no item's answer is known."""
        ...


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate the portal issued for a key on the card, as the portal reports it.

    ``kind``: authentication, signature or additional; ``state``: valid, expired,
    replaced or revoked; ``chain``: the issuing CA certificate(s), DER.
    """

    serial: str
    card_number: str
    kind: str
    subject_id: str
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    days_left: int
    expires_soon: bool
    state: str
    der: bytes
    chain: tuple[bytes, ...] = ()
    replaces: str | None = None
    organisation: str = ""


@dataclass(frozen=True)
class PinLetterOrder:
    """A PIN/PUK letter on its way to the holder's registered address."""

    order_id: str
    card_number: str
    ordered_at: datetime
    expected_by: datetime


@runtime_checkable
class CertificatePortal(Portal, Protocol):
    """The portal's certificate calls (kiosk.portal_client implements them)."""

    def issue_certificate(
        self,
        card_number: str,
        admin_hsa_id: str,
        kind: str,
        subject_id: str,
        request: bytes,
        idempotency_key: str,
        replaces: str | None = None,
        organisation: str | None = None,
    ) -> IssuedCertificate:
        """Issue a certificate for ``request`` (PKCS#10 DER, signed on the card)."""
        ...

    def card_certificates(self, card_number: str) -> list[IssuedCertificate]:
        """The certificates the portal issued for the card."""
        ...

    def revoke_certificate(
        self,
        card_number: str,
        serial: str,
        admin_hsa_id: str,
        reason: str,
        idempotency_key: str,
        certificate: bytes | None = None,
    ) -> IssuedCertificate:
        """Revoke one of the card's certificates (``certificate``: its DER, for one the
        portal's CA issued but has no record of, such as a card's first ones)."""
        ...

    def order_pin_letter(
        self,
        card_number: str,
        admin_hsa_id: str,
        evidence: Mapping[str, Any],
        idempotency_key: str,
    ) -> PinLetterOrder:
        """Order a PIN/PUK letter to the holder's registered address; ``evidence`` is the
        ID check's summary (kiosk.document.evidence.evidence_summary with suffixes), as the
        outbox keeps it."""
        ...


@runtime_checkable
class Clock(Protocol):
    """Wall-clock time, injected so that flows and rules are deterministic."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


@runtime_checkable
class ResultStore(Protocol):
    """The durable outbox: a result is committed before the holder is told it is done."""

    def record(self, result: VisitResult) -> str:
        """Commit ``result`` durably (fsync) and return its outbox id; idempotent by key.
        Recording a card's result ends the card's open PIN-write intent."""
        ...

    def begin_pin_write(self, intent: PinWriteIntent) -> None:
        """Commit durably that a PIN is about to be written (before the card is touched)."""
        ...

    def end_pin_write(self, visit_id: str) -> None:
        """The write failed on the card: the intent is no longer open."""
        ...

    def begin_card_work(self, work: CardWork) -> CardWork:
        """The open key-pair work of ``work.kind`` on the card, else ``work`` committed
        durably (before the card or the portal is touched)."""
        ...

    def find_card_work(self, card_number: str, kind: str) -> CardWork | None:
        """The open key-pair work of ``kind`` on the card, if any."""
        ...

    def note_card_work(self, work_id: str, key: str, value: str) -> None:
        """Keep durably what the work made (a signed request, an issued certificate)."""
        ...

    def end_card_work(self, work_id: str) -> None:
        """End the work without a result (the portal refused it)."""
        ...
