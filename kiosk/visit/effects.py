"""The effects a visit flow can ask for, the events that report their outcome, and their results.

Every effect's outcome comes back as one event: ``effect_done`` with data
``{"effect": kind, "result": ...}`` or ``effect_failed`` with ``{"effect": kind, "error":
KioskError}``. Arguments named ``pin``, ``old_pin``, ``new_pin`` and ``credential`` are
``Secret``s: the runner reveals them for the one port call and wipes them afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EffectKind(StrEnum):
    """Effect kinds, with their arguments and what ``effect_done`` carries as ``result``."""

    IDENTIFY_CARD = "identify_card"  # reader -> CardIdentity
    FETCH_RECORD = "fetch_record"  # card_number -> CardRecord
    READ_CERTIFICATES = "read_certificates"  # reader -> list[CertificateInfo]
    ADMIN_SIGN_IN = "admin_sign_in"  # reader, pin -> CertificateInfo
    AUTHORISE_ADMIN = "authorise_admin"  # hsa_id -> AdminAuthorisation
    START_ACTIVATION = "start_activation"  # card_number, admin_hsa_id, evidence, key -> ticket
    START_UNLOCK = "start_unlock"  # card_number, admin_hsa_id, evidence, key -> ticket
    WRITE_PIN = "write_pin"  # reader, credential, pin -> None
    UNLOCK_PIN = "unlock_pin"  # reader, credential, pin -> None
    CHANGE_PIN = "change_pin"  # reader, old_pin, new_pin -> None
    SIGN_RECEIPT = "sign_receipt"  # reader, pin, receipt -> SignedReceipt
    BLOCK_CARD = "block_card"  # card_number, admin_hsa_id, reason, idempotency_key -> CardRecord
    RECORD_RESULT = "record_result"  # result -> outbox id (str)
    SYNC_RESULT = "sync_result"  # result -> CardRecord | None


EFFECT_DONE = "effect_done"
EFFECT_FAILED = "effect_failed"

SECRET_ARGS: frozenset[str] = frozenset({"pin", "old_pin", "new_pin", "credential"})


@dataclass(frozen=True)
class SignedReceipt:
    """The holder's signature over the receipt and the certificate that made it."""

    signature: bytes
    certificate: bytes
