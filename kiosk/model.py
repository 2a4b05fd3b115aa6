"""Value types shared by the visit flows, the ports and the adapters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import IntEnum, StrEnum


class CardStatus(StrEnum):
    """A card's status at the portal, with the Swedish names the portal uses."""

    SENT = "Skickad"
    ACTIVE = "Aktiv"
    BLOCKED = "Spärrad"


class CardKind(StrEnum):
    """Ordinary cards are activated here; reserve cards never are."""

    ORDINARY = "ordinary"
    RESERVE = "reserve"
    COMPANY = "company"


class TrustLevel(IntEnum):
    """Level of assurance (tillitsnivå) read from the certificate policy."""

    LOA2 = 2
    LOA3 = 3


class CardClass(StrEnum):
    """What the ATR says the card is."""

    SITHS = "siths"
    FOREIGN = "foreign"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CardIdentity:
    """What the reader learned about the card in it, before any PIN."""

    reader: str
    atr: bytes
    card_class: CardClass
    generation: str | None = None
    issuer: str | None = None
    card_number: str | None = None
    # PINs for this card are typed on the reader's own PIN pad (PKCS#11 protected
    # authentication path), never on the kiosk's screen.
    pin_pad: bool = False


@dataclass(frozen=True)
class CardRecord:
    """The portal's record of a card."""

    card_number: str
    status: CardStatus
    kind: CardKind
    issuer: str
    holder_name: str
    personnummer: str
    hsa_id: str
    trust_level: TrustLevel
    manufactured: date
    activation_started: datetime | None = None
    valid_until: date | None = None


@dataclass(frozen=True)
class AdminAuthorisation:
    """An ID administrator as the portal knows them."""

    hsa_id: str
    name: str
    card_office: str
    training_valid_until: date


class DocumentType(StrEnum):
    """ID documents the control process knows."""

    PASSPORT = "passport"
    NATIONAL_ID = "national_id"
    DRIVING_LICENCE = "driving_licence"
    SIS_ID = "sis_id"
    TAX_AGENCY_ID = "tax_agency_id"
    OTHER = "other"


class Provenance(StrEnum):
    """How a document fact was established."""

    SCANNED = "scanned"
    TYPED = "typed"
    CONFIRMED = "confirmed"


@dataclass(frozen=True)
class DocumentEvidence:
    """The ID document facts a check is decided on, and how each one was established."""

    doc_type: DocumentType
    expiry: date
    birth_date: date | None
    personnummer: str | None
    document_number: str | None = None
    swedish: bool = True
    how: dict[str, Provenance] = field(default_factory=dict)
    photo_confirmed: bool = False
    age_confirmed: bool = False
    # the name as the document gives it (MRZ, licence code): no check digit covers a name,
    # so the confirm screen shows it beside the card record's for the administrator's eye
    name: str | None = None


@dataclass(frozen=True)
class CertificateInfo:
    """One certificate on a card, classified."""

    label: str
    usage: str  # "authentication" or "signature"
    subject: str
    issuer: str
    serial: int
    not_before: datetime
    not_after: datetime
    hsa_id: str | None = None
    personnummer: str | None = None
    trust_level: TrustLevel | None = None
    chain_valid: bool | None = None
    der: bytes = b""
    key_id: bytes = b""  # the CKA_ID it shares with its key pair on the card, if known
    organisation: str | None = None  # the subject's O (another one's: an additional certificate)


class VisitKind(StrEnum):
    """The visits an ID administrator can run at the kiosk."""

    ACTIVATION = "activation"
    UNLOCK = "unlock"
    CHANGE_PIN = "change_pin"
    CARD_CHECK = "card_check"
    BLOCK = "block"
    PIN_LETTER = "pin_letter"
    SIGNATURE_CERTIFICATE = "signature_certificate"
    RENEW_CERTIFICATES = "renew_certificates"
    ADDITIONAL_CERTIFICATE = "additional_certificate"


class UnlockPurpose(StrEnum):
    """What the portal's unlock credential (the card's PUK/SO credential) is for."""

    UNLOCK = "unlock"  # a locked PIN
    SIGNATURE_PIN = "signature_pin"  # the card's first signature PIN


@dataclass(frozen=True)
class PinWriteIntent:
    """A visit is about to write a PIN to a card: committed durably before the write, so a
    crash between the write and the recorded result leaves a trace that status shows and
    the administrator can finish (the activation id and its deadline are kept)."""

    visit_id: str
    kind: str  # "activation" or "unlock"
    card_number: str
    admin_hsa_id: str
    ticket_id: str
    deadline: datetime | None
    started_at: datetime


@dataclass(frozen=True)
class CardWork:
    """Key-pair work on a card that a crash must not repeat: committed before the card
    or the portal is touched, so that a visit restarted on the same card finds the same
    ``work_id`` (its key ids and idempotency keys derive from it) and the ``notes`` the
    work made (the signed request, the issued certificate) instead of making them twice.
    Recording the visit's result ends it."""

    work_id: str
    kind: str  # the VisitKind value
    card_number: str
    admin_hsa_id: str
    started_at: datetime
    notes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VisitResult:
    """A finished visit's outcome as the outbox stores and syncs it (never a PIN).

    ``idempotency_key`` makes the portal call safe to repeat; ``payload`` holds the
    kind-specific fields (activation_id, receipt, signature and certificate as base64,
    block reason, evidence summary) as JSON-compatible values.
    """

    kind: VisitKind
    card_number: str
    admin_hsa_id: str
    idempotency_key: str
    finished_at: datetime
    payload: dict[str, str] = field(default_factory=dict)
    deadline: datetime | None = None
