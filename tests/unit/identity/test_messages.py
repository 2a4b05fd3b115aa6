"""Every check the identity parsers can name has a text in every language."""

from __future__ import annotations

import pytest

from kiosk.errors import InvalidInput
from kiosk.i18n import LANGUAGES, catalog, translate
from kiosk.identity.hsaid import parse_hsa_id
from kiosk.identity.messages import MRZ_CHECK_KEYS, invalid_input_key
from kiosk.identity.mrz import parse_mrz
from kiosk.identity.personnummer import parse_personnummer

CHECKS = {
    "personnummer": ("length", "characters", "separator", "date", "luhn"),
    "hsa_id": ("length", "characters", "country", "separator", "organisation_number", "luhn",
               "local_part"),
    "mrz": ("lines", "line_length", "characters", "document_code", "date"),
    "licence": ("tag", "fields", "date", "document_number", "name"),
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_named_check_is_translated(lang: str) -> None:
    for field, checks in CHECKS.items():
        for check in checks:
            assert f"identity.{field}.{check}" in catalog(lang)
    for key in MRZ_CHECK_KEYS.values():
        assert key in catalog(lang)


@pytest.mark.parametrize(
    ("parse", "text", "key"),
    [
        (parse_personnummer, "900315-2388", "identity.personnummer.luhn"),
        (parse_hsa_id, "NO2321000016-A", "identity.hsa_id.country"),
        (parse_mrz, "P<UTO", "identity.mrz.lines"),
    ],
)
def test_invalid_input_key_points_at_the_failed_check(parse: object, text: str, key: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(text)  # type: ignore[operator]
    assert invalid_input_key(caught.value) == key
    assert translate(key, "sv") != key


def test_other_invalid_input_has_no_identity_key() -> None:
    assert invalid_input_key(InvalidInput("x", field="card_number", check="length")) is None
    assert invalid_input_key(InvalidInput("x")) is None
