"""From a KioskError to the ErrorView a screen shows: ERROR_TABLE, refined per rule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from enum import Enum

from kiosk.errors import ERROR_TABLE, KioskError, RuleViolation, entry_for, next_step_key
from kiosk.i18n import DEFAULT_LANGUAGE, catalog
from kiosk.rules.admin import admin_rule_key
from kiosk.rules.card import card_rule_key
from kiosk.rules.document import document_rule_key
from kiosk.rules.pin import pin_rule_key
from kiosk.visit.contract import ErrorView, Param

# Rule-specific texts replace the table's generic ones when the catalog has them.
RULE_KEYS: dict[str, tuple[Callable[[str], str], ...]] = {
    "card_not_eligible": (card_rule_key,),
    "document_rejected": (document_rule_key,),
    "admin_not_authorised": (admin_rule_key,),
    "pin_rule": (pin_rule_key, lambda rule: f"rules.pin.{rule}"),
}


def _safe(value: object) -> Param:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return _safe(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return tuple(_safe(v) for v in value)
    return str(value)


def _known(key: str) -> bool:
    return key in catalog(DEFAULT_LANGUAGE)


def error_view(error: BaseException) -> ErrorView:
    """The translation keys and safe parameters that describe ``error`` on screen."""
    entry = entry_for(error)
    code = error.code if isinstance(error, KioskError) else "internal"
    if code not in ERROR_TABLE:
        code = "internal"
    params: dict[str, Param] = {}
    if isinstance(error, KioskError):
        params = {key: _safe(value) for key, value in error.params().items()}
    message, next_step = entry.message, next_step_key(error)
    if isinstance(error, RuleViolation):
        for make_key in RULE_KEYS.get(code, ()):
            key = make_key(error.rule)
            if _known(key):
                message = key
                if _known(key + ".next"):
                    next_step = key + ".next"
                break
    return ErrorView(code=code, message=message, next_step=next_step, params=params)


def can_retry(error: BaseException) -> bool:
    """Whether the error table says the same action may simply be tried again."""
    return entry_for(error).retry
