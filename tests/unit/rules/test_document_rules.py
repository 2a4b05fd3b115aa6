"""The ID document control process: every check named and reported."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from kiosk.errors import DocumentRejected
from kiosk.i18n import LANGUAGES, catalog
from kiosk.model import CardKind, CardRecord, CardStatus, DocumentEvidence, DocumentType, TrustLevel
from kiosk.rules.document import (
    DOCUMENT_CHECKS,
    age_on,
    check_document,
    document_rule_key,
    ensure_document_accepted,
    first_failure,
)
from kiosk.settings import DocumentRulesSettings

RULES = DocumentRulesSettings()
TODAY = date(2026, 11, 25)
HOLDER = "199003152387"  # Anna, born 1990-03-15


def record(**changes: object) -> CardRecord:
    base = CardRecord(
        "9752210000000001", CardStatus.SENT, CardKind.ORDINARY, "SITHS", "Anna Andersson",
        HOLDER, "SE2321000016-A1B2", TrustLevel.LOA3, date(2026, 11, 1),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def evidence(**changes: object) -> DocumentEvidence:
    base = DocumentEvidence(
        DocumentType.PASSPORT, date(2029, 1, 1), date(1990, 3, 15), "900315-2387",
        "AA1234567", photo_confirmed=True, age_confirmed=True,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def failures(checks: list) -> dict[str, str]:  # type: ignore[type-arg]
    return {c.name: c.reason for c in checks if not c.ok}


def test_all_checks_pass_and_are_all_reported_in_order() -> None:
    checks = check_document(evidence(), record(), TODAY, RULES)
    assert [c.name for c in checks] == list(DOCUMENT_CHECKS)
    assert all(c.ok and c.reason is None for c in checks)


@pytest.mark.parametrize(
    ("ev", "rec", "expected"),
    [
        (evidence(doc_type=DocumentType.OTHER), record(),
         {"document_type": "document_type_not_accepted"}),
        (evidence(doc_type=DocumentType.OTHER), record(trust_level=TrustLevel.LOA2), {}),
        (evidence(swedish=False), record(), {"document_type": "document_not_swedish"}),
        (evidence(swedish=False), record(trust_level=TrustLevel.LOA2), {}),
        (evidence(expiry=TODAY), record(), {}),  # valid through the expiry date
        (evidence(expiry=date(2026, 11, 24)), record(), {"not_expired": "document_expired"}),
        (evidence(personnummer="19900315-2387"), record(), {}),  # normalised comparison
        (evidence(personnummer="198507224510"), record(),
         {"personnummer_match": "personnummer_mismatch"}),
        (evidence(personnummer=None), record(), {"personnummer_match": "personnummer_missing"}),
        (evidence(personnummer="900315-2388"), record(),
         {"personnummer_match": "personnummer_invalid"}),
        (evidence(photo_confirmed=False), record(), {"photo_confirmed": "photo_not_confirmed"}),
        (evidence(age_confirmed=False), record(), {"age_confirmed": "age_not_confirmed"}),
        (evidence(expiry=date(2020, 1, 1), photo_confirmed=False), record(),
         {"not_expired": "document_expired", "photo_confirmed": "photo_not_confirmed"}),
    ],
)
def test_document_check_table(
    ev: DocumentEvidence, rec: CardRecord, expected: dict[str, str]
) -> None:
    assert failures(check_document(ev, rec, TODAY, RULES)) == expected


# Ages: LoA3 needs 18, LoA2 15; the 18th birthday itself counts.
@pytest.mark.parametrize(
    ("birth", "level", "ok"),
    [
        (date(2008, 11, 25), TrustLevel.LOA3, True),
        (date(2008, 11, 26), TrustLevel.LOA3, False),
        (date(2011, 11, 25), TrustLevel.LOA2, True),
        (date(2011, 11, 26), TrustLevel.LOA2, False),
        (date(2010, 1, 1), TrustLevel.LOA3, False),
        (date(2010, 1, 1), TrustLevel.LOA2, True),
    ],
)
def test_holder_age_by_trust_level(birth: date, level: TrustLevel, ok: bool) -> None:
    checks = check_document(evidence(birth_date=birth), record(trust_level=level), TODAY, RULES)
    age = next(c for c in checks if c.name == "holder_age")
    assert age.ok is ok
    assert age.reason == (None if ok else "holder_too_young")


def test_age_from_personnummer_when_the_document_has_no_birth_date() -> None:
    young = "20090101-0005"  # not a valid Luhn: fall back to the record's personnummer
    checks = check_document(evidence(birth_date=None), record(), TODAY, RULES)
    assert next(c for c in checks if c.name == "holder_age").ok
    minor = record(personnummer="200901012385")  # 17 years old on TODAY
    checks = check_document(evidence(birth_date=None, personnummer=None), minor, TODAY, RULES)
    assert failures(checks)["holder_age"] == "holder_too_young"
    checks = check_document(
        evidence(birth_date=None, personnummer=young), record(personnummer="x"), TODAY, RULES
    )
    assert failures(checks)["holder_age"] == "birth_date_unknown"


def test_coordination_number_matches_after_normalising() -> None:
    farid = "199108613457"  # samordningsnummer: day 61 = the 1st
    rec = record(personnummer=farid, trust_level=TrustLevel.LOA2)
    checks = check_document(
        evidence(personnummer="910861-3457", birth_date=None), rec, TODAY, RULES
    )
    assert failures(checks) == {}


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        (date(2008, 2, 29), date(2026, 2, 28), 17),
        (date(2008, 2, 29), date(2026, 3, 1), 18),
        (date(2000, 6, 15), date(2018, 6, 15), 18),
    ],
)
def test_age_on(birth: date, day: date, age: int) -> None:
    assert age_on(birth, day) == age


def test_ensure_raises_the_first_failure_with_every_failed_check() -> None:
    bad = evidence(expiry=date(2020, 1, 1), photo_confirmed=False)
    with pytest.raises(DocumentRejected) as caught:
        ensure_document_accepted(bad, record(), TODAY, RULES)
    assert caught.value.rule == "document_expired"
    assert caught.value.data["failed"] == ("not_expired", "photo_confirmed")
    assert len(ensure_document_accepted(evidence(), record(), TODAY, RULES)) == 6


def test_first_failure_can_skip_the_eye_checks() -> None:
    checks = check_document(evidence(photo_confirmed=False), record(), TODAY, RULES)
    assert first_failure(checks) == "photo_not_confirmed"
    assert first_failure(checks, frozenset({"photo_confirmed", "age_confirmed"})) is None


REASONS = (
    "document_type_not_accepted", "document_not_swedish", "document_expired",
    "holder_too_young", "birth_date_unknown", "personnummer_missing",
    "personnummer_invalid", "personnummer_mismatch", "photo_not_confirmed", "age_not_confirmed",
)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_reason_and_check_is_translated(lang: str) -> None:
    keys = catalog(lang)
    for reason in REASONS:
        assert document_rule_key(reason) in keys
        assert document_rule_key(reason) + ".next" in keys
    for name in DOCUMENT_CHECKS:
        assert f"rules.document.check.{name}" in keys
