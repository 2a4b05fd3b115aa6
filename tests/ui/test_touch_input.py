"""Typing by touch only: the on-screen keyboards, block by a typed card number, the PIN pad
as a card terminal, the larger-text mode. Real touches on real widgets, offscreen."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from kiosk.demo_cast import demo_holder
from kiosk.model import CardStatus
from kiosk.visit.contract import ViewName
from screens.driver import tap
from screens.scripts import Walk, choose, sign_in, to_card_record
from tests.ui.conftest import Harness

pytestmark = pytest.mark.ui


def walk_of(kiosk: Harness, driver: Any) -> Walk:
    return Walk(driver, kiosk.app.effect_gate, None)


def _field_clear_of_keyboard(app: Any, field: Any) -> bool:
    """The field being typed is drawn whole, above the keyboard, inside the window."""
    from screens.driver import _clipped

    keyboard = app.keyboard
    x, y = field.to_window(field.x, field.y)
    whole = (x, y, x + field.width, y + field.height)
    seen = _clipped(field, whole)  # through the screen's scroll view and the screens' area
    return keyboard.shown and y >= keyboard.top and seen is not None and all(
        abs(a - b) < 1 for a, b in zip(seen, whole, strict=True))


def test_manual_document_is_typed_on_the_on_screen_keyboards(kiosk: Harness) -> None:
    holder = demo_holder("bertil", date.today())
    app = kiosk.app
    seen: dict[str, Any] = {}

    def script(driver: Any) -> Any:
        walk = walk_of(kiosk, driver)
        yield from sign_in(walk, shots=False)
        yield from to_card_record(walk, "activation", holder)
        yield walk.act("continue")
        yield walk.wait(ViewName.DOCUMENT_CHECK)
        app.scan.hold = True  # the camera would read the sample: this visit types it
        yield walk.act("document_manual")
        yield walk.wait(ViewName.DOCUMENT_MANUAL)
        screen = driver.screen()
        # every field of the form is typed on the kiosk's own keyboard, never the system's
        fields = [screen.ids.number, screen.ids.expiry, screen.ids.pnr]
        seen["modes"] = {f.keyboard_mode for f in fields}
        seen["kinds"] = [f.keyboard_kind for f in fields]
        for field in fields:  # each field, tapped, opens its keyboard clear of it
            tap(field)
            yield driver.until(lambda f=field: app.keyboard.target == f)
            yield driver.frames(3)
            seen.setdefault("clear", []).append(_field_clear_of_keyboard(app, field))
            seen.setdefault("keys", []).append(sorted(app.keyboard.keys()))
            tap(app.keyboard.keys()["done"])
            yield driver.until(lambda: not app.keyboard.shown)
        seen["shift_after"] = app.root.ids.clip.shift
        tap(next(b for b in screen.ids.types.children if b.doc_type == holder.document.value))
        yield driver.frames(1)
        yield from driver.type_text(screen.ids.number, holder.document_number)
        yield from driver.type_text(screen.ids.expiry, holder.document_expiry.isoformat())
        yield from driver.type_text(screen.ids.pnr, holder.personnummer)
        seen["typed"] = [f.text for f in fields]
        yield walk.act("submit_document")
        yield walk.wait(ViewName.DOCUMENT_CONFIRM)
        seen["confirm"] = driver.view()
        app.scan.release()
        yield walk.act("cancel")

    kiosk.run(script, timeout_s=90)
    assert seen["modes"] == {"managed"}
    assert seen["kinds"] == ["alpha", "numeric", "numeric"]
    assert seen["clear"] == [True, True, True]
    letters, date_keys, pnr_keys = seen["keys"]
    assert {"Å", "Ä", "Ö", "Q", "M", "digits", "back", "done", "space"} <= set(letters)
    assert set("0123456789-") <= set(date_keys) and "+" not in date_keys
    assert set("0123456789-+") <= set(pnr_keys)
    assert seen["shift_after"] == 0  # the screen is back in place once the keyboard closed
    assert seen["typed"] == [holder.document_number, holder.document_expiry.isoformat(),
                             holder.personnummer]
    assert seen["confirm"].error is None


def test_a_lost_card_is_blocked_by_its_typed_number(kiosk: Harness) -> None:
    lost = demo_holder("farid", date.today())  # a Skickad card no other UI test uses
    app = kiosk.app
    seen: dict[str, Any] = {}

    def script(driver: Any) -> Any:
        walk = walk_of(kiosk, driver)
        yield from sign_in(walk, shots=False)
        yield from choose(walk, "block")  # no card goes in: it is lost
        screen = driver.screen()
        field = screen.ids.number
        seen["field_shown"] = field.opacity == 1 and not field.disabled and field.height > 0
        tap(field)
        yield driver.until(lambda: app.keyboard.target == field)
        yield driver.frames(3)
        seen["mode"] = app.keyboard.mode
        seen["clear"] = _field_clear_of_keyboard(app, field)
        tap(app.keyboard.keys()["done"])
        yield driver.until(lambda: not app.keyboard.shown)
        yield from driver.type_text(field, lost.card_number)
        tap(screen.ids.number_submit)
        yield walk.wait(ViewName.CARD_RECORD)
        seen["record"] = driver.view().params.get("card_number")
        yield walk.act("continue")
        yield walk.wait(ViewName.BLOCK_REASON)
        tap(next(b for b in driver.screen().ids.reasons.children if b.action == "lost"))
        yield walk.wait(ViewName.BLOCK_CONFIRM)
        yield walk.act("confirm")
        yield walk.wait(ViewName.DONE)
        yield walk.act("home")
        yield walk.wait(ViewName.HOME)

    kiosk.run(script, timeout_s=90)
    assert seen["field_shown"]
    assert seen["mode"] == "numeric"
    assert seen["clear"]
    assert seen["record"] == lost.card_number
    assert app.services.portal.card(lost.card_number).status is CardStatus.BLOCKED


def test_pin_pad_works_like_a_card_terminal(kiosk: Harness) -> None:
    seen: dict[str, Any] = {}

    def script(driver: Any) -> Any:
        from kiosk.demo_cast import demo_admins

        admin = demo_admins(date.today())[0]
        yield driver.insert_card(admin.card_number)
        yield driver.until_view(ViewName.ADMIN_SIGN_IN, lambda v: v.params.get("stage") == "pin")
        pad = driver.screen().ids.pad
        overflows = pad.overflows  # the one pad counts every screen's refused digits
        seen["colours"] = [pad.key(k).role for k in ("cancel", "clear", "submit")]
        seen["ok_at"] = []
        for digit in "12345":
            tap(pad.digit_keys()[digit])
            yield driver.frames(1)
            seen["ok_at"].append(pad.key("submit").disabled)
        tap(pad.key("submit"))  # disabled at 5 digits: nothing happens
        yield driver.frames(2)
        seen["after_early_ok"] = (driver.view().name, pad.typed, driver.view().error)
        tap(pad.digit_keys()["6"])
        yield driver.frames(1)
        seen["ok_at"].append(pad.key("submit").disabled)
        tap(pad.digit_keys()["7"])  # a 7th digit: refused, visibly
        yield driver.frames(2)
        seen["seventh"] = (pad.typed, pad.full, pad.overflows - overflows, pad.ids.progress.text)
        tap(pad.key("clear"))  # yellow Rätta: the entry starts again
        yield driver.until(lambda: pad.typed == 0)
        seen["after_correct"] = (pad.full, pad.key("submit").disabled)
        yield driver.remove_card()
        yield driver.until_view(ViewName.ADMIN_SIGN_IN,
                                lambda v: v.params.get("stage") == "insert")

    kiosk.run(script)
    assert seen["colours"] == ["danger", "warn", "ok"]
    assert seen["ok_at"] == [True, True, True, True, True, False]
    assert seen["after_early_ok"] == (ViewName.ADMIN_SIGN_IN, 5, None)
    typed, full, overflows, text = seen["seventh"]
    assert (typed, full, overflows) == (6, True, 1)
    assert "6" in text and "OK" in text
    assert seen["after_correct"] == (False, True)


def test_every_pin_screen_shows_the_one_pad_with_its_keys_drawn(kiosk: Harness) -> None:
    """One pad for every PIN screen (issue 16: ~3.7 MB a pad): each screen takes it into
    its place when shown, with every key drawn, none disabled or hidden by the screen it
    came from (the sign-in screen hides it until the PIN is asked for)."""
    from kivy.uix.label import Label

    from kiosk.demo_cast import DEMO_ACTIVE_PIN
    from screens.scripts import to_current_pin

    app = kiosk.app
    seen: dict[str, Any] = {}

    def look(name: str) -> None:
        screen = app.current_screen()
        pad = screen.ids.pad
        keys = [w for w in pad.walk(restrict=True) if isinstance(w, Label) and w.text]
        seen[name] = (pad, pad.parent is screen.ids.pad_place.__self__, pad.opacity, pad.disabled,
                      len(keys), all(key.texture is not None for key in keys))

    def script(driver: Any) -> Any:
        walk = walk_of(kiosk, driver)
        yield from sign_in(walk, shots=False)
        yield from to_current_pin(walk)
        yield driver.frames(2)
        look("pin_current")
        yield from driver.type_pin(DEMO_ACTIVE_PIN)
        yield walk.wait(ViewName.PIN_CHOOSE)
        yield driver.frames(2)
        look("pin_choose")
        yield driver.remove_card()

    kiosk.run(script)
    sign_in_pad = app.screens["admin_sign_in"].ids.pad
    for name in ("pin_current", "pin_choose"):
        pad, placed, opacity, disabled, keys, drawn = seen[name]
        assert pad is sign_in_pad, name
        assert (placed, opacity, disabled) == (True, 1, False), name
        assert keys >= 13 and drawn, name  # ten digits, the word keys, the dots' label


def test_holder_can_switch_on_larger_text_and_high_contrast(kiosk: Harness) -> None:
    from screens.theme import COLOURS, HIGH_CONTRAST

    app = kiosk.app
    seen: dict[str, Any] = {}

    def script(driver: Any) -> Any:
        walk = walk_of(kiosk, driver)
        yield from sign_in(walk, shots=False)
        yield from choose(walk, "activation")
        seen["home_text_px"] = app.text_px
        title = driver.screen().ids.header.ids.title
        seen["title_before"] = title.font_size
        tap(app.root.ids.large_text)
        yield driver.frames(3)
        seen["on"] = (app.large_text, app.C is HIGH_CONTRAST, app.text_px, title.font_size,
                      tuple(title.color))
        tap(app.root.ids.large_text)
        yield driver.frames(3)
        seen["off"] = (app.large_text, app.C is COLOURS, app.text_px)
        tap(app.root.ids.large_text)
        yield driver.frames(2)
        yield walk.act("cancel")
        yield walk.wait(ViewName.ERROR)
        yield walk.act("home")
        yield walk.wait(ViewName.HOME)
        seen["home"] = app.large_text  # the next holder starts with the standard look

    kiosk.run(script)
    on, high, text_px, title_px, title_colour = seen["on"]
    assert on and high
    assert text_px > seen["home_text_px"] and title_px > seen["title_before"]
    assert title_colour[:3] == HIGH_CONTRAST["title"][:3]
    assert seen["off"] == (False, True, seen["home_text_px"])
    assert seen["home"] is False
