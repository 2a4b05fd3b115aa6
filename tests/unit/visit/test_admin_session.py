"""The administrator's session: sign-in, authorisation, home, visits, timeout."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from kiosk.demo_cast import demo_admins
from kiosk.errors import PinLocked
from kiosk.model import VisitKind
from kiosk.settings import KioskIdentitySettings
from kiosk.visit.admin_session import KioskSession
from kiosk.visit.contract import ViewName
from kiosk.visit.events import CardTakenOut, action_event
from tests.unit.visit.drive import INSERT, Driver, happy_script, pin_keys
from tests.unit.visit.rig import READER, SETTINGS, TODAY, rig

ADMIN = demo_admins(TODAY)[0]
LAPSED = demo_admins(TODAY)[1]


def session(settings=SETTINGS) -> Driver:  # type: ignore[no-untyped-def]
    r = rig()
    return Driver(KioskSession(settings, "s1"), r)


def sign_in(d: Driver, card: str = ADMIN.card_number, pin: str = ADMIN.pin) -> None:
    d.rig.put(card)
    d.send(INSERT[0], **INSERT[1])
    assert d.view.name is ViewName.ADMIN_SIGN_IN and d.view.params["stage"] == "pin"
    d.inputs(pin_keys(pin))


def test_sign_in_reaches_home_with_the_admin_and_training() -> None:
    d = session()
    assert d.view.name is ViewName.ADMIN_SIGN_IN and d.view.params["stage"] == "insert"
    sign_in(d)
    assert d.view.name is ViewName.HOME, d.view
    assert d.effects_run == ["identify_card", "admin_sign_in", "authorise_admin"]
    assert d.view.params["admin_name"] == ADMIN.name
    assert d.view.params["training_days_left"] == 200
    assert "visit:activation" in d.view.actions and "sign_out" in d.view.actions
    assert ADMIN.pin not in repr(d.steps)


def test_pin_pad_for_the_admin_shows_only_the_length() -> None:
    d = session()
    d.rig.put(ADMIN.card_number)
    d.send(INSERT[0], **INSERT[1])
    for digit in ADMIN.pin[:4]:
        d.send("pin_digit", digit=digit)
    assert d.view.pin_length == 4
    d.send("pin_back")
    assert d.view.pin_length == 3
    d.send("pin_submit")
    assert d.view.error is not None and d.view.error.message == "pin.rule.length"
    assert d.effects_run == ["identify_card"]  # no sign-in with a short PIN


def test_wrong_admin_pin_shows_tries_left_and_stays_on_the_pad() -> None:
    d = session()
    sign_in(d, pin="000000")
    assert d.view.name is ViewName.ADMIN_SIGN_IN and d.view.params["stage"] == "pin"
    assert d.view.error is not None and d.view.error.code == "wrong_pin"
    assert d.view.pin_length == 0
    d.inputs(pin_keys(ADMIN.pin))
    assert d.view.name is ViewName.HOME


def test_locked_admin_card_goes_back_to_insert() -> None:
    d = session()
    d.rig.deck.fail_next("admin_sign_in", PinLocked())
    sign_in(d)
    assert d.view.params["stage"] == "insert" and d.view.error is not None
    assert d.view.error.code == "pin_locked"


def test_lapsed_training_is_refused_with_its_own_text() -> None:
    d = session()
    sign_in(d, LAPSED.card_number, LAPSED.pin)  # the cast's card of an admin whose training lapsed
    assert d.view.name is ViewName.ADMIN_SIGN_IN
    assert d.view.error is not None and d.view.error.message == "rules.admin.training_lapsed"


def test_admin_of_another_office_is_refused() -> None:
    other = replace(SETTINGS, kiosk=KioskIdentitySettings(card_office="Kortkontoret Norr"))
    d = session(other)
    sign_in(d)
    assert d.view.error is not None and d.view.error.message == "rules.admin.wrong_office"


def test_card_without_hsa_id_is_refused() -> None:
    d = session()
    d.rig.card(ADMIN.card_number, ADMIN.pin, two_pins=False, hsa_id=False)  # on the personnummer
    assert {c.hsa_id for c in d.rig.certificates(ADMIN.card_number)} == {None}
    sign_in(d)
    assert d.view.error is not None and d.view.error.message == "rules.admin.no_hsa_id"


def test_portal_down_at_authorisation_offers_retry() -> None:
    d = session()
    d.rig.portal.down = True
    sign_in(d)
    assert d.view.name is ViewName.ADMIN_SIGN_IN and d.view.actions == ("retry", "cancel")
    assert d.view.params["stage"] == "authorise"  # no insert-card picture (screens)
    assert d.view.error is not None  # no "a finished visit is saved" at sign-in
    assert d.view.error.next_step == "next.sign_in_portal_unreachable"
    d.rig.portal.down = False
    d.send("retry")
    assert d.view.name is ViewName.HOME


@pytest.mark.parametrize("event", ["card_removed", "idle_timeout", "cancel"])
def test_leaving_the_admin_pin_pad_wipes_it(event: str) -> None:
    d = session()
    d.rig.put(ADMIN.card_number)
    d.send(INSERT[0], **INSERT[1])
    d.send("pin_digit", digit="2")
    d.send(event)
    assert d.view.params["stage"] == "insert" and len(d.flow.pin) == 0


def test_a_visit_runs_inside_the_session_and_returns_home() -> None:
    d = session()
    sign_in(d)
    d.send("choose_visit", kind="activation")
    assert d.view.name is ViewName.INSERT_CARD
    d.inputs(happy_script(VisitKind.ACTIVATION, d.rig))
    assert d.view.name is ViewName.DONE and d.step.finished
    assert "s1-v1:complete" in d.rig.results()
    d.send("pin_digit", digit="1")  # stray input after the end: still the outcome
    assert d.view.name is ViewName.DONE
    d.send("home")
    assert d.view.name is ViewName.HOME
    d.send("choose_visit", kind="card_check")  # the activated card is still in: read at once
    assert d.view.name is ViewName.CARD_INFO and d.flow.visit.visit_id == "s1-v2"
    d.send(CardTakenOut(READER))
    d.send("home")
    d.send("choose_visit", kind="card_check")  # no card in: the visit asks for one
    assert d.view.name is ViewName.INSERT_CARD and d.flow.visit.visit_id == "s1-v3"


def test_home_buttons_are_events_and_an_unknown_visit_is_none() -> None:
    d = session()
    sign_in(d)
    assert all(action_event(name) is not None for name in d.view.actions)
    assert action_event("visit:teleport") is None and action_event("teleport") is None


def test_session_expires_at_home() -> None:
    d = session()
    sign_in(d)
    d.rig.clock.current += timedelta(seconds=SETTINGS.ui.admin_session_timeout_s)
    d.send("choose_visit", kind="activation")
    assert d.view.name is ViewName.ADMIN_SIGN_IN
    assert d.view.message == "visit.session.expired"


def test_a_clock_set_back_ends_the_session_instead_of_prolonging_it() -> None:
    """The session's age is wall-clock time (the flow's ``at``): with the clock set back a
    day (NTP correcting a kiosk that booted ahead, a manual setting) the session ran a day
    longer. Its age is then unknown, and it ends."""
    d = session()
    sign_in(d)
    d.rig.clock.current -= timedelta(days=1)
    d.send("choose_visit", kind="activation")
    assert d.view.name is ViewName.ADMIN_SIGN_IN
    assert d.view.message == "visit.session.expired"


def test_session_timeout_waits_for_the_visit_to_end() -> None:
    d = session()
    sign_in(d)
    d.send("choose_visit", kind="activation")
    script = happy_script(VisitKind.ACTIVATION, d.rig)
    d.inputs(script[:6])
    d.send("admin_session_timeout")
    assert d.view.name is ViewName.PIN_CHOOSE  # the holder is mid-visit: not cut off
    d.inputs(script[6:])
    assert d.view.name is ViewName.DONE
    d.send("home")
    assert d.view.name is ViewName.ADMIN_SIGN_IN and d.view.message == "visit.session.expired"


def test_sign_out() -> None:
    d = session()
    sign_in(d)
    d.send("sign_out")
    assert d.view.name is ViewName.ADMIN_SIGN_IN and d.view.message == "visit.session.signed_out"
    d.send("choose_visit", kind="activation")
    assert d.view.name is ViewName.ADMIN_SIGN_IN
