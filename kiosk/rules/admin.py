"""Whether an ID administrator may work at this kiosk.

Refusal reasons (``ADMIN_RULES``), translated under ``rules.admin.<reason>`` and
``rules.admin.<reason>.next`` in kiosk/locale/*/rules.json:

- ``no_hsa_id``: the administrator's card certificate carries no HSA-id.
- ``identity_mismatch``: the portal answered for another HSA-id than the card's.
- ``training_lapsed``: the yearly training is no longer valid (valid through its last day).
- ``wrong_office``: the administrator belongs to another card office than this kiosk.
"""

from __future__ import annotations

from datetime import date

from kiosk.errors import AdminNotAuthorised
from kiosk.model import AdminAuthorisation

ADMIN_RULES: tuple[str, ...] = ("no_hsa_id", "identity_mismatch", "training_lapsed", "wrong_office")


def admin_rule_key(rule: str) -> str:
    """The translation key explaining an administrator refusal ``rule``."""
    return f"rules.admin.{rule}"


def _same_office(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def admin_refusal(
    authorisation: AdminAuthorisation,
    today: date,
    card_office: str,
    card_hsa_id: str | None,
) -> AdminNotAuthorised | None:
    """Why this administrator may not work here today, or None if they may."""
    if not card_hsa_id:
        return AdminNotAuthorised("no_hsa_id")
    if authorisation.hsa_id.upper() != card_hsa_id.upper():
        return AdminNotAuthorised("identity_mismatch", hsa_id=card_hsa_id)
    if authorisation.training_valid_until < today:
        return AdminNotAuthorised(
            "training_lapsed",
            hsa_id=authorisation.hsa_id,
            valid_until=authorisation.training_valid_until.isoformat(),
        )
    if not _same_office(authorisation.card_office, card_office):
        return AdminNotAuthorised(
            "wrong_office", office=authorisation.card_office, kiosk_office=card_office
        )
    return None


def ensure_admin_authorised(
    authorisation: AdminAuthorisation,
    today: date,
    card_office: str,
    card_hsa_id: str | None,
) -> None:
    """Raise AdminNotAuthorised(rule=reason) unless the administrator may work here today."""
    refused = admin_refusal(authorisation, today, card_office, card_hsa_id)
    if refused is not None:
        raise refused
