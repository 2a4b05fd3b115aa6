"""Translation catalogs: Swedish first, English second.

Catalogs live in kiosk/locale/<lang>/<area>.json, one flat object of dotted keys per
area file (errors.json, visit.json, ui.json, ...), so that each part of the product owns
its own file. Every key must exist in every language; a test enforces it.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from kiosk.errors import KioskError, entry_for, next_step_key

LANGUAGES: tuple[str, ...] = ("sv", "en")
DEFAULT_LANGUAGE = "sv"


@cache
def catalog(lang: str) -> dict[str, str]:
    """All keys of one language, merged from its area files."""
    if lang not in LANGUAGES:
        raise KeyError(f"unsupported language {lang!r}")
    merged: dict[str, str] = {}
    folder = resources.files("kiosk.locale").joinpath(lang)
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".json"):
            continue
        data = json.loads(item.read_text(encoding="utf-8"))
        for key, text in data.items():
            if key in merged:
                raise ValueError(f"duplicate translation key {key!r} in {lang}/{item.name}")
            merged[key] = str(text)
    return merged


def translate(key: str, lang: str = DEFAULT_LANGUAGE, **params: Any) -> str:
    """The text for ``key`` in ``lang`` with ``{name}`` fields filled; the key if missing."""
    text = catalog(lang).get(key)
    if text is None:
        text = catalog(DEFAULT_LANGUAGE).get(key, key)
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):
        return text


def describe_error(error: BaseException, lang: str = DEFAULT_LANGUAGE) -> tuple[str, str]:
    """The translated (message, next step) pair for an error, from the error table."""
    entry = entry_for(error)
    params = error.params() if isinstance(error, KioskError) else {}
    return translate(entry.message, lang, **params), translate(next_step_key(error), lang, **params)
