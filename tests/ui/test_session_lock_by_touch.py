"""The session locks in the running app (issue 12.2), one reader: HOME counts down and
locks; the administrator's own card where the holder's goes is answered "take out your
own card". Real taps, the real flow, the shell's own tick; idle time is wound, not waited."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from kiosk.demo_cast import DEMO_OFFICE, demo_admins, demo_holder
from kiosk.i18n import translate
from kiosk.visit.admin_session import KioskSession
from kiosk.visit.contract import ViewName
from screens.driver import tap
from screens.scripts import Walk, choose, sign_in
from tests.ui.conftest import Harness

pytestmark = pytest.mark.ui


def walk_of(kiosk: Harness, driver: Any) -> Walk:
    return Walk(driver, kiosk.app.effect_gate, None)


def test_home_counts_down_then_locks_and_drops_the_session_key(kiosk: Harness) -> None:
    app = kiosk.app
    lock_s = app.settings.ui.admin_idle_lock_s
    seen: dict[str, Any] = {}

    def script(driver: Any) -> Any:
        walk = walk_of(kiosk, driver)
        yield from sign_in(walk, shots=False)
        seen["key_after_sign_in"] = app.services.handout.active
        app.session.wind_idle_clock(lock_s - 5)
        yield driver.until(lambda: app.idle_warning.parent is not None)
        seen["warning"] = (app.idle_warning.title, app.idle_warning.ids.countdown.text)
        app.session.wind_idle_clock(lock_s + 1)
        yield walk.wait(ViewName.ADMIN_SIGN_IN)
        seen["locked"] = kiosk.texts()
        seen["warning_open"] = app.idle_warning.parent is not None

    kiosk.run(script)
    assert seen["key_after_sign_in"] is True
    title, countdown = seen["warning"]
    assert title == translate("ui.lock.title", "sv") and "låses om" in countdown
    assert translate("visit.session.locked.idle", "sv") in seen["locked"]
    assert seen["warning_open"] is False
    assert app.session.admin is None
    assert app.services.handout.active is False  # nothing more is signed in their name


def test_a_touch_during_the_countdown_keeps_the_session(kiosk: Harness) -> None:
    app = kiosk.app
    lock_s = app.settings.ui.admin_idle_lock_s

    def script(driver: Any) -> Any:
        walk = walk_of(kiosk, driver)
        yield from sign_in(walk, shots=False)
        app.session.wind_idle_clock(lock_s - 5)
        yield driver.until(lambda: app.idle_warning.parent is not None)
        seen["stay"] = app.idle_warning.ids.stay.text
        tap(app.idle_warning.ids.stay)  # "Jag är kvar"
        yield driver.until(lambda: app.idle_warning.parent is None)
        yield driver.frames(3)

    seen: dict[str, str] = {}
    kiosk.run(script)
    assert seen["stay"] == translate("ui.lock.stay", "sv")
    assert app.current_screen().name == ViewName.HOME.value
    assert app.session.admin is not None


def test_the_admin_card_inserted_as_the_holders_is_answered(kiosk: Harness) -> None:
    admin = demo_admins(kiosk.app.services.clock.now().date())[0]
    seen: dict[str, list[str]] = {}

    def script(driver: Any) -> Any:
        walk = walk_of(kiosk, driver)
        yield from sign_in(walk, shots=False)
        yield from choose(walk, "card_check")
        yield driver.insert_card(admin.card_number)
        yield walk.wait(ViewName.INSERT_CARD, lambda v: v.error is not None)
        seen["own_card"] = kiosk.texts()
        yield driver.remove_card()
        yield walk.wait(ViewName.INSERT_CARD, lambda v: v.error is None)
        yield driver.insert_card(demo_holder("eva", walk.today).card_number)
        yield walk.wait(ViewName.CARD_INFO)

    kiosk.run(script)
    assert translate("error.admin_card_inserted", "sv") in seen["own_card"]
    assert translate("next.take_out_own_card", "sv") in seen["own_card"]


# --- two readers -----------------------------------------------------------------------


@pytest.fixture
def two_readers(kiosk: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """The running demo with a second simulated reader for the administrator's card
    (hardware.admin_reader = "admin reader", as a two-reader demo is configured)."""
    app = kiosk.app
    services, composition = app.services, app.composition
    settings = app.settings
    two = replace(settings, kiosk=replace(settings.kiosk, card_office=DEMO_OFFICE),
                  hardware=replace(settings.hardware, admin_reader="admin reader"))
    monkeypatch.setattr(services.reader, "two_readers", True)
    monkeypatch.setattr(services.deck, "_place_admin", services.reader.place_admin)
    monkeypatch.setattr(composition, "make_flow", lambda: KioskSession(two, "two-readers"))
    app.session.begin()
    app._refresh_chrome()
    kiosk.pump(lambda: app.current_screen().name == "admin_sign_in")
    yield kiosk
    services.deck.remove_admin()
    kiosk.pump(lambda: services.reader._admin_card is None)


def test_two_readers_pulling_the_admin_card_mid_visit_locks_within_a_second(
    two_readers: Harness,
) -> None:
    kiosk = two_readers
    app = kiosk.app
    admin = demo_admins(app.services.clock.now().date())[0]
    seen: dict[str, Any] = {}

    def script(driver: Any) -> Any:
        walk = walk_of(kiosk, driver)
        buttons = app.demo_panel.card_buttons()
        tap(buttons[admin.card_number])  # into the administrator's own reader
        yield walk.wait(ViewName.ADMIN_SIGN_IN, lambda v: v.params.get("stage") == "pin")
        yield from driver.type_pin(admin.pin)
        yield walk.wait(ViewName.HOME)
        seen["admin_reader"] = app.services.deck.admin_current is not None
        seen["remove_admin"] = app.demo_panel.ids.remove_admin_button.text
        yield from choose(walk, "card_check")
        yield driver.insert_card(demo_holder("eva", walk.today).card_number)
        yield walk.wait(ViewName.CARD_INFO)
        seen["pulled_at"] = time.monotonic()
        tap(app.demo_panel.ids.remove_admin_button)  # the administrator walks away
        yield walk.wait(ViewName.ADMIN_SIGN_IN)
        seen["locked_after_s"] = time.monotonic() - seen["pulled_at"]
        seen["locked"] = kiosk.texts()

    kiosk.run(script)
    assert seen["admin_reader"] is True  # the card stayed in its own reader during sign-in
    assert seen["remove_admin"] == translate("ui.demo.remove_admin", "sv")
    assert seen["locked_after_s"] < 1.0, seen["locked_after_s"]
    assert translate("visit.session.locked.visit", "sv") in seen["locked"]
    assert app.session.admin is None
    assert app.services.handout.active is False
