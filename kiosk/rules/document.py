"""The ID document control process: each check named, so the screen can show every result.

Checks (``DOCUMENT_CHECKS``) and the reasons each can fail with, translated under
``rules.document.<reason>`` and ``rules.document.<reason>.next`` in kiosk/locale/*/rules.json:

- ``document_type``: ``document_type_not_accepted`` (not on the list for the card's
  trust level), ``document_not_swedish`` (LoA3 needs a Swedish full-value document).
- ``not_expired``: ``document_expired`` (valid through the expiry date inclusive).
- ``holder_age``: ``holder_too_young`` (LoA3 18+, LoA2 15+), ``birth_date_unknown``.
- ``personnummer_match``: ``personnummer_missing``, ``personnummer_invalid``,
  ``personnummer_mismatch`` (normalised, so 10 and 12 digit forms compare equal).
- ``photo_confirmed`` / ``age_confirmed``: the administrator's eye check,
  ``photo_not_confirmed`` / ``age_not_confirmed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from kiosk.errors import DocumentRejected, InvalidInput
from kiosk.identity.personnummer import Personnummer, parse_personnummer
from kiosk.model import CardRecord, DocumentEvidence, TrustLevel
from kiosk.settings import DocumentRulesSettings

DOCUMENT_CHECKS: tuple[str, ...] = (
    "document_type",
    "not_expired",
    "holder_age",
    "personnummer_match",
    "photo_confirmed",
    "age_confirmed",
)

EYE_CHECKS: frozenset[str] = frozenset({"photo_confirmed", "age_confirmed"})


@dataclass(frozen=True)
class DocumentCheck:
    """One named check of the control process; ``reason`` is None when it passed."""

    name: str
    ok: bool
    reason: str | None = None


def document_rule_key(reason: str) -> str:
    """The translation key explaining a document refusal ``reason``."""
    return f"rules.document.{reason}"


def age_on(birth: date, day: date) -> int:
    """Completed years on ``day`` (a 29 February birthday counts from 1 March)."""
    return day.year - birth.year - int((day.month, day.day) < (birth.month, birth.day))


def _parse(text: str | None, today: date) -> Personnummer | None:
    if not text:
        return None
    try:
        return parse_personnummer(text, on=today)
    except InvalidInput:
        return None


def _type_check(
    evidence: DocumentEvidence, level: TrustLevel, settings: DocumentRulesSettings
) -> DocumentCheck:
    accepted = settings.loa3_documents if level >= TrustLevel.LOA3 else settings.loa2_documents
    if evidence.doc_type.value not in accepted:
        return DocumentCheck("document_type", False, "document_type_not_accepted")
    if level >= TrustLevel.LOA3 and not evidence.swedish:
        return DocumentCheck("document_type", False, "document_not_swedish")
    return DocumentCheck("document_type", True)


def _age_check(
    evidence: DocumentEvidence,
    record: CardRecord,
    today: date,
    settings: DocumentRulesSettings,
) -> DocumentCheck:
    birth = evidence.birth_date
    if birth is None:
        parsed = _parse(evidence.personnummer, today) or _parse(record.personnummer, today)
        birth = parsed.birth_date if parsed else None
    if birth is None:
        return DocumentCheck("holder_age", False, "birth_date_unknown")
    minimum = (
        settings.loa3_min_age if record.trust_level >= TrustLevel.LOA3 else settings.loa2_min_age
    )
    if age_on(birth, today) < minimum:
        return DocumentCheck("holder_age", False, "holder_too_young")
    return DocumentCheck("holder_age", True)


def _personnummer_check(
    evidence: DocumentEvidence, record: CardRecord, today: date
) -> DocumentCheck:
    if not evidence.personnummer:
        return DocumentCheck("personnummer_match", False, "personnummer_missing")
    on_document = _parse(evidence.personnummer, today)
    holder = _parse(record.personnummer, today)
    if on_document is None or holder is None:
        return DocumentCheck("personnummer_match", False, "personnummer_invalid")
    if on_document.normalised != holder.normalised:
        return DocumentCheck("personnummer_match", False, "personnummer_mismatch")
    return DocumentCheck("personnummer_match", True)


def check_document(
    evidence: DocumentEvidence,
    record: CardRecord,
    today: date,
    settings: DocumentRulesSettings,
) -> list[DocumentCheck]:
    """Every check of the control process in ``DOCUMENT_CHECKS`` order, passed or not."""
    return [
        _type_check(evidence, record.trust_level, settings),
        DocumentCheck("not_expired", True)
        if today <= evidence.expiry
        else DocumentCheck("not_expired", False, "document_expired"),
        _age_check(evidence, record, today, settings),
        _personnummer_check(evidence, record, today),
        DocumentCheck("photo_confirmed", True)
        if evidence.photo_confirmed
        else DocumentCheck("photo_confirmed", False, "photo_not_confirmed"),
        DocumentCheck("age_confirmed", True)
        if evidence.age_confirmed
        else DocumentCheck("age_confirmed", False, "age_not_confirmed"),
    ]


def first_failure(checks: list[DocumentCheck], skip: frozenset[str] = frozenset()) -> str | None:
    """The reason of the first failed check not in ``skip``, or None if all passed."""
    for check in checks:
        if not check.ok and check.name not in skip:
            return check.reason
    return None


def ensure_document_accepted(
    evidence: DocumentEvidence,
    record: CardRecord,
    today: date,
    settings: DocumentRulesSettings,
) -> list[DocumentCheck]:
    """All checks if every one passed; else raise DocumentRejected(rule=first failure)."""
    checks = check_document(evidence, record, today, settings)
    reason = first_failure(checks)
    if reason is not None:
        failed = tuple(c.name for c in checks if not c.ok)
        raise DocumentRejected(reason, failed=failed, document=evidence.doc_type.value)
    return checks
