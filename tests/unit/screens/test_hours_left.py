"""The time to a deadline reads as people count it (screens.texts)."""

from __future__ import annotations

from kiosk.visit.contract import View, ViewName
from screens.texts import facts, hours_left_text


def test_far_deadlines_in_days_near_ones_in_hours() -> None:
    assert hours_left_text(1742, "sv") == "72 dagar"
    assert hours_left_text(1742, "en") == "72 days"
    assert hours_left_text(47, "sv") == "47 timmar"
    assert hours_left_text(-3, "en") == "0 hours"


def test_the_card_record_shows_days_not_1742_hours() -> None:
    rows = dict(facts(View(ViewName.CARD_RECORD, "", params={"hours_left": 1742}), "sv"))
    assert rows == {"Tid kvar": "72 dagar"}
