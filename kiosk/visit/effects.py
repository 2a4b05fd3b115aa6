"""The effects a visit flow can ask for: one frozen dataclass per port call.

A flow returns effects in its ``Step``; the shell runs each through the ports
(kiosk.visit.runner) and hands the outcome back as one event (kiosk.visit.events): the
effect's own success event (``CardIdentified``, ``RecordFetched``...) or ``EffectFailed``.
PINs and credentials are ``Secret`` fields: the runner reveals them for the one port call
and wipes them afterwards. A PIN field of ``None`` (``ON_READER_PAD``) means the holder
types that PIN on the reader's own pad and it never reaches the kiosk.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import ClassVar

from kiosk.model import CardWork, DocumentEvidence, PinWriteIntent, UnlockPurpose, VisitResult
from kiosk.ports import PinRole
from kiosk.visit.secret import Secret


class EffectKind(StrEnum):
    """Each effect's stable name: the audit log's action and the demo transcript's label."""

    IDENTIFY_CARD = "identify_card"
    FETCH_RECORD = "fetch_record"
    READ_CERTIFICATES = "read_certificates"
    ADMIN_SIGN_IN = "admin_sign_in"
    AUTHORISE_ADMIN = "authorise_admin"
    START_ACTIVATION = "start_activation"
    START_UNLOCK = "start_unlock"
    WRITE_PIN = "write_pin"
    UNLOCK_PIN = "unlock_pin"
    VERIFY_PIN = "verify_pin"
    CHANGE_PIN = "change_pin"
    SIGN_RECEIPT = "sign_receipt"
    BLOCK_CARD = "block_card"
    RECORD_RESULT = "record_result"
    SYNC_RESULT = "sync_result"
    SET_SIGNATURE_PIN = "set_signature_pin"
    GENERATE_KEY_PAIR = "generate_key_pair"
    SIGN_REQUEST = "sign_request"
    ISSUE_CERTIFICATE = "issue_certificate"
    INSTALL_CERTIFICATE = "install_certificate"
    TEST_SIGNATURE = "test_signature"
    DELETE_KEY_PAIR = "delete_key_pair"
    READ_CARD_KEYS = "read_card_keys"
    FIND_CARD_WORK = "find_card_work"
    BEGIN_CARD_WORK = "begin_card_work"
    LIST_ISSUED = "list_issued"


@dataclass(frozen=True)
class Effect:
    """Work for the shell: one port call, its arguments as typed fields."""

    kind: ClassVar[EffectKind]

    def secrets(self) -> tuple[Secret, ...]:
        """The secrets this effect carries (the runner wipes them after the call)."""
        found = (getattr(self, f.name) for f in fields(self))
        return tuple(value for value in found if isinstance(value, Secret))


@dataclass(frozen=True)
class IdentifyCard(Effect):
    """Classify the card in ``reader``; learn whether the reader's own pad takes PINs."""

    kind = EffectKind.IDENTIFY_CARD
    reader: str | None


@dataclass(frozen=True)
class FetchRecord(Effect):
    """The portal's record of the card."""

    kind = EffectKind.FETCH_RECORD
    card_number: str


@dataclass(frozen=True)
class ReadCertificates(Effect):
    """The card's certificates, classified."""

    kind = EffectKind.READ_CERTIFICATES
    reader: str | None


@dataclass(frozen=True)
class AdminSignIn(Effect):
    """Log in with the administrator's own card and PIN; their authentication certificate."""

    kind = EffectKind.ADMIN_SIGN_IN
    reader: str | None
    pin: Secret | None  # None: typed on the reader's own pad


@dataclass(frozen=True)
class AuthoriseAdmin(Effect):
    """The portal's authorisation of the administrator at this card office."""

    kind = EffectKind.AUTHORISE_ADMIN
    hsa_id: str


@dataclass(frozen=True)
class StartTicket(Effect):
    """Ask the portal to start an activation or unlock with the checked evidence."""

    card_number: str
    admin_hsa_id: str
    evidence: DocumentEvidence
    idempotency_key: str


@dataclass(frozen=True)
class StartActivation(StartTicket):
    """Start an activation: the completion window starts now."""

    kind = EffectKind.START_ACTIVATION


@dataclass(frozen=True)
class StartUnlock(StartTicket):
    """Get the unlock credential after an ID check, for ``purpose``."""

    kind = EffectKind.START_UNLOCK
    purpose: UnlockPurpose = UnlockPurpose.UNLOCK


@dataclass(frozen=True)
class WritePin(Effect):
    """Write the holder's first PIN with the activation credential. ``intent`` is
    committed to the outbox before the card is touched (a crash after the write leaves
    an alert and a visit to finish, not silence)."""

    kind = EffectKind.WRITE_PIN
    reader: str | None
    credential: Secret
    pin: Secret | None
    intent: PinWriteIntent | None = None


@dataclass(frozen=True)
class UnlockPin(Effect):
    """Unlock a locked PIN with the unlock credential and set a new one (``intent`` as
    for WritePin)."""

    kind = EffectKind.UNLOCK_PIN
    reader: str | None
    credential: Secret
    pin: Secret | None
    intent: PinWriteIntent | None = None


@dataclass(frozen=True)
class VerifyPin(Effect):
    """Check the holder's current PIN on the card (a login, nothing changed) before they
    choose a new one."""

    kind = EffectKind.VERIFY_PIN
    reader: str | None
    pin: Secret | None


@dataclass(frozen=True)
class ChangePin(Effect):
    """Change the PIN: the holder proves the current one."""

    kind = EffectKind.CHANGE_PIN
    reader: str | None
    old_pin: Secret | None
    new_pin: Secret | None


@dataclass(frozen=True)
class SignReceipt(Effect):
    """Sign the receipt (kvittens) with the holder's new PIN."""

    kind = EffectKind.SIGN_RECEIPT
    reader: str | None
    pin: Secret | None
    receipt: bytes


@dataclass(frozen=True)
class BlockCard(Effect):
    """Block (spärra) a card at the portal."""

    kind = EffectKind.BLOCK_CARD
    card_number: str
    admin_hsa_id: str
    reason: str
    idempotency_key: str


@dataclass(frozen=True)
class RecordResult(Effect):
    """Make the visit's result durable in the outbox (with its audit entry)."""

    kind = EffectKind.RECORD_RESULT
    result: VisitResult


@dataclass(frozen=True)
class SyncResult(Effect):
    """Send the recorded result to the portal now (it stays queued if that fails)."""

    kind = EffectKind.SYNC_RESULT
    result: VisitResult


# --- certificates on the card (kiosk.ports.CertificateToken, CertificatePortal) ---------
# ``key_id`` is chosen by the flow from its visit id, so a retried key generation finds the
# key pair made the first time; ``idempotency_key`` does the same for the issuance.


@dataclass(frozen=True)
class SetSignaturePin(Effect):
    """Set the holder's signature PIN (underskriftskod) with the card's PUK/SO credential."""

    kind = EffectKind.SET_SIGNATURE_PIN
    reader: str | None
    credential: Secret
    pin: Secret | None


@dataclass(frozen=True)
class GenerateKeyPair(Effect):
    """Generate a key pair on the card under ``role``'s PIN (or find the one with key_id)."""

    kind = EffectKind.GENERATE_KEY_PAIR
    reader: str | None
    role: PinRole
    pin: Secret | None
    key_id: bytes
    label: str


@dataclass(frozen=True)
class SignRequest(Effect):
    """A PKCS#10 request for the key pair ``key_id``, signed by that key on the card."""

    kind = EffectKind.SIGN_REQUEST
    reader: str | None
    role: PinRole
    pin: Secret | None
    key_id: bytes
    common_name: str
    serial_number: str
    work_id: str | None = None  # the request is kept in this card work before the flow sees it


@dataclass(frozen=True)
class IssueCertificate(Effect):
    """The portal issues a certificate for the request (idempotent by its key)."""

    kind = EffectKind.ISSUE_CERTIFICATE
    card_number: str
    admin_hsa_id: str
    certificate_kind: str  # authentication, signature or additional
    subject_id: str  # hsa_id or personnummer
    request: bytes
    idempotency_key: str
    replaces: str | None = None
    organisation: str | None = None
    work_id: str | None = None  # the certificate is kept in this card work before the flow sees it


@dataclass(frozen=True)
class InstallCertificate(Effect):
    """Write the issued certificate onto the card beside its key pair."""

    kind = EffectKind.INSTALL_CERTIFICATE
    reader: str | None
    role: PinRole
    pin: Secret | None
    key_id: bytes
    label: str
    certificate: bytes


@dataclass(frozen=True)
class SignProbe(Effect):
    """Sign test data with the key ``key_id`` (the caller verifies it with the certificate)."""

    kind = EffectKind.TEST_SIGNATURE
    reader: str | None
    role: PinRole
    pin: Secret | None
    key_id: bytes
    data: bytes


@dataclass(frozen=True)
class DeleteKeyPair(Effect):
    """Remove a certificate and its key pair from the card."""

    kind = EffectKind.DELETE_KEY_PAIR
    reader: str | None
    role: PinRole
    pin: Secret | None
    key_id: bytes


@dataclass(frozen=True)
class ReadCardKeys(Effect):
    """The card's certificates and whether it has a signature PIN of its own."""

    kind = EffectKind.READ_CARD_KEYS
    reader: str | None


@dataclass(frozen=True)
class FindCardWork(Effect):
    """The open key-pair work of ``visit_kind`` on the card (a crashed visit's), if any."""

    kind = EffectKind.FIND_CARD_WORK
    card_number: str
    visit_kind: str


@dataclass(frozen=True)
class BeginCardWork(Effect):
    """Commit ``work`` before the card or the portal is touched (or find the open one)."""

    kind = EffectKind.BEGIN_CARD_WORK
    work: CardWork


@dataclass(frozen=True)
class ListIssued(Effect):
    """The certificates the portal issued for the card."""

    kind = EffectKind.LIST_ISSUED
    card_number: str


# The card effects that carry the holder's PINs: a retry rebuilds them with fresh copies.
PinEffect = WritePin | UnlockPin | VerifyPin | ChangePin | SignReceipt
PIN_EFFECTS: tuple[type[PinEffect], ...] = (
    WritePin, UnlockPin, VerifyPin, ChangePin, SignReceipt
)


@dataclass(frozen=True)
class SignedReceipt:
    """The holder's signature over the receipt and the certificate that made it."""

    signature: bytes
    certificate: bytes
