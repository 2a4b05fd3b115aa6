"""The demo panel: the operator's hand that inserts and removes simulated cards."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.i18n import DEFAULT_LANGUAGE
from screens.texts import has_key, tr
from screens.widgets.common import KioskButton

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class DemoCardButton(KioskButton):
    """A simulated card to insert."""

    card_number = StringProperty("")


class DemoPanel(BoxLayout):
    """Clearly marked DEMO column: one button per simulated card, and one to remove it."""

    title = StringProperty("")
    hint = StringProperty("")
    remove_text = StringProperty("")
    insert_handler = ObjectProperty(None, allownone=True)  # Callable[[str], None]
    remove_handler = ObjectProperty(None, allownone=True)  # Callable[[], None]

    def set_cards(self, cards: Sequence[tuple[str, str]]) -> None:
        """(card number, label) for each simulated card."""
        cards = [(number, self._readable(number, label)) for number, label in cards]
        box = self.ids.cards
        current = [(b.card_number, b.text) for b in reversed(box.children)]
        if current == list(cards):
            return  # unchanged: keep the laid-out buttons
        box.clear_widgets()
        for number, label in cards:
            button = DemoCardButton(text=label, role="secondary", card_number=number)
            button.bind(on_release=self._insert)
            box.add_widget(button)

    @staticmethod
    def _readable(number: str, label: str) -> str:
        """A translated name for a card the cast knows only by its key (the foreign card)."""
        lang = getattr(App.get_running_app(), "lang", DEFAULT_LANGUAGE)
        key = f"ui.demo.card.{number}"
        return tr(key, lang) if label == number and has_key(key, lang) else label

    def card_buttons(self) -> dict[str, DemoCardButton]:
        """The card buttons by card number (for tests and the tour)."""
        return {b.card_number: b for b in self.ids.cards.children}

    def _insert(self, button: DemoCardButton) -> None:
        handler: Callable[[str], None] | None = self.insert_handler
        if handler is not None:
            handler(button.card_number)

    def remove(self) -> None:
        """Take the card out."""
        handler: Callable[[], None] | None = self.remove_handler
        if handler is not None:
            handler()
