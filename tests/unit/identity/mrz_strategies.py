"""Hypothesis strategies for MRZ field values, shared by the MRZ test modules."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import strategies as st

from kiosk.identity.mrz import build_mrz

ON = date(2026, 11, 25)
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
ALNUM = LETTERS + DIGITS

words = st.text(alphabet=LETTERS, min_size=1, max_size=8)
surnames = st.lists(words, min_size=1, max_size=2).map(" ".join)  # at most 17 characters
given_names = st.one_of(st.just(""), words)  # so "SURNAME<<GIVEN" fits TD1's 30
states = st.sampled_from(["SWE", "NOR", "UTO", "D", "GBR", "FIN"])
births = st.dates(min_value=date(1927, 1, 1), max_value=ON)
expiries = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


@st.composite
def mrz_fields(draw: st.DrawFn, mrz_format: str | None = None) -> dict[str, Any]:
    """Keyword arguments for build_mrz that fit their fields without truncation."""
    fmt = mrz_format or draw(st.sampled_from(["TD1", "TD2", "TD3"]))
    widths = {"TD1": (30, (15, 11)), "TD2": (31, (7,)), "TD3": (39, (14,))}
    _, optional_widths = widths[fmt]
    surname = draw(surnames)
    given = draw(given_names)
    state = draw(states)
    # Swedish passport and ID-card numbers are digits (ISSUER_NUMBER_FORMATS)
    alphabet = DIGITS if state == "SWE" else ALNUM
    number = draw(st.text(alphabet=alphabet, min_size=1, max_size=9))
    if fmt != "TD3" and draw(st.booleans()):
        # A long number continues in the first optional field: rest, check digit, filler.
        number = draw(st.text(alphabet=alphabet, min_size=10, max_size=12))
        first = optional_widths[0] - (len(number) - 9) - 2
        optional_widths = (first, *optional_widths[1:])
    optional = tuple(
        draw(st.text(alphabet=ALNUM, max_size=width)) for width in optional_widths
    )
    return {
        "mrz_format": fmt,
        "document_number": number,
        "birth_date": draw(births),
        "expiry_date": draw(expiries),
        "surname": surname,
        "given_names": given,
        "sex": draw(st.sampled_from(["M", "F", "X"])),
        "issuing_state": state,
        "nationality": draw(states),
        "optional_data": optional,
    }


def build(fields: dict[str, Any]) -> tuple[str, ...]:
    """build_mrz with a fields dict from ``mrz_fields``."""
    kwargs = dict(fields)
    return build_mrz(kwargs.pop("mrz_format"), **kwargs)
