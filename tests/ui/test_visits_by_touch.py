"""Visits driven by real touches on real widgets, rendered offscreen, on simulated devices."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from kiosk.demo_cast import DEMO_ACTIVE_PIN, demo_holder
from kiosk.i18n import translate
from kiosk.model import CardStatus
from kiosk.visit.contract import ViewName
from screens.driver import tap
from screens.scripts import (
    GOOD_PIN,
    RULE_BREAKING_PIN,
    Walk,
    activation,
    change_pin,
    choose,
    hand_over,
    sign_in,
    to_card_record,
    to_current_pin,
    type_document,
)
from tests.ui.conftest import Harness

pytestmark = pytest.mark.ui


def walk_of(kiosk: Harness, driver: Any) -> Walk:
    return Walk(driver, kiosk.app.effect_gate, None)


def test_full_activation_visit_makes_the_card_active(
    kiosk: Harness, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from screens.views.document_confirm import DocumentConfirmScreen

    anna = demo_holder("anna", date.today())
    app = kiosk.app
    seen: dict[str, Any] = {}
    render_parts = DocumentConfirmScreen.render_parts

    def render_and_look(screen: Any, *args: Any) -> None:  # the confirm screen as shown
        render_parts(screen, *args)
        seen.setdefault("snapshot", app.scan.snapshot)
        seen.setdefault("picture", (screen.ids.document_picture.texture,
                                    screen.ids.document_picture.opacity))
        seen.setdefault("mrz", screen.ids.mrz_picture.texture)

    monkeypatch.setattr(DocumentConfirmScreen, "render_parts", render_and_look)

    def script(driver: Any) -> Any:
        walk = walk_of(kiosk, driver)
        yield from sign_in(walk, shots=False)
        yield from activation(walk, "anna", shots=False, mistakes=False)

    kiosk.run(script, timeout_s=90)
    assert app.current_screen().name == "home"
    record = app.services.portal.card(anna.card_number)
    assert record.status is CardStatus.ACTIVE
    # read by the scanner's own process, which kept the document's picture for the confirm
    snapshot = seen["snapshot"]
    assert snapshot is not None
    picture, opacity = seen["picture"]
    assert picture is not None and opacity == 1
    assert picture.size == (snapshot.width, snapshot.height)
    mrz = seen["mrz"]
    assert mrz is not None and mrz.width > 3 * mrz.height  # a band
    # the visit is over: the kiosk keeps no picture of the holder's document
    assert app.scan.snapshot is None
    confirm = app.screens["document_confirm"]  # built when shown, then kept
    assert confirm.ids.document_picture.texture is None
    assert confirm.ids.mrz_picture.texture is None
    # nor anywhere else: the screens' last contexts held it through the next visits
    import gc

    from hardware.scan.scan_session import Snapshot

    del snapshot
    seen.clear()
    gc.collect()
    assert [o for o in gc.get_objects() if type(o) is Snapshot] == []  # no proxy touched


def _to_pin_choice(kiosk: Harness, walk: Walk, holder_key: str) -> Any:
    """Sign in, start an activation, insert the card and type the document in."""
    holder = demo_holder(holder_key, walk.today)
    yield from sign_in(walk, shots=False)
    yield from to_card_record(walk, "activation", holder)
    # the demo camera shows a document that is not Bertil's: a read of it before the typing
    # starts would take the visit past the document check (type_document holds it after)
    kiosk.app.scan.hold = True
    yield walk.act("continue")
    yield walk.wait(ViewName.DOCUMENT_CHECK)
    yield from type_document(walk, holder)  # typed by touch on the on-screen keyboards
    yield walk.act("submit_document")
    yield walk.wait(ViewName.DOCUMENT_CONFIRM)
    yield walk.act("document_confirmed")
    yield walk.wait(ViewName.PIN_CHOOSE)
    yield from hand_over(walk, "holder")  # the holder taps "Jag är kortinnehavaren"


def test_rule_breaking_pin_and_wrong_confirmation_are_shown_in_words(kiosk: Harness) -> None:
    seen: dict[str, list[str]] = {}

    def script(driver: Any) -> Any:
        walk = walk_of(kiosk, driver)
        yield from _to_pin_choice(kiosk, walk, "bertil")
        pad = driver.screen().ids.pad
        actions = {getattr(w, "action", "") for w in kiosk.app.root.walk() if
                   getattr(w, "action", "") and w.get_root_window() is not None}
        seen["holder_actions"] = sorted(actions)
        yield from driver.type_pin(RULE_BREAKING_PIN[:4], submit=False)
        assert pad.typed == 4 and pad.ids.dots.typed == 4  # four filled dots
        seen["typing"] = kiosk.texts()
        yield from driver.type_pin(RULE_BREAKING_PIN[4:])
        yield walk.wait(ViewName.PIN_CHOOSE, lambda v: v.error is not None)
        seen["rule"] = kiosk.texts()
        error = driver.view().error
        seen["rule_keys"] = [error.code, error.message, error.next_step]
        assert pad.typed == 0
        yield from driver.type_pin(GOOD_PIN)
        yield walk.wait(ViewName.PIN_CONFIRM)
        yield from driver.type_pin(GOOD_PIN[:5] + "0")
        yield walk.wait(ViewName.PIN_CHOOSE, lambda v: v.error is not None)
        seen["mismatch"] = kiosk.texts()
        yield walk.act("cancel")
        yield walk.wait(ViewName.ERROR)
        seen["ended"] = kiosk.texts()
        yield from hand_over(walk, "admin")  # back to the administrator, who reads it
        yield walk.act("home")
        yield walk.wait(ViewName.HOME)

    kiosk.run(script, timeout_s=90)
    assert "Säkerhetskod med 6 siffror" in seen["typing"]
    assert seen["holder_actions"] == ["cancel"]  # no way from the holder's screen to admin
    rule_texts = " ".join(seen["rule"])
    code, message_key, next_key = seen["rule_keys"]
    assert code == "pin_rule" and message_key.endswith(".sequence")  # 123456 is a run
    assert translate(message_key, "sv") in rule_texts  # the broken rule, in words
    assert translate(next_key, "sv") in rule_texts
    assert translate("error.pin_mismatch", "sv") in seen["mismatch"]
    assert translate("error.visit_cancelled", "sv") in seen["ended"]
    for name in ("typing", "rule", "mismatch", "ended"):  # the PIN never shows, only dots
        texts = seen[name]
        assert not any(GOOD_PIN in t or RULE_BREAKING_PIN in t for t in texts)


def test_a_wrong_current_pin_is_told_on_its_own_screen_before_a_new_one_in_sv_and_en(
    kiosk: Harness,
) -> None:
    wrong = "111222"
    seen: dict[str, Any] = {}

    def script(driver: Any) -> Any:
        walk = walk_of(kiosk, driver)
        app = kiosk.app
        yield from sign_in(walk, shots=False)
        yield from to_current_pin(walk)
        yield from driver.type_pin(wrong)
        yield walk.wait(ViewName.PIN_CURRENT, lambda v: v.error is not None)
        seen["screen"] = app.current_screen().name
        seen["sv"] = kiosk.texts()
        tap(app.root.ids.language)
        yield driver.frames(2)
        seen["en"] = kiosk.texts()
        tap(app.root.ids.language)
        yield driver.frames(2)
        yield from driver.type_pin(DEMO_ACTIVE_PIN)
        yield walk.wait(ViewName.PIN_CHOOSE)
        seen["next"] = kiosk.texts()
        yield driver.remove_card()
        yield walk.wait(ViewName.ERROR)
        yield from hand_over(walk, "admin")
        yield walk.act("home")
        yield walk.wait(ViewName.HOME)

    kiosk.run(script)
    assert seen["screen"] == "pin_current"
    for lang in ("sv", "en"):
        texts = seen[lang]
        assert translate("error.wrong_pin", lang) in texts, texts
        assert translate("next.wrong_pin", lang, tries_left=2) in texts, texts
        assert translate("visit.pin.pin_current", lang) in texts
        assert not any(wrong in t or DEMO_ACTIVE_PIN in t for t in texts)
    assert translate("error.wrong_pin", "sv") not in seen["next"]  # the right one clears it


def test_whole_pin_changes_by_touch_check_then_write_and_the_card_takes_the_new_pin(
    kiosk: Harness,
) -> None:
    """scripts.change_pin (the UI bench's visit) twice: to GOOD_PIN and back to the cast's."""
    services = kiosk.app.services
    before = len(services.audit.entries())

    def script(driver: Any) -> Any:
        walk = walk_of(kiosk, driver)
        yield from sign_in(walk, shots=False)
        yield from change_pin(walk, DEMO_ACTIVE_PIN, GOOD_PIN)
        yield from change_pin(walk, GOOD_PIN, DEMO_ACTIVE_PIN)

    kiosk.run(script, timeout_s=90)
    card_steps = [e.action for e in services.audit.entries()[before:]
                  if e.action in ("verify_pin", "change_pin")]
    # each visit reached DONE (change_pin waits for it): the card took GOOD_PIN, then the
    # cast's PIN again, which the next test finds; the check came before each write
    assert card_steps == ["verify_pin", "change_pin"] * 2


def test_card_removed_mid_visit_ends_it_with_a_next_step(kiosk: Harness) -> None:
    seen: list[str] = []

    def script(driver: Any) -> Any:
        walk = walk_of(kiosk, driver)
        yield from sign_in(walk, shots=False)
        yield from to_current_pin(walk)
        yield from driver.type_pin(DEMO_ACTIVE_PIN[:2], submit=False)
        yield driver.remove_card()
        yield walk.wait(ViewName.ERROR)
        seen.extend(kiosk.texts())
        yield from hand_over(walk, "admin")
        yield walk.act("home")
        yield walk.wait(ViewName.HOME)

    kiosk.run(script)
    assert translate("error.card_removed", "sv") in seen
    # the visit is over: not "insert it again and retry" (issue 12.7), but a new visit
    assert translate("next.card_removed.ended", "sv") in seen
    assert translate("next.reinsert_card", "sv") not in seen
    assert DEMO_ACTIVE_PIN[:2] not in " ".join(seen)


def test_idle_timeout_warns_then_ends_the_visit_and_returns_home(kiosk: Harness) -> None:
    app = kiosk.app
    ui = app.settings.ui
    seen: dict[str, Any] = {}

    def script(driver: Any) -> Any:
        walk = walk_of(kiosk, driver)
        yield from sign_in(walk, shots=False)
        yield from choose(walk, "activation")
        app.session.wind_idle_clock(ui.idle_timeout_s - 5)
        yield driver.until(lambda: app.idle_warning.parent is not None)
        seen["warning"] = app.idle_warning.ids.countdown.text
        app.session.wind_idle_clock(ui.idle_timeout_s + 1)
        yield walk.wait(ViewName.ERROR)
        seen["ended"] = kiosk.texts()
        seen["warning_open"] = app.idle_warning.parent is not None
        app.session.wind_idle_clock(ui.idle_timeout_s + 1)
        yield walk.wait(ViewName.HOME)

    kiosk.run(script)
    assert "sekunder" in seen["warning"]
    assert translate("error.visit_timed_out", "sv") in seen["ended"]
    assert seen["warning_open"] is False


def test_language_switch_redraws_the_screen_in_english_and_back(kiosk: Harness) -> None:
    seen: dict[str, list[str]] = {}

    def script(driver: Any) -> Any:
        walk = walk_of(kiosk, driver)
        yield from sign_in(walk, shots=False)
        seen["sv"] = kiosk.texts()
        tap(kiosk.app.root.ids.language)
        yield driver.frames(2)
        seen["en"] = kiosk.texts()
        seen["en_bar"] = [kiosk.app.root.ids.language.text]
        tap(kiosk.app.root.ids.language)
        yield driver.frames(2)
        seen["back"] = kiosk.texts()

    kiosk.run(script)
    assert translate("visit.session.home_title", "sv") in seen["sv"]
    assert translate("visit.session.home_title", "en") in seen["en"]
    assert translate("visit.title.activation", "en") in seen["en"]
    assert seen["en_bar"] == ["Svenska"]
    assert seen["back"] == seen["sv"]


def test_wrong_admin_pin_is_refused_with_tries_left(kiosk: Harness) -> None:
    from kiosk.demo_cast import demo_admins

    admin = demo_admins(date.today())[0]
    seen: list[str] = []

    def script(driver: Any) -> Any:
        walk = walk_of(kiosk, driver)
        yield driver.insert_card(admin.card_number)
        yield walk.wait(ViewName.ADMIN_SIGN_IN, lambda v: v.params.get("stage") == "pin")
        yield from driver.type_pin("000000")
        yield walk.wait(ViewName.ADMIN_SIGN_IN, lambda v: v.error is not None)
        seen.extend(kiosk.texts())
        yield from driver.type_pin(admin.pin)  # the right one resets the counter
        yield walk.wait(ViewName.HOME)

    kiosk.run(script)
    assert translate("error.wrong_pin", "sv") in seen
    assert "000000" not in " ".join(seen)


def test_pin_keys_are_at_least_15_mm_on_the_panel(kiosk: Harness) -> None:
    app = kiosk.app
    ui = app.settings.ui

    def script(driver: Any) -> Any:
        from kiosk.demo_cast import demo_admins

        admin = demo_admins(date.today())[0]
        yield driver.insert_card(admin.card_number)
        yield driver.until_view(ViewName.ADMIN_SIGN_IN, lambda v: v.params.get("stage") == "pin")

    kiosk.run(script)
    pad = app.current_screen().ids.pad
    assert ui.min_key_mm >= 15
    px_per_mm = max(app.root.width / ui.panel_width_mm, app.root.height / ui.panel_height_mm)
    for key in [*pad.digit_keys().values(), *(pad.key(k) for k in ("cancel", "clear", "submit"))]:
        assert key.width / px_per_mm >= ui.min_key_mm
        assert key.height / px_per_mm >= ui.min_key_mm
    assert sorted(pad.digit_keys()) == list("0123456789")


def test_shuffled_pad_keeps_every_digit_and_moves_them(kiosk: Harness) -> None:
    from screens.widgets.pin_pad import key_layout

    layouts = {tuple(key_layout(shuffled=True)) for _ in range(20)}
    assert all(sorted(f for f in layout if f.isdigit()) == list("0123456789")
               for layout in layouts)
    assert all(layout[9] == "blank" and layout[11] == "back" for layout in layouts)
    assert len(layouts) > 1
    assert tuple(key_layout(shuffled=False)) == (*"123456789", "blank", "0", "back")


def test_layout_check_finds_overlapping_texts(kiosk: Harness) -> None:
    from kivy.uix.floatlayout import FloatLayout
    from kivy.uix.label import Label

    from screens.driver import Driver

    driver = Driver(kiosk.app)
    assert driver.overlapping_texts() == []  # the sign-in screen is clean
    layer = FloatLayout()
    layer.add_widget(Label(text="första", size_hint=(None, None), size=(200, 50), pos=(10, 10)))
    layer.add_widget(Label(text="andra", size_hint=(None, None), size=(200, 50), pos=(60, 30)))
    kiosk.app.root.add_widget(layer)
    try:
        kiosk.pump(lambda: True)
        assert ("första", "andra") in driver.overlapping_texts()
    finally:
        kiosk.app.root.remove_widget(layer)


def test_an_active_cards_record_lists_no_activation_deadlines(kiosk: Harness) -> None:
    """The deadlines bind a card not yet activated (Skickad). On an active card's record
    (unlock, PIN change...) "Aktiveras senast" and a "Slutförs senast" from its activation,
    long past, read as an overdue card, and in sight on the 7" panel since the record lists
    status and deadlines first."""
    eva = demo_holder("eva", date.today())
    seen: list[str] = []

    def script(driver: Any) -> Any:
        walk = walk_of(kiosk, driver)
        yield from sign_in(walk, shots=False)
        yield from to_card_record(walk, "unlock", eva)
        seen.extend(kiosk.texts())
        yield walk.act("cancel")
        yield driver.remove_card()

    kiosk.run(script)
    assert translate("ui.field.status", "sv") in seen and "Aktiv" in seen
    assert eva.card_number in seen
    for field in ("activation_deadline", "completion_deadline"):
        assert translate(f"ui.field.{field}", "sv") not in seen, field
