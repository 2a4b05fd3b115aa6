"""Personnummer and samordningsnummer: forms, checks, century inference, error detail."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn as stdnum_luhn
from stdnum.se import personnummer as stdnum_pnr

from kiosk.errors import InvalidInput
from kiosk.identity.personnummer import is_valid_personnummer, parse_personnummer

ON = date(2026, 11, 25)


def with_check(ten_without_check: str) -> str:
    """YYMMDDNNN plus its Luhn digit, computed by python-stdnum (an independent oracle)."""
    return ten_without_check + stdnum_luhn.calc_check_digit(ten_without_check)


def failed_check(text: str, on: date = ON) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_personnummer(text, on)
    assert caught.value.data["field"] == "personnummer"
    return str(caught.value.data["check"])


@pytest.mark.parametrize(
    "text",
    ["900315-2387", "9003152387", "19900315-2387", "199003152387", " 900315-2387 ",
     "\t199003152387\n"],
)
def test_every_accepted_form_gives_the_same_number(text: str) -> None:
    number = parse_personnummer(text, ON)
    assert number.normalised == "199003152387"
    assert number.birth_date == date(1990, 3, 15)
    assert not number.is_coordination
    assert number.format10(ON) == "900315-2387"
    assert number.format12() == "19900315-2387"


def test_sex_comes_from_the_third_birth_number_digit() -> None:
    assert parse_personnummer("900315-2387", ON).sex == "F"  # 8 even
    assert parse_personnummer(with_check("900315239"), ON).sex == "M"  # 9 odd
    assert parse_personnummer(with_check("811228984"), ON).sex == "F"
    assert parse_personnummer(with_check("811228981"), ON).sex == "M"


def test_masked_hides_the_last_four_digits() -> None:
    number = parse_personnummer("199003152387", ON)
    assert number.masked() == "19900315-****"
    assert "2387" not in number.masked()


# --- century inference ------------------------------------------------------------------


def test_minus_means_born_within_the_last_hundred_years() -> None:
    assert parse_personnummer(with_check("261125123"), ON).birth_date == date(2026, 11, 25)
    assert parse_personnummer(with_check("270101123"), ON).birth_date == date(1927, 1, 1)
    assert parse_personnummer(with_check("000101123"), ON).birth_date == date(2000, 1, 1)


def test_plus_means_a_hundred_years_earlier() -> None:
    text = with_check("270101123")
    number = parse_personnummer(f"{text[:6]}+{text[6:]}", ON)
    assert number.birth_date == date(1827, 1, 1)
    text = with_check("261125123")
    assert parse_personnummer(f"{text[:6]}+{text[6:]}", ON).birth_date == date(1926, 11, 25)


def test_a_birth_date_later_this_year_with_minus_is_in_the_future() -> None:
    text = with_check("261126123")
    with pytest.raises(InvalidInput) as caught:
        parse_personnummer(f"{text[:6]}-{text[6:]}", ON)
    assert caught.value.data["check"] == "date"
    assert caught.value.data["future"] is True
    assert parse_personnummer(f"{text[:6]}+{text[6:]}", ON).birth_date == date(1926, 11, 26)


def test_twelve_digits_in_the_future_are_refused() -> None:
    assert failed_check("20261126" + with_check("261126123")[6:]) == "date"


def test_the_separator_turns_plus_in_the_calendar_year_of_the_hundredth_birthday() -> None:
    number = parse_personnummer("19261231" + with_check("261231123")[6:], ON)
    assert number.format10(date(2025, 12, 31)).startswith("261231-")
    assert number.format10(date(2026, 1, 1)).startswith("261231+")
    assert number.age_on(date(2026, 1, 1)) == 99


def test_plus_with_twelve_digits_needs_a_holder_of_a_hundred() -> None:
    tail = with_check("900315238")[6:]
    assert failed_check(f"19900315+{tail}") == "separator"
    old = with_check("200315238")
    assert parse_personnummer(f"1920{old[2:6]}+{old[6:]}", ON).birth_date == date(1920, 3, 15)


def test_the_default_reference_date_is_today() -> None:
    yesterday = date.today() - timedelta(days=1)
    text = with_check(f"{yesterday:%y%m%d}123")
    assert parse_personnummer(text).birth_date == yesterday


# --- leap days ----------------------------------------------------------------------------


def test_leap_day_in_a_leap_year() -> None:
    assert parse_personnummer(with_check("000229123"), ON).birth_date == date(2000, 2, 29)
    assert parse_personnummer(with_check("240229123"), ON).birth_date == date(2024, 2, 29)


def test_leap_day_in_a_century_year_that_is_not_a_leap_year() -> None:
    text = with_check("000229123")
    assert failed_check(f"{text[:6]}+{text[6:]}") == "date"  # 1900 was not a leap year
    assert failed_check("19000229" + text[6:]) == "date"


def test_leap_day_in_an_ordinary_year() -> None:
    assert failed_check(with_check("230229123")) == "date"


def test_age_of_a_leap_day_child_turns_on_the_first_of_march() -> None:
    number = parse_personnummer(with_check("040229123"), ON)
    assert number.age_on(date(2025, 2, 28)) == 20
    assert number.age_on(date(2025, 3, 1)) == 21
    assert number.age_on(date(2028, 2, 29)) == 24


def test_age_changes_on_the_birthday() -> None:
    number = parse_personnummer("199003152387", ON)
    assert number.age_on(date(2008, 3, 14)) == 17
    assert number.age_on(date(2008, 3, 15)) == 18


# --- samordningsnummer --------------------------------------------------------------------


def test_coordination_number_adds_sixty_to_the_day() -> None:
    number = parse_personnummer("199108613457", ON)
    assert number.is_coordination
    assert number.birth_date == date(1991, 8, 1)
    assert number.normalised == "199108613457"
    assert number.format10(ON) == "910861-3457"


@pytest.mark.parametrize(("day", "born"), [("61", 1), ("91", 31)])
def test_coordination_days_at_the_edges(day: str, born: int) -> None:
    number = parse_personnummer(with_check(f"9501{day}123"), ON)
    assert number.is_coordination
    assert number.birth_date == date(1995, 1, born)


def test_coordination_leap_day() -> None:
    assert parse_personnummer(with_check("000289123"), ON).birth_date == date(2000, 2, 29)
    assert failed_check(with_check("010289123")) == "date"


@pytest.mark.parametrize("day", ["00", "32", "45", "92", "99"])
def test_days_that_are_neither_dates_nor_coordination_days(day: str) -> None:
    assert failed_check(with_check(f"9501{day}123")) == "date"


# --- samordningsnummer with a birth date not fully known (Skatteverket) -----------------


def test_coordination_number_with_unknown_month() -> None:
    number = parse_personnummer(with_check("850075123"), ON)  # month 00, day 15 (+60)
    assert number.is_coordination and not number.month_known and number.day_known
    assert number.birth_date == date(1985, 12, 15)  # the latest possible: never too old
    assert number.may_be_born_on(date(1985, 4, 15))
    assert not number.may_be_born_on(date(1985, 4, 16))


def test_coordination_number_with_unknown_day() -> None:
    number = parse_personnummer(with_check("850260123"), ON)  # February, day unknown (60)
    assert number.is_coordination and number.month_known and not number.day_known
    assert number.birth_date == date(1985, 2, 28)
    assert number.may_be_born_on(date(1985, 2, 1)) and not number.may_be_born_on(date(1985, 3, 1))


def test_coordination_number_with_unknown_month_and_day() -> None:
    number = parse_personnummer("19850060-" + with_check("850060123")[6:], ON)
    assert (number.month_known, number.day_known) == (False, False)
    assert number.birth_date == date(1985, 12, 31)
    assert number.age_on(date(2003, 12, 30)) == 17  # 18 only once every possible date passed


def test_unknown_date_parts_this_year_are_not_in_the_future() -> None:
    this_year = parse_personnummer(with_check(f"{ON:%y}0060123"), ON)
    assert this_year.birth_date == ON
    assert failed_check(with_check(f"{ON:%y}{ON.month + 1:02d}60123")) == "date"


@pytest.mark.parametrize("text", ["850015", "850060", "850000"])
def test_unknown_date_parts_exist_only_in_coordination_numbers(text: str) -> None:
    if text == "850060":
        assert parse_personnummer(with_check(text + "123"), ON).is_coordination
    else:
        assert failed_check(with_check(text + "123")) == "date"


@pytest.mark.parametrize("serial", ["000"])
def test_birth_number_000_is_never_issued(serial: str) -> None:
    assert failed_check(with_check(f"900315{serial}")) == "serial"
    assert failed_check(with_check(f"900375{serial}")) == "serial"
    assert parse_personnummer(with_check("900315001"), ON).birth_number == "001"


@pytest.mark.parametrize("text", ["900315 2387", "19900315 2387", "900315 - 2387",
                                  "9003 15-2387", "900315\t2387", "900315\u00a02387"])
def test_a_blank_inside_the_number_is_refused(text: str) -> None:
    assert failed_check(text) == "characters"


# --- bad input, each check named --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "check"),
    [
        ("", "length"),
        ("   ", "length"),
        ("900315-238", "length"),
        ("90031523871", "length"),
        ("1990031523870", "length"),
        ("9OO315-2387", "characters"),  # letter O read for zero
        ("900315-2I87", "characters"),  # letter I read for one
        ("900315/2387", "characters"),
        ("900315_2387", "characters"),
        ("900315--2387", "separator"),
        ("900315-+2387", "separator"),
        ("9003-152387", "separator"),
        ("90031523-87", "separator"),
        ("901315-2387", "date"),  # month 13
        ("900015-2387", "date"),  # month 00
        ("900230-2387", "date"),  # 30 February
        ("900315-2388", "luhn"),
        ("900316-2387", "luhn"),
        ("199003152388", "luhn"),
    ],
)
def test_bad_input_names_the_failed_check(text: str, check: str) -> None:
    assert failed_check(text) == check


def test_a_swapped_pair_of_digits_fails_the_luhn_check() -> None:
    assert failed_check("900315-3287") == "luhn"


def test_errors_never_repeat_the_number() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_personnummer("900315-2388", ON)
    shown = str(caught.value) + repr(caught.value.data)
    assert "2388" not in shown
    assert "900315" not in shown


def test_is_valid_personnummer() -> None:
    assert is_valid_personnummer("900315-2387", ON)
    assert not is_valid_personnummer("900315-2388", ON)


# --- properties ---------------------------------------------------------------------------

births = st.dates(min_value=date(1880, 1, 1), max_value=ON)
birth_numbers = st.integers(min_value=1, max_value=999).map(lambda n: f"{n:03d}")


def twelve_digits(born: date, birth_number: str, coordination: bool) -> str:
    day = born.day + (60 if coordination else 0)
    ten = with_check(f"{born:%y%m}{day:02d}{birth_number}")
    return f"{born.year:04d}{ten[2:]}"


@given(births, birth_numbers, st.booleans())
def test_round_trip_through_every_form(born: date, birth_number: str, coordination: bool) -> None:
    normalised = twelve_digits(born, birth_number, coordination)
    number = parse_personnummer(normalised, ON)
    assert number.normalised == normalised
    assert number.birth_date == born
    assert number.is_coordination == coordination
    assert parse_personnummer(number.format12(), ON) == number
    if ON.year - born.year < 200:
        assert parse_personnummer(number.format10(ON), ON) == number


@given(st.dates(min_value=date(1927, 1, 1), max_value=ON), birth_numbers)
def test_agrees_with_python_stdnum_for_ordinary_numbers(born: date, birth_number: str) -> None:
    ten = with_check(f"{born:%y%m%d}{birth_number}")
    text = f"{ten[:6]}-{ten[6:]}"
    ours = parse_personnummer(text, date.today())
    assert stdnum_pnr.is_valid(text)
    assert stdnum_pnr.get_birth_date(text) == ours.birth_date
    assert stdnum_pnr.get_gender(text) == ours.sex


@given(st.text(max_size=16))
def test_arbitrary_text_either_parses_or_names_a_known_check(text: str) -> None:
    try:
        parse_personnummer(text, ON)
    except InvalidInput as error:
        checks = {"length", "characters", "separator", "date", "luhn", "serial"}
        assert error.data["check"] in checks


def test_str_and_repr_are_masked_so_logs_stay_minimised() -> None:
    number = parse_personnummer("199003152387", ON)
    assert str(number) == "19900315-****"
    assert "2387" not in repr(number)
    assert "2387" not in f"{number} {number!r} {[number]}"


@pytest.mark.parametrize("dash", ["\u2010", "\u2011", "\u2013", "\u2014", "\u2212"])
def test_pasted_dash_look_alikes_count_as_a_hyphen(dash: str) -> None:
    assert parse_personnummer(f"900315{dash}2387", ON).normalised == "199003152387"
