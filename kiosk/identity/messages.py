"""Translation keys that say which identity check failed, for screens and the CLI."""

from __future__ import annotations

from kiosk.errors import InvalidInput
from kiosk.i18n import DEFAULT_LANGUAGE, catalog

# MrzCheck.name -> key naming the field whose check digit failed.
MRZ_CHECK_KEYS: dict[str, str] = {
    name: f"mrz.check.{name}"
    for name in ("document_number", "birth_date", "expiry_date", "optional_data", "composite")
}


def identity_check_key(field: str, check: str) -> str:
    """The key explaining a failed check: identity.<field>.<check>."""
    return f"identity.{field}.{check}"


def invalid_input_key(error: InvalidInput) -> str | None:
    """The identity key for an InvalidInput from kiosk.identity, or None if it has none."""
    field, check = error.data.get("field"), error.data.get("check")
    if not isinstance(field, str) or not isinstance(check, str):
        return None
    key = identity_check_key(field, check)
    return key if key in catalog(DEFAULT_LANGUAGE) else None
