"""The card check's renewal offer, by touch (issue 14): Hugo's certificates end within 3
months; the check offers "renew certificates", and the renewal takes the card that is still
in the reader (before: it waited at the insert-card screen until the card was taken out and
put back, a dead end on a touch kiosk)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from kiosk.demo_cast import DEMO_ACTIVE_PIN, DEMO_SIGNATURE_PIN, demo_holder
from kiosk.visit.contract import ViewName
from screens.scripts import Walk, choose, hand_over, sign_in
from tests.ui.conftest import Harness

pytestmark = pytest.mark.ui

OFFER = "visit:renew_certificates"


def test_the_renewal_offered_by_the_card_check_takes_the_card_still_in(kiosk: Harness) -> None:
    hugo = demo_holder("hugo", date.today())
    seen: list[ViewName] = []

    def script(driver: Any) -> Any:
        walk = Walk(driver, kiosk.app.effect_gate, None)
        d = walk.driver
        yield from sign_in(walk, shots=False)
        yield from choose(walk, "card_check")
        yield d.insert_card(hugo.card_number)
        yield walk.wait(ViewName.CARD_INFO, lambda v: v.actions[-1:] == ("done",))
        yield walk.act("done")
        yield walk.wait(ViewName.CARD_INFO, lambda v: OFFER in v.actions)
        yield walk.act(OFFER)  # the card stays in the reader
        yield walk.wait(ViewName.CARD_RECORD)
        seen.append(ViewName.CARD_RECORD)
        yield walk.act("continue")
        yield walk.wait(ViewName.PIN_CURRENT)
        yield from hand_over(walk, "holder")
        yield from d.type_pin(DEMO_ACTIVE_PIN)
        yield walk.wait(ViewName.PIN_CURRENT, lambda v: v.message == "visit.pin.pin_signature")
        yield from d.type_pin(DEMO_SIGNATURE_PIN)
        yield walk.wait(ViewName.DONE)

    kiosk.run(script, timeout_s=120)
    assert seen == [ViewName.CARD_RECORD]
    shown = kiosk.app.session.shown
    assert shown is not None and shown.view.message == "visit.done.renew_certificates"
    assert shown.view.title == "visit.title.renew_certificates"
    assert kiosk.app.demo_card == hugo.card_number  # never taken out
