"""OCR repair of MRZ lines: fixes by position, accepted only when every check digit passes."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.errors import InvalidInput
from kiosk.identity.mrz import (
    DIGIT_TO_LETTER,
    MrzChange,
    build_mrz,
    parse_mrz,
    position_kinds,
    repair_candidates,
    repair_mrz,
)
from tests.unit.identity.mrz_strategies import ON, build, mrz_fields
from tests.unit.identity.test_mrz import ICAO_TD1, ICAO_TD3, with_char


def test_a_valid_mrz_needs_no_change() -> None:
    repair = repair_mrz(ICAO_TD3, ON)
    assert repair is not None
    assert repair.changes == ()
    assert repair.lines == ICAO_TD3


def test_o_and_i_confusions_in_numeric_fields() -> None:
    read = with_char(with_char(ICAO_TD3, 1, 17, "I"), 1, 23, "O")  # birth 7408I2, expiry 12O4..
    read = with_char(read, 1, 43, "O")  # composite check digit 0 read as O
    with pytest.raises(InvalidInput):
        parse_mrz(read, ON)
    repair = repair_mrz(read, ON)
    assert repair is not None
    assert repair.lines == ICAO_TD3
    assert set(repair.changes) == {
        MrzChange(1, 17, "I", "1"), MrzChange(1, 23, "O", "0"), MrzChange(1, 43, "O", "0"),
    }
    assert repair.result.valid


def test_zero_in_an_alphabetic_field() -> None:
    read = with_char(with_char(ICAO_TD3, 1, 12, "0"), 0, 4, "0")  # nationality UT0, state UT0
    repair = repair_mrz(read, ON)
    assert repair is not None
    assert repair.result.nationality == "UTO"
    assert repair.result.issuing_state == "UTO"


def test_digits_in_a_name_become_letters() -> None:
    read = with_char(with_char(ICAO_TD1, 2, 0, "8"), 2, 5, "5")  # 8RIKS5ON
    repair = repair_mrz(read, ON)
    assert repair is not None
    assert repair.result.surname == "BRIKSSON"  # E was never a confusion; 8 -> B, 5 -> S


def test_a_document_number_confusion_is_settled_by_the_check_digit() -> None:
    lines = build_mrz("TD3", document_number="PX739A4K8", birth_date=date(1980, 1, 1),
                      issuing_state="UTO", expiry_date=date(2030, 1, 1), surname="T")
    misread = with_char(lines, 1, 8, "B")  # 8 read as B: a letter is allowed there
    assert not parse_mrz(misread, ON).valid
    repair = repair_mrz(misread, ON)
    assert repair is not None
    assert repair.changes == (MrzChange(1, 8, "B", "8"),)
    assert repair.result.document_number == "PX739A4K8"


def test_a_letter_that_is_really_a_letter_is_kept() -> None:
    lines = build_mrz("TD3", document_number="PX739A4KB", birth_date=date(1980, 1, 1),
                      issuing_state="UTO", expiry_date=date(2030, 1, 1), surname="T")
    repair = repair_mrz(lines, ON)
    assert repair is not None
    assert repair.changes == ()
    assert repair.result.document_number == "PX739A4KB"


def test_an_ambiguous_repair_is_refused() -> None:
    # In L898902C3 read as LB98902C3, turning B back into 8 (weight 3) and turning the
    # second 8 into B (weight 7) both restore every check digit: refuse rather than guess.
    misread = with_char(ICAO_TD3, 1, 1, "B")
    passing = [c for c in repair_candidates(misread) if parse_mrz(c, ON).valid]
    assert ICAO_TD3 in passing
    assert len(passing) >= 2
    assert repair_mrz(misread, ON) is None


def test_wrong_line_lengths_cannot_be_repaired() -> None:
    with pytest.raises(InvalidInput) as caught:
        repair_mrz((ICAO_TD3[0], ICAO_TD3[1][:40]), ON)
    assert caught.value.data["check"] == "line_length"


def test_candidates_come_fewest_changes_first() -> None:
    read = with_char(ICAO_TD3, 1, 1, "B")
    candidates = list(repair_candidates(read))
    changes = [sum(a != b for a, b in zip(read[1], c[1], strict=True)) for c in candidates]
    assert changes == sorted(changes)
    assert ICAO_TD3 in candidates


# --- properties -----------------------------------------------------------------------------


@st.composite
def misread(draw: st.DrawFn, kinds: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A generated MRZ and a copy with OCR confusions at positions of the given kinds."""
    fields: dict[str, Any] = draw(mrz_fields())
    lines = build(fields)
    kind_map = position_kinds(fields["mrz_format"])
    letter_to_digit = {letter: digit for digit, letter in DIGIT_TO_LETTER.items()}
    spots = []
    for row, line in enumerate(lines):
        for col, char in enumerate(line):
            kind = kind_map[row][col]
            if kind not in kinds:
                continue
            if kind == "alpha" and char in letter_to_digit:
                spots.append((row, col, letter_to_digit[char]))
            elif kind in ("numeric", "alnum") and char in DIGIT_TO_LETTER:
                spots.append((row, col, DIGIT_TO_LETTER[char]))
    chosen = draw(st.lists(st.sampled_from(spots), max_size=4, unique=True)) if spots else []
    read = lines
    for row, col, wrong in chosen:
        read = with_char(read, row, col, wrong)
    return lines, read


@settings(deadline=None, max_examples=60)
@given(misread(("numeric", "alpha")))
def test_confusions_in_numeric_and_alphabetic_fields_are_always_undone(
    pair: tuple[tuple[str, ...], tuple[str, ...]]
) -> None:
    original, read = pair
    repair = repair_mrz(read, ON)
    assert repair is not None
    assert repair.lines == original


@settings(deadline=None, max_examples=40)
@given(misread(("alnum",)))
def test_confusions_in_alphanumeric_fields_are_undone_or_refused(
    pair: tuple[tuple[str, ...], tuple[str, ...]]
) -> None:
    original, read = pair
    assert original in set(repair_candidates(read))
    repair = repair_mrz(read, ON)
    if repair is not None:
        assert repair.result.valid
        assert len(repair.changes) <= sum(
            a != b for x, y in zip(original, read, strict=True) for a, b in zip(x, y, strict=True)
        )


def test_a_letter_in_a_swedish_personnummer_is_a_digit() -> None:
    lines = build_mrz("TD1", document_number="87654321", birth_date=date(1990, 3, 15),
                      expiry_date=date(2031, 1, 1), surname="Andersson",
                      optional_data=("9003152387",))
    misread = with_char(lines, 0, 15 + 6, "Z")  # the 2 of 2387 read as Z
    assert parse_mrz(misread, ON).personnummer is None
    repair = repair_mrz(misread, ON)
    assert repair is not None
    assert repair.changes == (MrzChange(0, 21, "Z", "2"),)
    assert repair.result.personnummer is not None
    assert repair.result.personnummer.normalised == "199003152387"


def test_six_read_as_g_in_a_swedish_personnummer_is_caught() -> None:
    # 6 and G weigh the same mod 10, so no check digit sees this; the personnummer rule does.
    lines = build_mrz("TD3", document_number="81234567", birth_date=date(1995, 9, 17),
                      expiry_date=date(2031, 1, 1), surname="Dahl",
                      optional_data=("9509176260",))
    misread = with_char(lines, 1, 28 + 6, "G")
    assert parse_mrz(misread, ON).valid  # invisible to the check digits
    repair = repair_mrz(misread, ON)
    assert repair is not None
    assert repair.lines == lines


def find_near_tie() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A misread document number where one reading passes with k flips and another with k+1."""
    import random

    from kiosk.identity.mrz import _readings

    rng = random.Random(7)
    for _ in range(2000):
        number = "".join(rng.choice("0125689ABGIOSZ") for _ in range(9))
        lines = build_mrz("TD3", document_number=number, birth_date=date(1980, 1, 1),
                          issuing_state="UTO", expiry_date=date(2030, 1, 1), surname="T")
        col = rng.randrange(9)
        char = lines[1][col]
        swapped = DIGIT_TO_LETTER.get(char) or {v: k for k, v in DIGIT_TO_LETTER.items()}[char]
        read = with_char(lines, 1, col, swapped)
        passing = [(c, f) for c, f in _readings(read) if f <= 2 and parse_mrz(c, ON).valid]
        flips = sorted(f for _, f in passing)
        if flips[:1] == [1] and flips.count(1) == 1 and 2 in flips:
            return lines, read
    raise AssertionError("no near tie found")


def test_a_reading_with_a_rival_one_flip_away_is_refused() -> None:
    _, read = find_near_tie()
    assert repair_mrz(read, ON) is None


def test_a_search_cut_short_refuses_rather_than_guesses(monkeypatch: pytest.MonkeyPatch) -> None:
    import kiosk.identity.mrz as mrz

    lines = build_mrz("TD3", document_number="PX739A4K8", birth_date=date(1980, 1, 2),
                      issuing_state="UTO", expiry_date=date(2030, 1, 1), surname="T")
    misread = with_char(lines, 1, 8, "B")  # one flip mends it, and no rival is near
    assert repair_mrz(misread, ON) is not None
    monkeypatch.setattr(mrz, "MAX_REPAIR_CANDIDATES", 2)  # the search may end at the limit
    assert repair_mrz(misread, ON) is None
