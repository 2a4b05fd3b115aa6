"""HSA-id parsing: shape, organisation number check digit, and which check failed."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from stdnum import luhn as stdnum_luhn

from kiosk.demo_cast import demo_admins, demo_holders
from kiosk.errors import InvalidInput
from kiosk.identity.hsaid import is_valid_hsa_id, parse_hsa_id


def test_the_usual_form() -> None:
    hsa_id = parse_hsa_id("SE2321000016-ABCD")
    assert hsa_id.organisation_number == "2321000016"
    assert hsa_id.suffix == ""
    assert hsa_id.local_part == "ABCD"
    assert str(hsa_id) == "SE2321000016-ABCD"


def test_input_is_trimmed_and_upper_cased() -> None:
    assert parse_hsa_id("  se2321000016-a1b2\n").text == "SE2321000016-A1B2"


def test_twelve_digit_organisation_number_with_the_legal_entity_prefix() -> None:
    hsa_id = parse_hsa_id("SE162321000255-O12345")
    assert hsa_id.entity_prefix == "16"
    assert hsa_id.organisation_number == "2321000255"
    assert hsa_id.suffix == ""
    assert hsa_id.text == "SE162321000255-O12345"


def test_digits_after_the_organisation_number_are_a_suffix() -> None:
    hsa_id = parse_hsa_id("SE232100001612-X1")
    assert hsa_id.organisation_number == "2321000016"
    assert hsa_id.suffix == "12"
    assert hsa_id.prefix == "SE232100001612"


def test_every_demo_hsa_id_is_valid() -> None:
    today = date(2026, 11, 25)
    ids = [a.hsa_id for a in demo_admins(today)] + [h.hsa_id for h in demo_holders(today)]
    assert ids
    for text in ids:
        assert parse_hsa_id(text).text == text


@pytest.mark.parametrize(
    ("text", "check"),
    [
        ("", "length"),
        ("SE2321000016-" + "A" * 19, "length"),
        ("SE2321000016-ÅSA", "characters"),
        ("SE2321000016_ABCD", "characters"),
        ("NO2321000016-ABCD", "country"),
        ("2321000016-ABCD", "country"),
        ("SE2321000016ABCD", "separator"),
        ("SE2321000016-AB-CD", "separator"),
        ("SE232100001-ABCD", "organisation_number"),
        ("SE23210O0016-ABCD", "organisation_number"),
        ("SE-ABCD", "organisation_number"),
        ("SE2321000017-ABCD", "luhn"),
        ("SE2321000016-", "local_part"),
    ],
)
def test_bad_input_names_the_failed_check(text: str, check: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_hsa_id(text)
    assert caught.value.data == {"field": "hsa_id", "check": check} | (
        {"length": caught.value.data["length"]} if check == "length" else {}
    )
    assert not is_valid_hsa_id(text)


@given(
    st.text(alphabet="0123456789", min_size=9, max_size=9),
    st.text(alphabet="0123456789", max_size=4),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=12),
)
def test_round_trip(payload: str, suffix: str, local: str) -> None:
    organisation = payload + stdnum_luhn.calc_check_digit(payload)
    text = f"SE{organisation}{suffix}-{local}"
    assume(not organisation.startswith("16"))  # that is the 12-digit form, tested above
    hsa_id = parse_hsa_id(text.lower())
    assert (hsa_id.organisation_number, hsa_id.suffix, hsa_id.local_part) == (
        organisation,
        suffix,
        local,
    )
    assert hsa_id.text == text


def test_a_pasted_en_dash_counts_as_a_hyphen() -> None:
    assert parse_hsa_id("SE2321000016\u2013ABCD").text == "SE2321000016-ABCD"
