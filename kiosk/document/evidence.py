"""Turn what the scanner read (an MRZ, a driving-licence QR) or what was typed into
``DocumentEvidence``, recording how each fact was established.

The rules that judge the evidence live in kiosk.rules.document; nothing here decides
whether a document is acceptable, only what it says and how we know it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from kiosk.errors import InvalidInput
from kiosk.identity.mrz import MrzResult
from kiosk.identity.personnummer import parse_personnummer
from kiosk.model import DocumentEvidence, DocumentType, Provenance

SWEDEN = "SWE"
FACTS: tuple[str, ...] = ("doc_type", "expiry", "birth_date", "personnummer", "document_number")


def document_type_of(document_code: str, issuing_state: str) -> DocumentType:
    """The document type an MRZ's code and issuing state stand for (P passport, I/A/C ID card)."""
    if document_code.startswith("P"):
        return DocumentType.PASSPORT
    if document_code[:1] in ("I", "A", "C") and issuing_state == SWEDEN:
        return DocumentType.NATIONAL_ID
    return DocumentType.OTHER


def evidence_from_mrz(result: MrzResult) -> DocumentEvidence:
    """Evidence from an accepted (check-digit-valid) MRZ; every fact it holds is scanned."""
    if not result.valid:
        raise InvalidInput("an MRZ whose check digits fail is no evidence", field="mrz",
                           check="check_digits", failed=",".join(result.failed_checks))
    personnummer = result.personnummer.normalised if result.personnummer else None
    how = {fact: Provenance.SCANNED for fact in FACTS}
    if personnummer is None:
        del how["personnummer"]
    return DocumentEvidence(
        doc_type=document_type_of(result.document_code, result.issuing_state),
        expiry=result.expiry_date,
        birth_date=result.birth_date,
        personnummer=personnummer,
        document_number=result.document_number or None,
        swedish=result.issuing_state == SWEDEN,
        how=how,
        name=name_as_read(result.surname, result.given_names),
    )


def name_as_read(surname: str, given_names: str) -> str | None:
    """"SURNAME, GIVEN NAMES" as a document spells it, or None when it gives no name."""
    parts = [part for part in (surname.strip(), given_names.strip()) if part]
    return ", ".join(parts) or None


def typed_evidence(
    doc_type: DocumentType,
    expiry: date,
    personnummer: str | None,
    document_number: str | None = None,
    birth_date: date | None = None,
    swedish: bool = True,
    on: date | None = None,
) -> DocumentEvidence:
    """Evidence the administrator typed in (a scan failed or the document has no code).

    The personnummer is checked and normalised; the birth date, if not typed, is the
    personnummer's. Every fact is recorded as typed.
    """
    normalised = None
    if personnummer:
        parsed = parse_personnummer(personnummer, on)
        normalised = parsed.normalised
        birth_date = birth_date or parsed.birth_date
    how = {fact: Provenance.TYPED for fact in FACTS}
    for fact, value in (("personnummer", normalised), ("birth_date", birth_date),
                        ("document_number", document_number)):
        if not value:
            del how[fact]
    return DocumentEvidence(
        doc_type=doc_type,
        expiry=expiry,
        birth_date=birth_date,
        personnummer=normalised,
        document_number=document_number or None,
        swedish=swedish,
        how=how,
    )


def with_typed_personnummer(
    evidence: DocumentEvidence, personnummer: str, on: date | None = None
) -> DocumentEvidence:
    """Scanned evidence completed with a typed personnummer (a document without one)."""
    parsed = parse_personnummer(personnummer, on)
    if evidence.birth_date is not None and not parsed.may_be_born_on(evidence.birth_date):
        raise InvalidInput("the personnummer's birth date differs from the document's",
                           field="personnummer", check="birth_date_mismatch")
    how = dict(evidence.how)
    how["personnummer"] = Provenance.TYPED
    return replace(evidence, personnummer=parsed.normalised, how=how)


def evidence_summary(evidence: DocumentEvidence, *, suffixes: bool = False) -> dict[str, Any]:
    """What leaves the visit about an ID check (the audit log, the portal): the document
    type, its validity and how each fact was established, never a full number.

    ``suffixes`` (the portal's request) adds the last four characters of the personnummer
    and of the document number, so the portal can match them against its records.
    """
    summary: dict[str, Any] = {
        "doc_type": evidence.doc_type.value,
        "expiry": evidence.expiry.isoformat(),
        "swedish": evidence.swedish,
        "how": {fact: how.value for fact, how in sorted(evidence.how.items())},
        "photo_confirmed": evidence.photo_confirmed,
        "age_confirmed": evidence.age_confirmed,
    }
    if suffixes:
        digits = "".join(ch for ch in evidence.personnummer or "" if ch.isdigit())
        summary["personnummer_suffix"] = digits[-4:] if len(digits) >= 10 else None
        summary["document_number_suffix"] = (evidence.document_number or "")[-4:] or None
    return summary
