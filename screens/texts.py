"""Every text on screen comes from here: translation keys in, words out (kiosk.i18n)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any

from kiosk.i18n import DEFAULT_LANGUAGE, catalog, describe_error, translate
from kiosk.visit.contract import ErrorView, Param, View, ViewName

# Params a screen never lists as a fact: they steer a widget, or must never be shown.
HIDDEN_PARAMS = frozenset({"pin", "new_pin", "old_pin", "puk", "credential", "checks", "read",
                           "what", "visits", "pin_pad", "waiting", "progress",
                           "cancellable", "fields", "choices", "document_types", "reasons",
                           "certificates", "document", "atr", "stage", "receipt",
                           "card_status", "take_card"})


def has_key(key: str, lang: str) -> bool:
    """Whether ``key`` is a translation key."""
    return key in catalog(lang)


def tr(key: str | None, lang: str, **params: Any) -> str:
    """The translated text for ``key`` (empty for None), parameters formatted for display."""
    if not key:
        return ""
    return translate(key, lang, **{k: show_param(k, v, lang) for k, v in params.items()})


def show_param(name: str, value: Any, lang: str) -> str:
    """A named parameter as the screen shows it (a reference without its internal suffix)."""
    if name == "reference" and isinstance(value, str):
        return support_reference(value)
    if name == "hours_left" and isinstance(value, int) and not isinstance(value, bool):
        return hours_left_text(value, lang)
    return show_value(value, lang)


def hours_left_text(hours: int, lang: str) -> str:
    """Time to a deadline as a person counts it: hours within two days, else whole days
    ("72 dagar", not "1742" hours)."""
    if hours >= 48:
        return tr("ui.value.hours_left.days", lang, days=hours // 24)
    return tr("ui.value.hours_left.hours", lang, hours=max(0, hours))


def support_reference(key: str) -> str:
    """The part of a result's idempotency key to quote to support: the visit id."""
    return key.partition(":")[0]


def show_value(value: Any, lang: str) -> str:
    """A parameter value as the screen shows it: dates plain, keys translated, bools in words."""
    if isinstance(value, bool):
        return tr("ui.yes" if value else "ui.no", lang)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, str) and has_key(value, lang):
        return translate(value, lang)
    if isinstance(value, str) and len(value) > 10 and value[4:5] == "-" and "T" in value:
        try:
            return datetime.fromisoformat(value).astimezone().strftime("%Y-%m-%d %H:%M")
        except ValueError:
            return value
    if isinstance(value, list | tuple):
        return ", ".join(show_value(v, lang) for v in value)
    return str(value)


def action_label(action: str, lang: str) -> str:
    """A button's text: the flow's action name looked up where the flows keep their words."""
    name = action.split(":", 1)[-1]
    for key in (f"visit.action.{name}", f"visit.title.{name}", f"visit.block.reason.{name}",
                f"ui.action.{name}", action):
        if has_key(key, lang):
            return translate(key, lang)
    return action


def facts(view: View, lang: str, only: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
    """The view's displayable parameters as (label, value) rows, labelled ones only."""
    rows = []
    for name, value in view.params.items():
        if only is not None and name not in only:
            continue
        if name in HIDDEN_PARAMS or value is None or isinstance(value, dict):
            continue
        label = f"ui.field.{name}"
        if has_key(label, lang):
            plain = show_value(value, DEFAULT_LANGUAGE)
            keys = [k for k in (f"ui.value.{name}.{plain}", f"visit.block.{name}.{plain}")
                    if has_key(k, lang)]
            shown = tr(keys[0], lang) if keys else show_param(name, value, lang)
            rows.append((tr(label, lang), shown))
    return rows


def facts_of(values: Mapping[str, Param], lang: str) -> list[tuple[str, str]]:
    """(label, value) rows of a dict of facts, labelled ones only."""
    return facts(View(ViewName.DONE, "", params=dict(values)), lang)


def error_texts(error: ErrorView | None, lang: str) -> tuple[str, str]:
    """The translated (message, next step) of an error view."""
    if error is None:
        return "", ""
    return tr(error.message, lang, **error.params), tr(error.next_step, lang, **error.params)


def error_view_for(exc: BaseException) -> ErrorView:
    """An ErrorView for an exception, from the error table (used when the shell itself fails)."""
    from kiosk.errors import KioskError, entry_for, next_step_key

    entry = entry_for(exc)
    code = exc.code if isinstance(exc, KioskError) else "internal"
    params = exc.params() if isinstance(exc, KioskError) else {}
    return ErrorView(code=code, message=entry.message, next_step=next_step_key(exc),
                     params=params)


__all__ = ["action_label", "describe_error", "error_texts", "error_view_for", "facts", "facts_of",
           "has_key", "hours_left_text", "show_param", "show_value", "support_reference", "tr"]
