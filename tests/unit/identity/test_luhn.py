"""Luhn check digits, against known numbers and python-stdnum as an independent oracle."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn as stdnum_luhn

from kiosk.identity.luhn import luhn_check_digit, luhn_valid

digit_strings = st.text(alphabet="0123456789", min_size=1, max_size=20)


@pytest.mark.parametrize(
    ("payload", "check"),
    [("900315238", 7), ("811228984", 1), ("232100001", 6), ("7992739871", 3)],
)
def test_known_check_digits(payload: str, check: int) -> None:
    assert luhn_check_digit(payload) == check
    assert luhn_valid(payload + str(check))


@given(digit_strings)
def test_appending_the_check_digit_makes_a_valid_number(payload: str) -> None:
    assert luhn_valid(payload + str(luhn_check_digit(payload)))


@given(digit_strings, st.integers(min_value=1, max_value=9))
def test_any_other_check_digit_is_invalid(payload: str, shift: int) -> None:
    wrong = (luhn_check_digit(payload) + shift) % 10
    assert not luhn_valid(payload + str(wrong))


@given(st.text(alphabet="0123456789", min_size=2, max_size=20))
def test_agrees_with_python_stdnum(number: str) -> None:
    assert luhn_valid(number) == stdnum_luhn.is_valid(number)


@given(digit_strings, st.data())
def test_a_single_changed_digit_is_always_detected(payload: str, data: st.DataObject) -> None:
    number = payload + str(luhn_check_digit(payload))
    index = data.draw(st.integers(min_value=0, max_value=len(number) - 1))
    new = data.draw(st.sampled_from([d for d in "0123456789" if d != number[index]]))
    assert not luhn_valid(number[:index] + new + number[index + 1 :])


@pytest.mark.parametrize("text", ["", "5", "12a4", "１２３４", "12 34"])
def test_non_digit_or_too_short_input_is_not_valid(text: str) -> None:
    assert not luhn_valid(text)


def test_check_digit_of_non_digits_is_refused() -> None:
    with pytest.raises(ValueError, match="digits"):
        luhn_check_digit("12a")
