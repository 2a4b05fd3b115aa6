"""Fixes from the screen review: clipped texts, certificate headings, references, done facts."""

from __future__ import annotations

import pytest

from kiosk.visit.contract import View, ViewName
from kiosk.visit.events import Event
from screens.texts import facts, tr
from screens.views.card_info import certificate_facts, certificate_heading
from tests.ui.conftest import Harness

pytestmark = pytest.mark.ui

CERT = {"usage": "authentication", "label": "Legitimering", "not_after": "2030-10-20T00:00",
        "valid_now": True, "chain_valid": True, "trust_level": "3",
        "hsa_id": "SE2321000016-E9F0", "personnummer": "19460101-****"}


def test_certificate_heading_is_the_translated_usage_only() -> None:
    assert certificate_heading(CERT, "sv") == "Legitimering"
    assert certificate_heading(CERT, "en") == "Authentication"
    assert certificate_heading({"label": "Okänd"}, "en") == "Okänd"


def test_certificate_repeats_record_facts_only_where_they_differ() -> None:
    record = {"trust_level": "3", "hsa_id": "SE2321000016-E9F0", "personnummer": "19460101-****"}
    assert set(certificate_facts(CERT, record)) == {
        "not_after", "days_left", "expires_soon", "valid_now", "chain_valid"
    }
    other = certificate_facts(CERT, {**record, "hsa_id": "SE2321000016-AAAA"})
    assert other["hsa_id"] == "SE2321000016-E9F0"


def test_reference_is_the_visit_id_and_trust_level_does_not_repeat_its_label() -> None:
    view = View(ViewName.DONE, "", params={"reference": "04af0762b4b8-v1:complete",
                                           "trust_level": "3"})
    rows = dict(facts(view, "sv"))
    assert rows["Referens för support"] == "04af0762b4b8-v1"
    assert rows["Tillitsnivå"] == "3 (LoA3)"
    assert tr("visit.done.activation.rejected", "en", reference="ab12-v2:complete").endswith(
        "ab12-v2.")


def test_done_screen_of_a_finished_visit_lists_no_deadline(kiosk: Harness) -> None:
    from screens.shell import Shown
    from screens.views.base import ScreenContext
    from screens.views.done import DoneScreen

    screen = DoneScreen()
    view = View(ViewName.DONE, "visit.title.activation", "visit.done.activation",
                params={"card_number": "9752210000000001", "deadline": "2026-11-30T13:08",
                        "reference": "04af0762b4b8-v1:complete"})
    ctx = ScreenContext(lang="sv", input=_NoInput())
    screen.render(Shown(view=view, finished=True), ctx)
    texts = screen.texts()
    assert tr("ui.field.deadline", "sv") not in texts and "04af0762b4b8-v1" in texts
    assert "9752210000000001" in texts


def test_layout_check_finds_text_larger_than_its_box(kiosk: Harness) -> None:
    from kivy.uix.floatlayout import FloatLayout
    from kivy.uix.label import Label

    from screens.driver import Driver

    driver = Driver(kiosk.app)
    assert driver.clipped_texts() == []  # the sign-in screen is clean
    layer = FloatLayout()
    label = Label(text="en alldeles för lång text för rutan", font_size=30,
                  size_hint=(None, None), size=(60, 20), pos=(10, 10))
    layer.add_widget(label)
    kiosk.app.root.add_widget(layer)
    try:
        kiosk.pump(lambda: label.texture_size[0] > 0)
        assert "en alldeles för lång text för rutan" in driver.clipped_texts()
    finally:
        kiosk.app.root.remove_widget(layer)


class _NoInput:
    def action(self, name: str, /) -> None:
        raise AssertionError(f"no input expected: {name}")

    def send(self, event: Event, /) -> None:
        raise AssertionError(f"no input expected: {event}")

    def touched(self) -> None:
        """Nothing to do."""
