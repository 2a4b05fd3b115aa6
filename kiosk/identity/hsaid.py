"""HSA-id: the Swedish health-care directory identity, e.g. ``SE2321000016-ABCD``.

Shape: country code ``SE``, the issuing organisation's 10-digit organisation number
(Luhn-valid; also written in its 12-digit form with the legal-entity prefix ``16``, as in
``SE162321000255-...``), optional further digits naming a sub-issuer, ``-``, and a local part of
``A-Z`` and ``0-9``. The whole id is at most 31 characters (the HSA catalogue's limit).
Input is trimmed and upper-cased before it is checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kiosk.errors import InvalidInput
from kiosk.identity.luhn import luhn_valid
from kiosk.identity.personnummer import DASHES

HSA_ID_MAX_LENGTH = 31
COUNTRY = "SE"
LEGAL_ENTITY_PREFIX = "16"
_LOCAL_PART = re.compile(r"[A-Z0-9]+")
_PREFIX_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class HsaId:
    """A checked HSA-id."""

    organisation_number: str
    suffix: str
    local_part: str
    entity_prefix: str = ""  # "16" when the organisation number is written in 12 digits

    @property
    def prefix(self) -> str:
        """Everything before the dash, e.g. SE2321000016."""
        return f"{COUNTRY}{self.entity_prefix}{self.organisation_number}{self.suffix}"

    @property
    def text(self) -> str:
        """The normalised id."""
        return f"{self.prefix}-{self.local_part}"

    def __str__(self) -> str:
        return self.text


def _invalid(check: str, detail: str, **data: object) -> InvalidInput:
    return InvalidInput(detail, field="hsa_id", check=check, **data)


def parse_hsa_id(text: str) -> HsaId:
    """Parse and check an HSA-id; InvalidInput's ``check`` names the failed check."""
    value = "".join(text.split()).translate(DASHES).upper()
    if not value:
        raise _invalid("length", "HSA-id is empty", length=0)
    if len(value) > HSA_ID_MAX_LENGTH:
        raise _invalid(
            "length", f"HSA-id is longer than {HSA_ID_MAX_LENGTH} characters", length=len(value)
        )
    if not value.isascii() or not re.fullmatch(r"[A-Z0-9\-]+", value):
        raise _invalid("characters", "HSA-id may hold only A-Z, 0-9 and '-'")
    if not value.startswith(COUNTRY):
        raise _invalid("country", "HSA-id must start with SE")
    if value.count("-") != 1:
        raise _invalid("separator", "HSA-id needs exactly one '-' before the local part")
    prefix, local_part = value[len(COUNTRY) :].split("-")
    if not _PREFIX_DIGITS.fullmatch(prefix) or len(prefix) < 10:
        raise _invalid(
            "organisation_number", "SE must be followed by a 10-digit organisation number"
        )
    entity_prefix = ""
    if prefix.startswith(LEGAL_ENTITY_PREFIX) and luhn_valid(prefix[2:12]):
        entity_prefix, prefix = LEGAL_ENTITY_PREFIX, prefix[2:]
    organisation_number, suffix = prefix[:10], prefix[10:]
    if not luhn_valid(organisation_number):
        raise _invalid("luhn", "the organisation number's check digit does not match")
    if not _LOCAL_PART.fullmatch(local_part):
        raise _invalid("local_part", "the part after '-' must be letters A-Z or digits")
    return HsaId(organisation_number, suffix, local_part, entity_prefix)


def is_valid_hsa_id(text: str) -> bool:
    """Whether ``text`` parses as an HSA-id."""
    try:
        parse_hsa_id(text)
    except InvalidInput:
        return False
    return True
