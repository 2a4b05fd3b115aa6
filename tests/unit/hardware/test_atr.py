"""ATR patterns and classification by the settings table."""

from __future__ import annotations

import pytest

from hardware.atr import atr_from_pattern, atr_matches, classify_atr, parse_card_number
from kiosk.errors import ConfigError
from kiosk.model import CardClass
from kiosk.settings import DEFAULT_ATR_TABLE, AtrEntry


def test_wildcards_match_any_byte_and_lengths_must_agree() -> None:
    assert atr_matches(bytes.fromhex("3B0102"), "3B .. 02")
    assert atr_matches(bytes.fromhex("3BFF02"), "3b:..:02")
    assert not atr_matches(bytes.fromhex("3B0103"), "3B .. 02")
    assert not atr_matches(bytes.fromhex("3B010200"), "3B .. 02")


@pytest.mark.parametrize("pattern", ["3B 0", "3B ZZ"])
def test_bad_patterns_are_config_errors(pattern: str) -> None:
    with pytest.raises(ConfigError):
        atr_matches(b"\x3b", pattern)


@pytest.mark.parametrize(
    ("row", "card_class", "issuer"),
    [
        (0, CardClass.SITHS, "SITHS"),
        (1, CardClass.SITHS, "SITHS"),
        (2, CardClass.FOREIGN, "Telia"),
        (3, CardClass.FOREIGN, "Skatteverket"),
        (4, CardClass.FOREIGN, "other"),
    ],
)
def test_default_table_rows_classify_their_own_atrs(
    row: int, card_class: CardClass, issuer: str
) -> None:
    atr = atr_from_pattern(DEFAULT_ATR_TABLE[row].pattern, fill=0x5A)
    found = classify_atr(atr, DEFAULT_ATR_TABLE)
    assert (found.card_class, found.issuer) == (card_class, issuer)


def test_unknown_atr_and_first_match_wins() -> None:
    assert classify_atr(b"\x3b\x00", DEFAULT_ATR_TABLE).card_class is CardClass.UNKNOWN
    table = (AtrEntry("3B ..", "foreign", "", "A"), AtrEntry("3B 00", "siths", "g", "B"))
    assert classify_atr(b"\x3b\x00", table).issuer == "A"


def test_table_with_an_unknown_class_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        classify_atr(b"\x3b", (AtrEntry("3B", "bank"),))


@pytest.mark.parametrize(
    ("answer", "number"),
    [
        (b"9752210000000001", "9752210000000001"),
        (b"9752210000000001\x00\x00", "9752210000000001"),
        (b"12AB", None),
        (b"1234", None),
        (b"\xff\xfe", None),
    ],
)
def test_card_number_answers(answer: bytes, number: str | None) -> None:
    assert parse_card_number(answer) == number
