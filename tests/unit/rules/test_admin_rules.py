"""An ID administrator works only with current training, at their own office."""

from __future__ import annotations

from datetime import date

import pytest

from kiosk.errors import AdminNotAuthorised
from kiosk.i18n import LANGUAGES, catalog
from kiosk.model import AdminAuthorisation
from kiosk.rules.admin import ADMIN_RULES, admin_refusal, admin_rule_key, ensure_admin_authorised

TODAY = date(2026, 11, 25)
HSA = "SE2321000016-ADM1"


def auth(
    valid_until: date = date(2027, 6, 1), office: str = "Kortkontoret Demo"
) -> AdminAuthorisation:
    return AdminAuthorisation(HSA, "Karin Kortsson", office, valid_until)


@pytest.mark.parametrize(
    ("authorisation", "office", "card_hsa", "expected"),
    [
        (auth(), "Kortkontoret Demo", HSA, None),
        (auth(), "  kortkontoret   demo ", HSA.lower(), None),
        (auth(valid_until=TODAY), "Kortkontoret Demo", HSA, None),  # valid through the day
        (auth(valid_until=date(2026, 11, 24)), "Kortkontoret Demo", HSA, "training_lapsed"),
        (auth(office="Kortkontoret Norr"), "Kortkontoret Demo", HSA, "wrong_office"),
        (auth(), "Kortkontoret Demo", None, "no_hsa_id"),
        (auth(), "Kortkontoret Demo", "SE2321000016-ADM2", "identity_mismatch"),
    ],
)
def test_admin_refusal_table(
    authorisation: AdminAuthorisation, office: str, card_hsa: str | None, expected: str | None
) -> None:
    refusal = admin_refusal(authorisation, TODAY, office, card_hsa)
    assert (refusal.rule if refusal else None) == expected


def test_ensure_raises_with_the_rule_and_date() -> None:
    with pytest.raises(AdminNotAuthorised) as caught:
        ensure_admin_authorised(auth(valid_until=date(2026, 1, 1)), TODAY, "Kortkontoret Demo", HSA)
    assert caught.value.rule == "training_lapsed"
    assert caught.value.data["valid_until"] == "2026-01-01"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_admin_rule_is_translated(lang: str) -> None:
    for rule in ADMIN_RULES:
        assert admin_rule_key(rule) in catalog(lang)
        assert admin_rule_key(rule) + ".next" in catalog(lang)
