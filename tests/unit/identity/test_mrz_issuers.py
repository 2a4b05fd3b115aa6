"""Rules that real issuers' MRZs need (issue 11): long document numbers, two-character
document codes, letters-only state codes, and issuer document-number formats."""

from __future__ import annotations

from datetime import date

import pytest

from kiosk.errors import InvalidInput
from kiosk.identity.mrz import build_mrz, parse_mrz, position_kinds, repair_mrz
from tests.unit.identity.mrz_strategies import ON
from tests.unit.identity.test_mrz import with_char


def belgian_eid() -> tuple[str, ...]:
    """A Belgian eID (TD1): 12-digit card number, nine in the field, '<' as its check digit."""
    return build_mrz("TD1", document_number="592123456789", document_code="ID",
                     issuing_state="BEL", nationality="BEL", birth_date=date(1985, 5, 22),
                     expiry_date=date(2030, 4, 20), surname="Specimen",
                     given_names="Specimen", sex="F", optional_data=("", "85052200112"))


def test_belgian_eid_long_number_is_accepted_with_its_check_digit() -> None:
    lines = belgian_eid()
    assert lines[0].startswith("IDBEL592123456<789")
    result = parse_mrz(lines, ON)
    assert result.valid and result.document_number == "592123456789"
    wrong = with_char(lines, 0, 17, "0")  # the continuation's check digit
    assert "document_number" in parse_mrz(wrong, ON).failed_checks


def test_long_number_survives_repair_of_an_ocr_confusion() -> None:
    lines = belgian_eid()
    misread = with_char(lines, 1, 2, "O")  # birth date 85O522
    repair = repair_mrz(misread, ON)
    assert repair is not None and repair.lines == lines
    assert repair.result.document_number == "592123456789"


@pytest.mark.parametrize("code", ["C1", "ID", "IR", "AC", "I<", "A2"])
def test_two_character_document_codes_are_kept_as_printed(code: str) -> None:
    lines = build_mrz("TD1", document_number="D23145890", document_code=code,
                      issuing_state="UTO", nationality="UTO", birth_date=date(1974, 8, 12),
                      expiry_date=date(2032, 4, 15), surname="Eriksson")
    repair = repair_mrz(lines, ON)
    assert repair is not None and repair.changes == ()
    assert repair.result.document_code == code.rstrip("<")


def test_the_second_code_character_is_not_forced_to_a_letter() -> None:
    assert position_kinds("TD1")[0][1] == "alnum"
    assert position_kinds("TD3")[0][1] == "alnum"
    assert position_kinds("TD1")[0][0] == "alpha"


@pytest.mark.parametrize(("row", "col"), [(0, 2), (0, 4), (1, 15), (1, 17)])
def test_digits_in_state_codes_are_refused(row: int, col: int) -> None:
    lines = build_mrz("TD1", document_number="D23145890", issuing_state="UTO",
                      nationality="UTO", birth_date=date(1974, 8, 12),
                      expiry_date=date(2032, 4, 15), surname="Eriksson")
    typed = with_char(lines, row, col, "3")  # no check digit covers the state codes
    with pytest.raises(InvalidInput) as caught:
        parse_mrz(typed, ON)
    assert caught.value.data["check"] == "state_code"
    assert repair_mrz(typed, ON) is None  # 3 has no letter look-alike: no reading at all


def test_nationality_in_digits_like_the_romanian_td2_is_refused() -> None:
    lines = ("IDROUSAVA<<SUPERMAN<<<<<<<<<<<<<<<<<",
             "HD198025<51328505095M130509012049941")
    with pytest.raises(InvalidInput):
        parse_mrz(lines, ON)
    assert repair_mrz(lines, ON) is None  # was "repaired" to nationality I3Z


def swedish_passport(number: str = "81234567") -> tuple[str, ...]:
    return build_mrz("TD3", document_number=number, birth_date=date(1990, 3, 15),
                     expiry_date=date(2031, 5, 2), surname="Andersson", given_names="Anna",
                     sex="F", optional_data=("9003152387",))


def test_swedish_document_numbers_are_digits() -> None:
    assert parse_mrz(swedish_passport(), ON).valid
    for number in ("AA1234567", "8123456B"):
        with pytest.raises(InvalidInput) as caught:
            parse_mrz(swedish_passport(number), ON)
        assert caught.value.data["check"] == "document_number_format"
    id_card = build_mrz("TD1", document_number="XB223344", birth_date=date(2001, 2, 3),
                        expiry_date=date(2029, 12, 24), surname="Oberg",
                        optional_data=("0102031234", ""))
    with pytest.raises(InvalidInput):
        parse_mrz(id_card, ON)


def test_letter_digit_swaps_that_cancel_in_the_check_sum_are_undone_for_sweden() -> None:
    lines = swedish_passport("81200567")
    misread = with_char(with_char(lines, 1, 3, "O"), 1, 4, "O")  # "00" read as "OO"
    # O weighs 24 (4 mod 10) against 0: at weights 7 and 3 that is 28 + 12 = 40, so every
    # check digit still passes on the misreading
    assert misread[1][:9] == "812OO567<"
    foreign = with_char(with_char(build_mrz(
        "TD3", document_number="81200567", issuing_state="UTO", birth_date=date(1990, 3, 15),
        expiry_date=date(2031, 5, 2), surname="A"), 1, 3, "O"), 1, 4, "O")
    assert parse_mrz(foreign, ON).valid  # the check digits alone cannot tell
    with pytest.raises(InvalidInput):
        parse_mrz(misread, ON)  # the Swedish number format can
    repair = repair_mrz(misread, ON)
    assert repair is not None and repair.lines == lines
    assert repair.result.document_number == "81200567"


def test_six_read_as_g_in_a_swedish_document_number_is_undone() -> None:
    lines = swedish_passport("81234567")
    misread = with_char(lines, 1, 6, "G")  # G and 6 weigh the same
    repair = repair_mrz(misread, ON)
    assert repair is not None and repair.result.document_number == "81234567"
