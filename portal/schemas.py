"""Request and response bodies of the card-office portal API v1 (see portal/openapi.yaml)."""

from __future__ import annotations

import math
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DocType = Literal[
    "passport", "national_id", "driving_licence", "sis_id", "tax_agency_id", "other"
]
HowEstablished = Literal["scanned", "typed", "confirmed"]


class ErrorBody(BaseModel):
    """Every refusal: a stable reason code and a human-readable detail."""

    reason: str
    detail: str


class CardRecordBody(BaseModel):
    """The portal's record of a card."""

    card_number: str
    status: Literal["Skickad", "Aktiv", "Spärrad"]
    kind: Literal["ordinary", "reserve", "company"]
    issuer: str
    holder_name: str
    personnummer: str
    hsa_id: str
    trust_level: int
    manufactured: date
    activation_started: str | None
    valid_until: date | None
    activation_deadline: date
    completion_deadline: str | None
    activated_at: str | None
    blocked_reason: str | None


class AdminBody(BaseModel):
    """An ID administrator's authorisation."""

    hsa_id: str
    name: str
    card_office: str
    training_valid_until: date
    authorised: bool


class EvidenceSummary(BaseModel):
    """How the holder's ID document was checked; no full document number is needed."""

    model_config = ConfigDict(extra="forbid")

    doc_type: DocType
    expiry: date
    swedish: bool = True
    personnummer_suffix: str | None = Field(default=None, pattern=r"^[0-9]{4}$")
    document_number_suffix: str | None = Field(default=None, max_length=4)
    how: dict[str, HowEstablished] = Field(default_factory=dict)
    photo_confirmed: bool = False
    age_confirmed: bool = False


class AdminStatement(BaseModel):
    """The administrator's hand-out statement (kiosk/handout.py), every field base64:
    the card's authentication certificate and the CA certificates it carries, the session
    delegation the card signed, and the statement signed with the delegated session key."""

    model_config = ConfigDict(extra="forbid")

    certificate: str = Field(min_length=1, max_length=16384)
    chain: list[str] = Field(default_factory=list, max_length=8)
    delegation: str = Field(min_length=1, max_length=4096)
    delegation_signature: str = Field(min_length=1, max_length=2048)
    statement: str = Field(min_length=1, max_length=8192)
    statement_signature: str = Field(min_length=1, max_length=512)


class StartActivationRequest(BaseModel):
    """Start an activation of a card after the ID check."""

    model_config = ConfigDict(extra="forbid")

    admin_hsa_id: str = Field(min_length=1, max_length=64)
    evidence: EvidenceSummary
    admin_statement: AdminStatement | None = None  # refused (403) when missing


class UnlockRequest(StartActivationRequest):
    """Ask for the unlock credential of a card after the ID check."""

    # what the credential is for: a locked PIN, or the first signature PIN (the signature
    # certificate visit); the administrator's statement names it as its reason
    purpose: Literal["unlock", "signature_pin"] = "unlock"


class TicketBody(BaseModel):
    """An activation or unlock: its id, deadline and the credential the card profile needs."""

    activation_id: str
    kind: Literal["activation", "unlock"]
    card_number: str
    credential: str
    started_at: str
    deadline: str


class CompleteActivationRequest(BaseModel):
    """The holder's signed receipt; every field base64 (certificate DER or PEM)."""

    model_config = ConfigDict(extra="forbid")

    receipt: str = Field(min_length=1)
    signature: str = Field(min_length=1)
    certificate: str = Field(min_length=1)


MAX_BATCH_ITEMS = 50
"""The most completions one batch carries (the body limit bounds it too: 256 KiB)."""


class CompletionItem(CompleteActivationRequest):
    """One completion in a batch: the activation, its own idempotency key (the one the
    single call would carry) and the holder's signed receipt."""

    activation_id: str = Field(min_length=1, max_length=200)
    idempotency_key: str = Field(min_length=1, max_length=200)


class CompletionBatchRequest(BaseModel):
    """Up to MAX_BATCH_ITEMS completions, each answered on its own."""

    model_config = ConfigDict(extra="forbid")

    items: list[CompletionItem] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)


class CompletionAnswer(BaseModel):
    """One item's answer: the status and body the single call gives for it."""

    idempotency_key: str
    activation_id: str
    status: int
    replayed: bool
    body: CardRecordBody | ErrorBody


class CompletionBatchBody(BaseModel):
    """The answers, in the order of the items."""

    results: list[CompletionAnswer]


class BlockRequest(BaseModel):
    """Block (spärra) a card."""

    model_config = ConfigDict(extra="forbid")

    admin_hsa_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=500)
    admin_statement: AdminStatement | None = None  # refused (403) when missing


def finite(value: Any) -> bool:
    """Whether every number in a parsed JSON value is finite (JSON has no NaN or infinity;
    Python's parser lets NaN, Infinity and 1e999 through)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite(v) for v in value.values())
    if isinstance(value, list):
        return all(finite(v) for v in value)
    return True


class AuditHead(BaseModel):
    """The kiosk's signed audit head: the newest entry's seq and hash, signed by the
    kiosk's device key (the portal keeps the newest per kiosk as an anchor)."""

    model_config = ConfigDict(extra="forbid")

    seq: int = Field(ge=0)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    signature: str = Field(min_length=1, max_length=200)


class AuditHeadBody(BaseModel):
    """The newest audit head the portal keeps for the calling kiosk."""

    kiosk_id: str
    head: AuditHead
    received_at: str


class HeartbeatRequest(BaseModel):
    """A kiosk's health report; further fields are stored as they come."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _only_finite_numbers(cls, data: Any) -> Any:
        if not finite(data):
            raise ValueError("numbers must be finite (no NaN or infinity)")
        return data

    kiosk_id: str | None = Field(
        default=None, min_length=1, max_length=128,
        description="optional: the portal takes the kiosk from its certificate; another "
        "kiosk's id here is refused",
    )
    versions: dict[str, str] = Field(default_factory=dict)
    outbox_depth: int = Field(default=0, ge=0)
    hardware: dict[str, Any] = Field(default_factory=dict)
    audit_head: AuditHead | None = None


class HeartbeatBody(BaseModel):
    """The portal's receipt of a heartbeat."""

    kiosk_id: str
    received_at: str


class HealthBody(BaseModel):
    """The portal is up and its database answers."""

    status: Literal["ok"]
    api_version: str
    time: str


CertificateKind = Literal["authentication", "signature", "additional"]
SubjectId = Literal["hsa_id", "personnummer"]


class IssueCertificateRequest(BaseModel):
    """A PKCS#10 request (base64 DER) signed by a key pair made on the holder's card."""

    model_config = ConfigDict(extra="forbid")

    admin_hsa_id: str = Field(min_length=1, max_length=64)
    kind: CertificateKind
    subject_id: SubjectId = "hsa_id"
    request: str = Field(min_length=1, max_length=20000)
    replaces: str | None = Field(default=None, min_length=1, max_length=64)
    organisation: str | None = Field(default=None, min_length=1, max_length=128)


class CertificateBody(BaseModel):
    """One certificate the portal issued for a card, with its state and days to expiry."""

    serial: str
    card_number: str
    kind: CertificateKind
    subject_id: SubjectId
    organisation: str
    subject: str
    issuer: str
    not_before: str
    not_after: str
    days_left: int
    expires_soon: bool
    state: Literal["valid", "expired", "replaced", "revoked"]
    replaces: str | None
    certificate: str
    chain: list[str]


class CardCertificatesBody(BaseModel):
    """A card's certificates; ``warn_from``: certificates ending before it expire soon."""

    card_number: str
    warn_from: date
    certificates: list[CertificateBody]


class RevokeCertificateRequest(BaseModel):
    """Revoke one of a card's certificates."""

    model_config = ConfigDict(extra="forbid")

    admin_hsa_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=500)
    # base64 DER: a certificate this portal's CA issued but has no record of (a card's first
    # ones), shown so that it can be revoked and put on the CRL
    certificate: str | None = Field(default=None, min_length=1, max_length=20000)


class PinLetterRequest(BaseModel):
    """Order a PIN/PUK letter after the ID check."""

    model_config = ConfigDict(extra="forbid")

    admin_hsa_id: str = Field(min_length=1, max_length=64)
    evidence: EvidenceSummary


class PinLetterBody(BaseModel):
    """A PIN/PUK letter order: sent to the holder's registered (folkbokförings-) address."""

    order_id: str
    card_number: str
    ordered_at: str
    expected_by: str
    sent_to: Literal["registered_address"]
