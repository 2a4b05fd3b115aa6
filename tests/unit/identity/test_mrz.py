"""ICAO 9303 MRZ parsing: the ICAO specimens, each bad-input class, check digits, centuries."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.errors import InvalidInput
from kiosk.identity.mrz import MrzCheck, build_mrz, check_digit, mrz_name_text, parse_mrz
from tests.unit.identity.mrz_strategies import ON, build, mrz_fields

# The specimens printed in ICAO Doc 9303 (parts 4, 5 and 6).
ICAO_TD3 = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)
ICAO_TD1 = (
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
)
ICAO_TD2 = (
    "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
    "D231458907UTO7408122F1204159<<<<<<<6",
)


def failed_check(lines: Any, on: date = ON) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_mrz(lines, on)
    assert caught.value.data["field"] == "mrz"
    return caught.value


def with_char(lines: tuple[str, ...], row: int, col: int, char: str) -> tuple[str, ...]:
    changed = list(lines)
    changed[row] = changed[row][:col] + char + changed[row][col + 1 :]
    return tuple(changed)


# --- the ICAO specimens -----------------------------------------------------------------


def test_icao_td3_specimen() -> None:
    result = parse_mrz(ICAO_TD3, ON)
    assert result.format == "TD3"
    assert result.valid
    assert result.document_code == "P"
    assert result.issuing_state == "UTO"
    assert result.document_number == "L898902C3"
    assert result.nationality == "UTO"
    assert result.birth_date == date(1974, 8, 12)
    assert result.sex == "F"
    assert result.expiry_date == date(2012, 4, 15)
    assert result.surname == "ERIKSSON"
    assert result.given_names == "ANNA MARIA"
    assert result.optional_data == ("ZE184226B",)
    assert result.personnummer is None
    assert [(c.name, c.expected, c.found) for c in result.checks] == [
        ("document_number", 6, "6"),
        ("birth_date", 2, "2"),
        ("expiry_date", 9, "9"),
        ("optional_data", 1, "1"),
        ("composite", 0, "0"),
    ]
    assert result.is_expired(ON)


def test_icao_td1_specimen() -> None:
    result = parse_mrz(ICAO_TD1, ON)
    assert (result.format, result.valid, result.document_code) == ("TD1", True, "I")
    assert result.document_number == "D23145890"
    assert (result.birth_date, result.expiry_date) == (date(1974, 8, 12), date(2012, 4, 15))
    assert (result.surname, result.given_names, result.sex) == ("ERIKSSON", "ANNA MARIA", "F")
    assert result.optional_data == ("", "")
    assert [c.name for c in result.checks] == [
        "document_number", "birth_date", "expiry_date", "composite",
    ]


def test_icao_td2_specimen() -> None:
    result = parse_mrz(ICAO_TD2, ON)
    assert (result.format, result.valid) == ("TD2", True)
    assert result.document_number == "D23145890"
    assert (result.surname, result.given_names) == ("ERIKSSON", "ANNA MARIA")
    assert result.optional_data == ("",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("L898902C3", 6), ("740812", 2), ("120415", 9), ("ZE184226B<<<<<", 1), ("D23145890", 7),
     ("<<<<<<", 0), ("", 0)],
)
def test_check_digit_of_specimen_fields(text: str, expected: int) -> None:
    assert check_digit(text) == expected


@pytest.mark.parametrize("specimen", [ICAO_TD3, ICAO_TD1, ICAO_TD2], ids=["TD3", "TD1", "TD2"])
def test_build_mrz_reproduces_the_specimens(specimen: tuple[str, ...]) -> None:
    r = parse_mrz(specimen, ON)
    rebuilt = build_mrz(
        r.format, document_number=r.document_number, birth_date=r.birth_date,
        expiry_date=r.expiry_date, surname=r.surname, given_names=r.given_names, sex=r.sex,
        issuing_state=r.issuing_state, nationality=r.nationality,
        document_code=r.document_code, optional_data=r.optional_data,
    )
    assert rebuilt == specimen


# --- tolerant input -----------------------------------------------------------------------


def test_lower_case_and_surrounding_whitespace() -> None:
    messy = ["  " + ICAO_TD3[0].lower() + " \t", "", ICAO_TD3[1].lower() + "\r"]
    assert parse_mrz(messy, ON).lines == ICAO_TD3


def test_one_string_with_newlines() -> None:
    assert parse_mrz("\n".join(ICAO_TD1) + "\n", ON).lines == ICAO_TD1


def test_one_string_without_newlines_is_split_by_length() -> None:
    assert parse_mrz("".join(ICAO_TD2), ON).lines == ICAO_TD2


def test_spaces_inside_a_line_are_dropped() -> None:
    spaced = (ICAO_TD3[0], ICAO_TD3[1][:20] + " " + ICAO_TD3[1][20:])
    assert parse_mrz(spaced, ON).valid


# --- bad input: InvalidInput naming the check ------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "check"),
    [
        ((), "lines"),
        ((ICAO_TD3[0],), "lines"),
        ((*ICAO_TD1, ICAO_TD1[2]), "lines"),
        ((ICAO_TD3[0], ICAO_TD3[1][:-1]), "line_length"),
        ((ICAO_TD3[0] + "<", ICAO_TD3[1] + "<"), "line_length"),
        ((ICAO_TD3[0], ICAO_TD2[1]), "line_length"),
        ((ICAO_TD1[0], ICAO_TD1[1], ICAO_TD3[0]), "line_length"),
    ],
)
def test_wrong_line_count_or_length(lines: tuple[str, ...], check: str) -> None:
    assert failed_check(lines).data["check"] == check


@pytest.mark.parametrize("char", ["@", "Å", "-", "«", "*"])
def test_characters_outside_the_mrz_alphabet(char: str) -> None:
    assert failed_check(with_char(ICAO_TD3, 0, 10, char)).data["check"] == "characters"


@pytest.mark.parametrize(
    ("row", "col", "char", "field"),
    [(1, 15, "O", "birth_date"), (1, 16, "I", "birth_date"), (1, 24, "B", "expiry_date")],
)
def test_letters_in_a_date(row: int, col: int, char: str, field: str) -> None:
    error = failed_check(with_char(ICAO_TD3, row, col, char))
    assert (error.data["check"], error.data["mrz_field"]) == ("characters", field)


@pytest.mark.parametrize(
    ("birth", "field"),
    [("741312", "birth_date"), ("740230", "birth_date"), ("740800", "birth_date"),
     ("010229", "birth_date")],
)
def test_impossible_birth_dates(birth: str, field: str) -> None:
    line = ICAO_TD3[1][:13] + birth + ICAO_TD3[1][19:]
    error = failed_check((ICAO_TD3[0], line))
    assert (error.data["check"], error.data["mrz_field"]) == ("date", field)


def test_impossible_expiry_date() -> None:
    line = ICAO_TD3[1][:21] + "120431" + ICAO_TD3[1][27:]
    error = failed_check((ICAO_TD3[0], line))
    assert (error.data["check"], error.data["mrz_field"]) == ("date", "expiry_date")


@pytest.mark.parametrize(
    "lines",
    [
        with_char(ICAO_TD3, 0, 0, "I"),
        with_char(ICAO_TD1, 0, 0, "P"),
        with_char(ICAO_TD2, 0, 0, "V"),
    ],
)
def test_document_code_that_does_not_fit_the_format(lines: tuple[str, ...]) -> None:
    assert failed_check(lines).data["check"] == "document_code"


def test_sex_must_be_m_f_x_or_filler() -> None:
    error = failed_check(with_char(ICAO_TD3, 1, 20, "Q"))
    assert (error.data["check"], error.data["mrz_field"]) == ("characters", "sex")
    assert parse_mrz(with_char(ICAO_TD3, 1, 20, "<"), ON).sex == "X"


# --- check digits fail in the result, not as exceptions -------------------------------------


@pytest.mark.parametrize(
    ("lines", "row", "col", "failing"),
    [
        (ICAO_TD3, 1, 9, {"document_number", "composite"}),
        (ICAO_TD3, 1, 19, {"birth_date", "composite"}),
        (ICAO_TD3, 1, 27, {"expiry_date", "composite"}),
        (ICAO_TD3, 1, 42, {"optional_data", "composite"}),
        (ICAO_TD3, 1, 43, {"composite"}),
        (ICAO_TD1, 0, 14, {"document_number", "composite"}),
        (ICAO_TD1, 1, 6, {"birth_date", "composite"}),
        (ICAO_TD1, 1, 14, {"expiry_date", "composite"}),
        (ICAO_TD1, 1, 29, {"composite"}),
        (ICAO_TD2, 1, 9, {"document_number", "composite"}),
        (ICAO_TD2, 1, 35, {"composite"}),
    ],
)
def test_a_wrong_check_digit_is_a_failed_check(
    lines: tuple[str, ...], row: int, col: int, failing: set[str]
) -> None:
    wrong = str((int(lines[row][col]) + 3) % 10)
    result = parse_mrz(with_char(lines, row, col, wrong), ON)
    assert not result.valid
    assert set(result.failed_checks) == failing
    bad = next(c for c in result.checks if c.name == sorted(failing)[0])
    assert not bad.ok
    assert bad.found != str(bad.expected)


def test_a_changed_data_character_fails_its_check() -> None:
    result = parse_mrz(with_char(ICAO_TD3, 1, 3, "7"), ON)  # L897902C3
    assert set(result.failed_checks) == {"document_number", "composite"}


def test_a_letter_read_for_a_check_digit_is_a_failed_check() -> None:
    result = parse_mrz(with_char(ICAO_TD3, 1, 9, "G"), ON)
    assert result.failed_checks == ("document_number",)
    assert result.checks[0].found == "G"


def test_empty_optional_data_may_carry_a_filler_check_digit() -> None:
    lines = build_mrz(
        "TD3", document_number="71234567", birth_date=date(1980, 1, 2),
        expiry_date=date(2030, 1, 2), surname="TEST",
    )
    filler = with_char(lines, 1, 42, "<")
    assert lines[1][42] == "0"
    assert parse_mrz(filler, ON).valid  # the composite covers '<' and '0' alike


# --- centuries ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "expected"),
    [("261125", date(2026, 11, 25)), ("261126", date(1926, 11, 26)),
     ("000229", date(2000, 2, 29)), ("991231", date(1999, 12, 31)),
     ("270101", date(1927, 1, 1))],
)
def test_birth_dates_are_never_in_the_future(birth: str, expected: date) -> None:
    lines = build_mrz("TD3", document_number="71", birth_date=expected,
                      expiry_date=date(2030, 1, 1), surname="T")
    assert lines[1][13:19] == birth
    assert parse_mrz(lines, ON).birth_date == expected


@pytest.mark.parametrize(("yy", "year"), [("00", 2000), ("12", 2012), ("99", 2099)])
def test_expiry_dates_are_in_the_2000s(yy: str, year: int) -> None:
    lines = build_mrz("TD2", document_number="71", birth_date=date(1970, 1, 1),
                      expiry_date=date(year, 6, 30), surname="T")
    assert lines[1][21:23] == yy
    assert parse_mrz(lines, ON).expiry_date == date(year, 6, 30)


def test_leap_day_expiry() -> None:
    lines = build_mrz("TD1", document_number="71", birth_date=date(1970, 1, 1),
                      expiry_date=date(2028, 2, 29), surname="T")
    assert parse_mrz(lines, ON).expiry_date == date(2028, 2, 29)


# --- Swedish documents carry the personnummer -------------------------------------------------


def test_swedish_passport_personnummer_takes_the_century_of_the_birth_date() -> None:
    lines = build_mrz(
        "TD3", document_number="81234567", birth_date=date(1990, 3, 15),
        expiry_date=date(2029, 1, 1), surname="Åström", given_names="Anna Maria", sex="F",
        optional_data=["9003152387"],
    )
    result = parse_mrz(lines, ON)
    assert result.valid
    assert result.surname == "AASTROEM"
    assert result.personnummer is not None
    assert result.personnummer.normalised == "199003152387"


def test_swedish_id_card_with_a_coordination_number() -> None:
    lines = build_mrz(
        "TD1", document_number="87654321", birth_date=date(1991, 8, 1),
        expiry_date=date(2031, 1, 1), surname="Fors", given_names="Farid",
        optional_data=("9108613457",),
    )
    result = parse_mrz(lines, ON)
    assert result.personnummer is not None
    assert result.personnummer.is_coordination
    assert result.personnummer.birth_date == date(1991, 8, 1)


def test_twelve_digit_personnummer_in_optional_data() -> None:
    lines = build_mrz(
        "TD1", document_number="87654321", birth_date=date(1946, 1, 1),
        expiry_date=date(2031, 1, 1), surname="Ek", optional_data=("", "194601012349"[:11]),
    )
    assert parse_mrz(lines, ON).personnummer is None  # 11 digits: not a personnummer
    lines = build_mrz(
        "TD1", document_number="87654321", birth_date=date(1946, 1, 1),
        expiry_date=date(2031, 1, 1), surname="Ek", optional_data=("194601012349",),
    )
    personnummer = parse_mrz(lines, ON).personnummer
    assert personnummer is not None
    assert personnummer.normalised == "194601012349"


def test_an_invalid_personnummer_is_left_out() -> None:
    lines = build_mrz("TD3", document_number="81234567", birth_date=date(1990, 3, 15),
                      expiry_date=date(2029, 1, 1), surname="A", optional_data=["9003152388"])
    result = parse_mrz(lines, ON)
    assert result.valid  # the MRZ itself is fine
    assert result.personnummer is None
    assert result.optional_data == ("9003152388",)


def test_other_states_personal_numbers_are_not_parsed() -> None:
    lines = build_mrz("TD3", document_number="81234567", birth_date=date(1990, 3, 15),
                      expiry_date=date(2029, 1, 1), surname="A", issuing_state="NOR",
                      optional_data=["9003152387"])
    assert parse_mrz(lines, ON).personnummer is None


# --- building -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "mrz"),
    [("Åsa-Britt", "AASA<BRITT"), ("Öberg", "OEBERG"), ("Jäger", "JAEGER"),
     ("José María", "JOSE<MARIA"), ("O'Brien", "OBRIEN"), ("Müller", "MUELLER")],
)
def test_names_are_transliterated(name: str, mrz: str) -> None:
    assert mrz_name_text(name) == mrz


def test_long_names_are_cut_to_the_field() -> None:
    lines = build_mrz("TD1", document_number="71", birth_date=date(1970, 1, 1),
                      expiry_date=date(2030, 1, 1), surname="Wolfeschlegelsteinhausen",
                      given_names="Hubert Blaine")
    assert len(lines[2]) == 30
    assert parse_mrz(lines, ON).surname == "WOLFESCHLEGELSTEINHAUSEN"


@pytest.mark.parametrize(
    "kwargs",
    [{"document_number": "A1234567890"}, {"optional_data": ("1" * 15,)},
     {"optional_data": ("A", "B")}, {"document_number": "AB-12"}],
)
def test_fields_that_do_not_fit_are_refused(kwargs: dict[str, Any]) -> None:
    base: dict[str, Any] = {"document_number": "X1", "birth_date": date(1970, 1, 1),
                            "expiry_date": date(2030, 1, 1), "surname": "T"}
    with pytest.raises(ValueError, match=r"longer|optional|characters"):
        build_mrz("TD3", **(base | kwargs))


# --- properties -----------------------------------------------------------------------------


@given(mrz_fields())
def test_round_trip_of_generated_mrz(fields: dict[str, Any]) -> None:
    lines = build(fields)
    result = parse_mrz(lines, ON)
    assert result.valid, result.checks
    assert result.format == fields["mrz_format"]
    assert result.document_number == fields["document_number"]
    assert result.birth_date == fields["birth_date"]
    assert result.expiry_date == fields["expiry_date"]
    assert result.surname == fields["surname"]
    assert result.given_names == fields["given_names"]
    assert result.sex == fields["sex"]
    assert result.issuing_state == fields["issuing_state"]
    assert result.nationality == fields["nationality"]
    assert result.optional_data == fields["optional_data"]
    assert parse_mrz("\n".join(lines).lower(), ON) == result


mrz_chars = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")


def value(char: str) -> int:
    return 0 if char == "<" else int(char, 36)


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<", min_size=1, max_size=40),
       st.data())
def test_check_digit_detects_a_substitution_unless_values_differ_by_ten(
    text: str, data: st.DataObject
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
    new = data.draw(mrz_chars)
    changed = text[:index] + new + text[index + 1 :]
    detected = check_digit(changed) != check_digit(text)
    assert detected == ((value(new) - value(text[index])) % 10 != 0)


@given(st.text(alphabet="0123456789", min_size=1, max_size=30))
def test_check_digit_by_its_definition(text: str) -> None:
    weights = [7, 3, 1] * 10
    assert check_digit(text) == sum(int(c) * w for c, w in zip(text, weights, strict=False)) % 10


@given(st.text(max_size=100))
def test_arbitrary_text_either_parses_or_names_a_known_check(text: str) -> None:
    try:
        parse_mrz(text, ON)
    except InvalidInput as error:
        assert error.data["check"] in {
            "lines", "line_length", "characters", "document_code", "date",
        }


# --- document numbers longer than nine characters (TD1, TD2) ---------------------------------


def test_long_document_number_continues_in_the_optional_data() -> None:
    # The layout of ICAO 9303 part 5 for a 12-character number: nine in the field, '<' for
    # the check digit, then "734" + check digit + '<' at the start of the optional data.
    lines = build_mrz("TD1", document_number="D23145890734", birth_date=date(1974, 8, 12),
                      expiry_date=date(2012, 4, 15), surname="Eriksson",
                      given_names="Anna Maria", sex="F", issuing_state="UTO",
                      nationality="UTO")
    assert lines[0] == "I<UTOD23145890<7349<<<<<<<<<<<"
    result = parse_mrz(lines, ON)
    assert result.valid
    assert result.document_number == "D23145890734"
    assert result.optional_data == ("", "")
    assert result.checks[0] == MrzCheck("document_number", 9, "9", True)


def test_long_document_number_with_a_wrong_check_digit() -> None:
    lines = ("I<UTOD23145890<7348<<<<<<<<<<<", *ICAO_TD1[1:])
    result = parse_mrz(lines, ON)
    assert result.document_number == "D23145890734"
    assert "document_number" in result.failed_checks


def test_long_document_number_in_td2_keeps_the_rest_of_the_optional_data() -> None:
    lines = build_mrz("TD2", document_number="AB123456789", birth_date=date(1980, 1, 2),
                      issuing_state="UTO", expiry_date=date(2030, 1, 1), surname="T",
                      optional_data=("XY",))
    assert lines[1][9] == "<"
    result = parse_mrz(lines, ON)
    assert (result.valid, result.document_number, result.optional_data) == (
        True, "AB123456789", ("XY",),
    )


def test_td3_document_numbers_have_at_most_nine_characters() -> None:
    with pytest.raises(ValueError, match="at most 9"):
        build_mrz("TD3", document_number="AB123456789", birth_date=date(1980, 1, 2),
                  expiry_date=date(2030, 1, 1), surname="T")
