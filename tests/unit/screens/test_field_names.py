"""One thing, one name: a fact label means the same in Swedish and English on every screen.

The holder's PIN screens called the activation's completion deadline "Klart senast" while
the card record called it "Slutförs senast" (English "Complete by" for both).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

LOCALE = Path(__file__).resolve().parents[3] / "kiosk" / "locale"

# Names that differ in one language only by its grammar, not by meaning.
GRAMMAR = {
    ("en", "Valid until"): {"Giltig till", "Giltigt till"},  # the document / the card (gender)
    ("sv", "Certifikat"): {"Certificate", "Certificates"},  # one word for both in Swedish
}


def _fields(lang: str) -> dict[str, str]:
    catalog = json.loads((LOCALE / lang / "ui.json").read_text(encoding="utf-8"))
    return {k: v for k, v in catalog.items() if k.startswith("ui.field.")}


def names_for_one_name(one: str, other: str) -> dict[str, set[str]]:
    """Each ``one``-language label that has more than one ``other``-language label."""
    first, second = _fields(one), _fields(other)
    found: dict[str, set[str]] = defaultdict(set)
    for key, label in first.items():
        found[label].add(second[key])
    return {label: names for label, names in found.items()
            if len(names) > 1 and GRAMMAR.get((one, label)) != names}


def test_one_english_field_label_has_one_swedish_name() -> None:
    assert names_for_one_name("en", "sv") == {}


def test_one_swedish_field_label_has_one_english_name() -> None:
    assert names_for_one_name("sv", "en") == {}
