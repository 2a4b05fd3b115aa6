"""The demo cast agrees with the packaged settings and with itself."""

from __future__ import annotations

from datetime import date

from kiosk import demo_cast
from kiosk.identity.personnummer import parse_personnummer
from kiosk.settings import Settings

TODAY = date(2026, 11, 25)


def test_demo_admins_work_at_the_packaged_default_office() -> None:
    assert Settings().kiosk.card_office == demo_cast.DEMO_OFFICE


def test_every_demo_personnummer_is_valid_and_every_card_number_unique() -> None:
    people = [*demo_cast.demo_admins(TODAY), *demo_cast.demo_holders(TODAY)]
    for person in people:
        assert parse_personnummer(person.personnummer, TODAY).normalised == person.personnummer
    numbers = [p.card_number for p in people]
    assert len(set(numbers)) == len(numbers)
