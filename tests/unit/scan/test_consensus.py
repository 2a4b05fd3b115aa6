"""MrzConsensus: check digits must pass and two successive readings must agree."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.document.consensus import MrzConsensus, checked_positions
from kiosk.identity.mrz import build_mrz

ON = date(2026, 1, 1)
TD3 = build_mrz(
    "TD3", document_number="81234567", birth_date=date(1990, 3, 15),
    expiry_date=date(2031, 5, 2), surname="Andersson", given_names="Anna", sex="F",
    optional_data=("9003152387",),
)
TD1 = build_mrz(
    "TD1", document_number="87654321", birth_date=date(1985, 7, 22),
    expiry_date=date(2030, 1, 31), surname="Berg", given_names="Bertil", sex="M",
    optional_data=("8507224510", ""),
)
# Positions holding only digits protected by a check digit: dates and check digits (TD3).
TD3_NUMERIC = [*range(13, 20), *range(21, 28), 43]


def test_two_agreeing_valid_readings_are_accepted() -> None:
    consensus = MrzConsensus(on=ON)
    assert consensus.offer(TD3) is None
    result = consensus.offer(TD3)
    assert result is not None and result.valid
    assert result.lines == TD3


def test_ocr_confusions_are_repaired_before_comparing() -> None:
    consensus = MrzConsensus(on=ON)
    misread = (TD3[0], TD3[1].replace("9003152387", "9OO3I52387"))
    assert consensus.offer(misread) is None
    result = consensus.offer(TD3)
    assert result is not None and result.lines == TD3


def test_a_different_valid_reading_starts_over() -> None:
    consensus = MrzConsensus(on=ON)
    assert consensus.offer(TD3) is None
    assert consensus.offer(TD1) is None
    assert consensus.offer(TD3) is None
    result = consensus.offer(TD3)
    assert result is not None and result.format == "TD3"


def test_a_doubtful_cell_in_the_name_is_never_accepted() -> None:
    consensus = MrzConsensus(on=ON)
    assert consensus.offer(TD3, uncertain=[(0, 7)]) is None
    assert consensus.offer(TD3, uncertain=[(0, 7)]) is None
    assert consensus.rejected == 2
    assert consensus.offer(TD3) is None
    assert consensus.offer(TD3) is not None


def test_one_doubtful_digit_a_check_digit_guards_is_accepted() -> None:
    consensus = MrzConsensus(on=ON)
    assert consensus.offer(TD3, uncertain=[(1, 15)]) is None  # birth date digit
    assert consensus.offer(TD3, uncertain=[(1, 43)]) is not None  # composite check digit


def test_two_doubts_or_a_doubt_in_a_mixed_field_are_refused() -> None:
    consensus = MrzConsensus(on=ON)
    for doubts in ([(1, 15), (1, 16)], [(1, 3)], [(1, 30)]):  # two digits; number; optional
        assert consensus.offer(TD3, uncertain=doubts) is None
    assert consensus.rejected == 3


def test_guarded_cells_are_the_checked_fields_only() -> None:
    td3 = checked_positions("TD3")
    assert (1, 0) in td3 and (1, 43) in td3 and (1, 35) in td3  # number, composite, optional
    assert not any(row == 0 for row, _ in td3)  # name line: no check digit
    assert (1, 10) not in td3 and (1, 20) not in td3  # nationality, sex
    td1 = checked_positions("TD1")
    assert (0, 5) in td1 and (1, 0) in td1 and (1, 29) in td1
    assert not any(row == 2 for row, _ in td1)
    assert (0, 2) not in td1 and (1, 7) not in td1 and (1, 15) not in td1


def test_a_failed_check_digit_is_never_accepted() -> None:
    bad = (TD3[0], TD3[1][:43] + str((int(TD3[1][43]) + 1) % 10))
    consensus = MrzConsensus(on=ON)
    for _ in range(5):
        assert consensus.offer(bad) is None
    assert consensus.rejected == 5


def test_garbage_lines_are_ignored_not_raised() -> None:
    consensus = MrzConsensus(on=ON)
    assert consensus.offer(("NOT AN MRZ",)) is None
    assert consensus.offer(("P<" + "<" * 42, "1" * 44)) is None


@settings(max_examples=150, deadline=None)
@given(position=st.sampled_from(TD3_NUMERIC), digit=st.sampled_from("0123456789"))
def test_a_changed_digit_in_a_checked_field_is_never_accepted(position: int, digit: str) -> None:
    line = TD3[1]
    if line[position] == digit:
        return
    changed = (TD3[0], line[:position] + digit + line[position + 1 :])
    consensus = MrzConsensus(on=ON)
    assert consensus.offer(changed) is None
    assert consensus.offer(changed) is None
