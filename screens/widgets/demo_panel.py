"""The demo panel: the operator's hand that inserts and removes simulated cards.

With a simulated PIN-pad reader, the panel also stands in for the reader's own keypad:
while the reader asks for a PIN, its keys replace the card buttons. The digits typed
there stay in this widget (they are the simulated device's) until OK hands them over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.i18n import DEFAULT_LANGUAGE
from screens.texts import has_key, tr
from screens.widgets.common import KioskButton

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class DemoCardButton(KioskButton):
    """A simulated card to insert."""

    card_number = StringProperty("")


class DemoReaderKey(KioskButton):
    """One key of the simulated reader's own keypad."""


READER_KEY_ROLES = {"C": "danger", "OK": "primary"}
MAX_READER_DIGITS = 12  # a reader's display holds more than a PIN: length is its to judge


class DemoPanel(BoxLayout):
    """Clearly marked DEMO column: one button per simulated card, and one to remove it."""

    title = StringProperty("")
    hint = StringProperty("")
    remove_text = StringProperty("")
    insert_handler = ObjectProperty(None, allownone=True)  # Callable[[str], None]
    remove_handler = ObjectProperty(None, allownone=True)  # Callable[[], None]
    # two-reader demo: take the administrator's card out of its own reader ("" = hidden)
    remove_admin_text = StringProperty("")
    remove_admin_handler = ObjectProperty(None, allownone=True)  # Callable[[], None]
    pad_prompt = StringProperty("")  # what the simulated reader asks; empty: not asking
    pad_hint = StringProperty("")
    pad_cancel_text = StringProperty("")
    pad_typed = NumericProperty(0)
    pad_handler = ObjectProperty(None, allownone=True)  # Callable[[str | None], None]
    _pad_digits = ""

    def ask_on_reader(self, prompt: str) -> None:
        """Show the reader's keypad with ``prompt`` ("" hides it and forgets the digits)."""
        self._pad_digits = ""
        self.pad_typed = 0
        self.pad_prompt = prompt
        grid = self.ids.reader_keys
        if prompt and not grid.children:
            for face in ("1", "2", "3", "4", "5", "6", "7", "8", "9", "C", "0", "OK"):
                key = DemoReaderKey(text=face, role=READER_KEY_ROLES.get(face, "secondary"))
                key.bind(on_release=self._reader_key)
                grid.add_widget(key)

    def reader_keys(self) -> dict[str, DemoReaderKey]:
        """The simulated reader's keys by face (for tests and the tour)."""
        return {k.text: k for k in self.ids.reader_keys.children}

    def _reader_key(self, key: DemoReaderKey) -> None:
        face = key.text
        if face == "C":
            self._pad_digits = ""
        elif face == "OK":
            digits, self._pad_digits = self._pad_digits, ""
            self._hand_over(digits)
        elif len(self._pad_digits) < MAX_READER_DIGITS:
            self._pad_digits += face
        self.pad_typed = len(self._pad_digits)

    def cancel_on_reader(self) -> None:
        """The reader's own cancel key."""
        self._pad_digits = ""
        self.pad_typed = 0
        self._hand_over(None)

    def _hand_over(self, digits: str | None) -> None:
        handler: Callable[[str | None], None] | None = self.pad_handler
        if handler is not None:
            handler(digits)

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

    def remove_admin(self) -> None:
        """Take the administrator's card out of its reader (two-reader demo)."""
        handler: Callable[[], None] | None = self.remove_admin_handler
        if handler is not None:
            handler()

    def remove(self) -> None:
        """Take the card out."""
        handler: Callable[[], None] | None = self.remove_handler
        if handler is not None:
            handler()
