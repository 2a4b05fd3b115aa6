"""The guided visit by touch (issue 12.3, 12.7): hand-overs between administrator and
holder, the receipt's words before signing, the done screen's mark, help on each step."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from kiosk.demo_cast import demo_holder
from kiosk.i18n import translate
from kiosk.visit.contract import ViewName
from kiosk.visit.effects import SignReceipt
from kiosk.visit.result import receipt_text
from screens.driver import tap
from screens.scripts import (
    GOOD_PIN,
    Walk,
    back_home,
    choose,
    document,
    hand_over,
    sign_in,
    to_card_record,
)
from tests.ui.conftest import Harness

pytestmark = pytest.mark.ui


def test_activation_hands_over_shows_the_receipt_signed_and_ends_with_a_mark(
    kiosk: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = kiosk.app
    anna = demo_holder("bertil", date.today())  # anna: the other full activations
    signed: list[bytes] = []
    run = app.effect_gate._run_effect

    def watching(effect: Any) -> Any:
        if isinstance(effect, SignReceipt):
            signed.append(effect.receipt)  # the bytes the holder's card really signs
        return run(effect)

    monkeypatch.setattr(app.effect_gate, "_run_effect", watching)
    seen: dict[str, Any] = {}

    def script(driver: Any) -> Any:
        walk = Walk(driver, app.effect_gate, None)
        guide = app.guide
        yield from sign_in(walk, shots=False)
        yield from to_card_record(walk, "activation", anna)
        seen["record_cover"] = guide.up  # the administrator's own screen: no hand-over
        yield walk.act("continue")
        yield from document(walk, anna, shots=False)
        yield walk.act("document_confirmed")
        yield walk.wait(ViewName.PIN_CHOOSE)
        yield driver.until(lambda: guide.up)
        seen["to_holder"] = (guide.cover.kind, guide.cover.title, guide.cover.go_text,
                             driver.screen().opacity)
        tap(driver.screen().ids.pad.digit_keys()["1"])  # the cover takes it: nothing typed
        yield driver.frames(2)
        seen["typed_under_cover"] = driver.view().pin_length
        yield from hand_over(walk, "holder")
        seen["holder_screen"] = driver.screen().opacity
        yield from driver.type_pin(GOOD_PIN)
        yield walk.wait(ViewName.PIN_CONFIRM)
        yield from driver.type_pin(GOOD_PIN)
        yield walk.wait(ViewName.SIGN_RECEIPT)
        screen = driver.screen()
        seen["receipt_fields"] = dict(driver.view().mapping("receipt"))
        seen["receipt_shown"] = screen.ids.receipt.text
        seen["pad_while_reading"] = screen.ids.pad.parent.opacity
        yield walk.act("accept_receipt")
        yield driver.until(lambda: not screen.reading)
        seen["pad_after"] = screen.ids.pad.parent.opacity
        yield from driver.type_pin(GOOD_PIN)
        yield walk.wait(ViewName.DONE)
        yield driver.until(lambda: guide.up)
        seen["to_admin"] = (guide.cover.kind, guide.cover.title, guide.cover.go_text)
        yield from hand_over(walk, "admin")
        done = driver.screen()
        seen["mark"] = (done.success, done.ids.mark.opacity, done.ids.mark.width)
        seen["done_texts"] = kiosk.texts()
        yield driver.remove_card()
        yield walk.act("home")
        yield walk.wait(ViewName.HOME)

    kiosk.run(script, timeout_s=120)
    assert seen["record_cover"] is False
    kind, title, go, opacity = seen["to_holder"]
    assert (kind, title, go) == ("holder", translate("ui.handover.holder.title", "sv"),
                                 translate("ui.handover.holder.go", "sv"))
    assert title == "Lämna över till kortinnehavaren" and opacity == 0  # the pad is hidden
    assert seen["typed_under_cover"] == 0 and seen["holder_screen"] == 1
    # the receipt in words, before signing: card number and holder, the very text signed
    shown = seen["receipt_shown"]
    assert shown == receipt_text(seen["receipt_fields"], "sv")
    assert anna.card_number in shown and anna.name in shown
    assert seen["pad_while_reading"] == 0 and seen["pad_after"] == 1
    assert len(signed) == 1 and shown in signed[0].decode("utf-8").splitlines()
    assert seen["to_admin"] == ("admin", "Tillbaka till ID-administratören",
                                translate("ui.handover.admin.go", "sv"))
    success, mark_opacity, mark_width = seen["mark"]
    assert success and mark_opacity == 1 and mark_width >= app.touch_px
    assert "Kortet är aktivt" in seen["done_texts"] and "Ta ut kortet" in seen["done_texts"]


def test_help_on_a_visit_screen_by_touch_in_english(kiosk: Harness) -> None:
    app = kiosk.app
    seen: dict[str, Any] = {}

    def script(driver: Any) -> Any:
        walk = Walk(driver, app.effect_gate, None)
        help_button = app.root.ids.help
        yield from sign_in(walk, shots=False)
        seen["home_help"] = (help_button.opacity, help_button.disabled)
        tap(app.root.ids.language)
        yield driver.frames(2)
        yield from choose(walk, "activation")
        yield driver.until(lambda: help_button.opacity == 1)
        seen["button"] = (help_button.text, help_button.width, help_button.height)
        tap(help_button)
        yield driver.until(lambda: app.guide.up)
        cover = app.guide.cover
        seen["help"] = (cover.kind, cover.title, cover.message, cover.go_text,
                        driver.screen().opacity, help_button.disabled)
        tap(cover.ids.go)
        yield driver.until(lambda: not app.guide.up)
        seen["after"] = (driver.screen().opacity, help_button.opacity, driver.view().name)
        yield walk.act("cancel")
        yield walk.wait(ViewName.ERROR)
        yield walk.act("home")
        yield walk.wait(ViewName.HOME)

    kiosk.run(script)
    assert seen["home_help"] == (0, True)  # HOME has no step to explain
    text, width, height = seen["button"]
    assert text == "Help"
    px_per_mm = app.panel().px_per_mm
    assert min(width, height) / px_per_mm >= app.settings.ui.min_target_mm - 0.01
    assert seen["help"] == ("help", "Help · Step 1 of 6", translate("ui.help.insert_card", "en"),
                            "Back", 0, True)
    assert seen["after"] == (1, 1, ViewName.INSERT_CARD)


def test_an_empty_manual_form_sent_by_touch_says_the_field_is_empty(kiosk: Harness) -> None:
    """Issue 12.7: not "could not be read" when nothing was typed."""
    seen: dict[str, Any] = {}

    def script(driver: Any) -> Any:
        walk = Walk(driver, kiosk.app.effect_gate, None)
        yield from sign_in(walk, shots=False)
        yield from to_card_record(walk, "activation", demo_holder("bertil", walk.today))
        yield walk.act("continue")
        yield walk.wait(ViewName.DOCUMENT_CHECK)
        driver.app.scan.hold = True  # nothing read by the camera meanwhile
        yield walk.act("document_manual")
        yield walk.wait(ViewName.DOCUMENT_MANUAL)
        yield walk.act("submit_document")
        yield driver.until(lambda: bool(driver.screen().ids.form_error.text))
        seen["texts"] = kiosk.texts()
        seen["view"] = driver.view().name
        driver.app.scan.release()
        yield walk.act("cancel")
        yield walk.wait(ViewName.ERROR)
        yield walk.act("home")
        yield walk.wait(ViewName.HOME)

    kiosk.run(script)
    text = " ".join(seen["texts"])
    assert translate("error.missing_input", "sv") in text
    assert translate("error.invalid_input", "sv") not in text
    assert seen["view"] is ViewName.DOCUMENT_MANUAL  # the form stays, nothing sent


def test_a_scrolling_screen_keeps_its_scroll_bar_off_the_texts(kiosk: Harness) -> None:
    """A typed document's confirmation in English is taller than the 10" panel: its body
    scrolls, and the scroll bar is drawn beside the column, not over the right-aligned
    check results ("Passe|d", "Awaiting your ey|e" under the bar). Its action row says so
    ("Show more"), and tapping that scrolls on to the end ("Back to top"), then back up."""
    from kivy.uix.label import Label

    from screens.scripts import type_document
    from screens.widgets.common import ScreenBody

    app = kiosk.app
    bertil = demo_holder("bertil", date.today())
    seen: dict[str, Any] = {}

    def to_confirmation(walk: Walk) -> Any:
        """From HOME to his typed document's confirmation."""
        yield from to_card_record(walk, "activation", bertil)
        app.scan.hold = True  # the demo camera's document is not his
        yield walk.act("continue")
        yield walk.wait(ViewName.DOCUMENT_CHECK)
        yield from type_document(walk, bertil)
        yield walk.act("submit_document")
        yield walk.wait(ViewName.DOCUMENT_CONFIRM)
        yield walk.driver.frames(3)

    def script(driver: Any) -> Any:
        walk = Walk(driver, app.effect_gate, None)
        yield from sign_in(walk, shots=False)
        tap(app.root.ids.language)
        yield driver.frames(2)
        yield from to_confirmation(walk)
        screen = driver.screen()
        body = next(w for w in screen.walk(restrict=True) if isinstance(w, ScreenBody))
        scroll = body._scroll
        seen["scrolls"] = scroll.children[0].height > scroll.height
        bar_x = scroll.to_window(scroll.right - scroll.bar_width - scroll.bar_margin, scroll.y)[0]
        seen["under_bar"] = [
            w.text for w in scroll.walk(restrict=True)
            if isinstance(w, Label) and w.text and w.opacity > 0
            and w.to_window(w.right, w.y)[0] > bar_x + 0.5]
        cue, row = body.cue, screen.ids.actions.__self__

        def state() -> tuple[bool, str, float]:
            return (cue.parent is row, cue.text, round(scroll.scroll_y, 2))

        seen["cue"] = [state()]
        for _tap in range(8):  # a real touch each time, until the end shows
            if cue.at_end:
                break
            tap(cue)
            yield driver.frames(2)
            seen["cue"].append(state())
        tap(cue)  # "Back to top"
        yield driver.frames(2)
        seen["cue"].append(state())
        tap(cue)  # down again, and the visit ends there
        yield driver.frames(2)
        seen["left_at"] = round(scroll.scroll_y, 2)
        yield walk.act("cancel")
        yield driver.remove_card()
        yield from back_home(walk)
        # the next visit's confirmation starts at its top, not where the last one was left
        yield from to_confirmation(walk)
        seen["next_at"] = (round(scroll.scroll_y, 2), cue.text)
        yield walk.act("cancel")
        yield driver.remove_card()

    kiosk.run(script)
    assert seen["scrolls"]
    assert seen["under_bar"] == []
    steps = seen["cue"]
    assert all(in_row for in_row, _text, _y in steps)
    assert steps[0][1:] == ("Show more", 1.0)
    assert steps[-2][1:] == ("Back to top", 0.0)  # each tap went on, to the end
    assert [y for *_rest, y in steps[:-1]] == sorted((y for *_rest, y in steps[:-1]),
                                                     reverse=True)
    assert len(steps) >= 3 and steps[-1][1:] == ("Show more", 1.0)
    assert seen["left_at"] < 1.0
    assert seen["next_at"] == (1.0, "Show more")


def test_a_drag_on_facts_in_their_own_scroll_view_scrolls_the_column(kiosk: Harness) -> None:
    """The card record's facts sit in a scroll view as tall as they are: a finger's drag on
    them went to it and moved nothing (the 7" record scrolled only from its heading). It
    now scrolls the screen's column, and the column shows its "Visa mer" cue."""
    from kivy.uix.scrollview import ScrollView
    from kivy.uix.widget import Widget

    from screens.widgets.common import ActionRow, ScreenBody

    app = kiosk.app
    seen: dict[str, Any] = {}

    def script(driver: Any) -> Any:
        body = ScreenBody(size_hint=(None, None), size=(500, 400), pos=(100, 100))
        facts = ScrollView(do_scroll_x=False, size_hint_min_y=700)
        facts.add_widget(Widget(size_hint_y=None, height=700))
        body.add_widget(facts)
        body.add_widget(ActionRow())
        app.root_window.add_widget(body)  # on top: it gets the touches first
        try:
            yield driver.frames(3)
            seen["before"] = (body._scroll.scroll_y, body.cue.needed, facts.do_scroll_y)
            yield from driver.drag(facts, 300)
            yield driver.pause(0.5)
            seen["after"] = body._scroll.scroll_y
        finally:
            app.root_window.remove_widget(body)

    kiosk.run(script)
    assert seen["after"] < 0.9  # the column moved under the finger
    assert seen["before"] == (1.0, True, False)
