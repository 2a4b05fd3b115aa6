"""The Swedish driving licence's QR code: its fields, and the evidence they make.

A licence has no MRZ; newer ones carry a QR code. The payload read here is the kiosk's
documented form ``SE-DL1;PNR=<12 digits>;DOC=<number>;EXP=<YYYYMMDD>;NAME=<SURNAME,GIVEN>``
(fields in any order after the tag; unknown fields ignored), which the demo documents
and the tests use. The expiry is exactly eight digits, the document number 1-20 letters
and digits, the name at most MAX_NAME letters, spaces and `,-'.` (no control character and no
right-to-left override, which would show the administrator another name than the code
holds). Anything else is refused with InvalidInput so that the administrator types the
facts instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from kiosk.document.evidence import name_as_read
from kiosk.errors import InvalidInput
from kiosk.identity.personnummer import parse_personnummer
from kiosk.model import DocumentEvidence, DocumentType, Provenance

LICENCE_TAG = "SE-DL1"
EXPIRY = re.compile(r"[0-9]{8}")  # YYYYMMDD, exactly (strptime alone takes "203011")
DOCUMENT_NUMBER = re.compile(r"[A-Za-z0-9]{1,20}")
MAX_NAME = 100  # characters; a name is shown to the administrator for the eye check
NAME_MARKS = frozenset(" ,-'.")  # besides letters (zxing-cpp writes a control byte as "<BEL>")


@dataclass(frozen=True)
class LicenceFields:
    """What a driving licence QR code says."""

    personnummer: str  # normalised, 12 digits
    document_number: str
    expiry: date
    surname: str = ""
    given_names: str = ""


def is_licence_payload(text: str) -> bool:
    """Whether a barcode's text claims to be a driving-licence payload."""
    return text.strip().startswith(LICENCE_TAG + ";")


def parse_licence(text: str, on: date | None = None) -> LicenceFields:
    """The fields of a licence payload; InvalidInput names what is wrong."""
    parts = text.strip().split(";")
    if parts[0] != LICENCE_TAG:
        raise InvalidInput("not a driving-licence code", field="licence", check="tag")
    values: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, value = part.partition("=")
        if sep:
            values[key.strip().upper()] = value.strip()
    missing = [key for key in ("PNR", "DOC", "EXP") if not values.get(key)]
    if missing:
        raise InvalidInput("the licence code lacks fields", field="licence", check="fields",
                           missing=",".join(missing))
    try:
        if not EXPIRY.fullmatch(values["EXP"]):
            raise ValueError(values["EXP"])
        expiry = datetime.strptime(values["EXP"], "%Y%m%d").date()
    except ValueError:
        raise InvalidInput("the licence expiry is not a date", field="licence",
                           check="date") from None
    if not DOCUMENT_NUMBER.fullmatch(values["DOC"]):
        raise InvalidInput("the licence document number is not letters and digits",
                           field="licence", check="document_number")
    name = values.get("NAME", "")
    if len(name) > MAX_NAME or not all(ch.isalpha() or ch in NAME_MARKS for ch in name):
        raise InvalidInput("the licence name is too long or holds control characters",
                           field="licence", check="name")
    personnummer = parse_personnummer(values["PNR"], on).normalised
    surname, _, given = name.partition(",")
    return LicenceFields(personnummer, values["DOC"], expiry, surname.strip(), given.strip())


def licence_payload(fields: LicenceFields) -> str:
    """The QR text for ``fields`` (sample documents and tests)."""
    name = f";NAME={fields.surname},{fields.given_names}" if fields.surname else ""
    return (f"{LICENCE_TAG};PNR={fields.personnummer};DOC={fields.document_number};"
            f"EXP={fields.expiry:%Y%m%d}{name}")


def evidence_from_licence(text: str, on: date | None = None) -> DocumentEvidence:
    """Evidence from a scanned licence QR: every fact in it is scanned."""
    fields = parse_licence(text, on)
    birth_date = parse_personnummer(fields.personnummer, on).birth_date
    how = {fact: Provenance.SCANNED
           for fact in ("doc_type", "expiry", "birth_date", "personnummer", "document_number")}
    return DocumentEvidence(
        doc_type=DocumentType.DRIVING_LICENCE,
        expiry=fields.expiry,
        birth_date=birth_date,
        personnummer=fields.personnummer,
        document_number=fields.document_number,
        swedish=True,
        how=how,
        name=name_as_read(fields.surname, fields.given_names),
    )
