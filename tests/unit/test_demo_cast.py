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


def test_the_cast_has_an_active_card_for_each_certificate_visit() -> None:
    """No signature certificate (signature-certificate visit), certificates ending within
    3 months (renewal), an additional certificate present (additional-certificate visit):
    each an Aktiv holder card of its own."""
    from datetime import UTC, datetime, time

    from kiosk.model import CardStatus
    from kiosk.rules.card import certificate_expires_soon, valid_until
    from kiosk.settings import CardRulesSettings

    holders = demo_cast.demo_holders(TODAY)
    active = [h for h in holders if h.card_status is CardStatus.ACTIVE]
    unsigned = [h.key for h in holders if not h.signature_certificate]
    additional = [h for h in holders if h.additional_organisation]
    now = datetime.combine(TODAY, time(12), tzinfo=UTC)
    ending = [
        h.key
        for h in active
        if certificate_expires_soon(
            datetime.combine(valid_until(h.manufactured, CardRulesSettings()), time(), UTC), now
        )
    ]
    assert unsigned == ["ingrid"] and ending == ["hugo"]
    assert [h.key for h in additional] == ["jonas"]
    assert {h.key for h in active} >= {"ingrid", "hugo", "jonas"}
    assert additional[0].additional_organisation in demo_cast.OTHER_ORGANISATIONS
    assert demo_cast.HOME_ORGANISATION not in demo_cast.OTHER_ORGANISATIONS
    assert demo_cast.DEMO_SIGNATURE_PIN != demo_cast.DEMO_ACTIVE_PIN
