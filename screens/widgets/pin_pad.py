"""The holder's PIN pad: large keys, dots only, clear and back, optional shuffled layout.

The pad keeps no digits: each tap goes to the flow as an event and the flow answers
with how many digits it holds (View.pin_length), which the dots show. Nothing here can
reveal the PIN, and there is nothing to wipe.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.widget import Widget

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

DIGITS = "1234567890"
PadHandler = Callable[[str, str], None]  # (key kind: digit/back/clear/submit, digit or "")


def key_layout(shuffled: bool) -> list[str]:
    """Twelve key faces, row by row: ten digits, with clear and back in the bottom corners."""
    digits = list(DIGITS)
    if shuffled:
        secrets.SystemRandom().shuffle(digits)
    return [*digits[:9], "clear", digits[9], "back"]


class PinDots(Widget):
    """``typed`` filled dots out of ``total``: the only trace of the PIN on screen."""

    typed = NumericProperty(0)
    total = NumericProperty(6)

    def __init__(self, **kwargs: object) -> None:
        self._dots: list[tuple[Any, Any, Any, Any]] = []  # (fill colour, dot, ring colour, ring)
        super().__init__(**kwargs)
        self.bind(typed=self._draw, total=self._draw, pos=self._draw, size=self._draw)

    def _draw(self, *_args: object) -> None:
        from kivy.graphics import Color, Ellipse, Line

        from screens.theme import COLOURS

        count = max(int(self.total), int(self.typed))
        dots = self._dots
        while len(dots) < count:  # instructions are made once and then only moved
            with self.canvas:
                dots.append((Color(*COLOURS["dot"]), Ellipse(), Color(*COLOURS["dot_empty"]),
                             Line(width=2)))
        d = min(self.height * 0.7, self.width / (max(count, 1) * 1.8))
        gap = d * 0.8
        x0 = self.center_x - (count * d + (count - 1) * gap) / 2
        y = self.center_y - d / 2
        for i, (fill_colour, fill, ring_colour, ring) in enumerate(dots):
            shown = i < count
            filled = shown and i < self.typed
            fill_colour.a = 1.0 if filled else 0.0
            ring_colour.a = 1.0 if shown and not filled else 0.0
            x = x0 + i * (d + gap)
            fill.pos, fill.size = (x, y), (d, d)
            ring.ellipse = (x, y, d, d)


class PinKey(Button):
    """One key of the pad."""

    kind = StringProperty("digit")
    digit = StringProperty("")


class ReaderKeypadArt(Widget):
    """A card reader with its own keypad, drawn; its display lights while it asks."""

    lit = BooleanProperty(False)


class PinPad(BoxLayout):
    """Digits as dots, twelve large keys, or a note to use the reader's own keypad."""

    typed = NumericProperty(0)
    total = NumericProperty(6)
    use_reader_pad = BooleanProperty(False)
    waiting = BooleanProperty(False)  # the reader's pad is asking now
    reader_text = StringProperty("")
    waiting_text = StringProperty("")
    progress_text = StringProperty("")
    clear_text = StringProperty("")
    back_text = StringProperty("")
    submit_text = StringProperty("")
    handler = ObjectProperty(None, allownone=True)

    def layout_keys(self, shuffled: bool) -> None:
        """Lay the faces out (again): a new shuffle for each new PIN entry.

        The twelve keys are made once and only get new faces: widgets made per entry
        would each leave bindings behind on the app's properties.
        """
        grid = self.ids.keypad
        if not grid.children:
            for _ in range(12):
                key = PinKey()
                key.bind(on_press=self._pressed)
                grid.add_widget(key)
            self.ids.submit.bind(on_press=self._pressed)
        keys = list(reversed(grid.children))
        for key, face in zip(keys, key_layout(shuffled), strict=True):
            if face in ("clear", "back"):
                key.kind, key.digit = face, ""
            else:
                key.kind, key.digit, key.text = "digit", face, face
        self.on_clear_text()

    def on_clear_text(self, *_args: object) -> None:
        """Keep the word keys' labels in the current language."""
        for key in self.ids.keypad.children:
            if key.kind == "clear":
                key.text = self.clear_text
            elif key.kind == "back":
                key.text = self.back_text

    on_back_text = on_clear_text

    def digit_keys(self) -> dict[str, PinKey]:
        """The digit keys by face (for tests and the tour)."""
        return {k.digit: k for k in self.ids.keypad.children if k.kind == "digit"}

    def key(self, kind: str) -> PinKey:
        """The clear, back or submit key."""
        if kind == "submit":
            return self.ids.submit
        return next(k for k in self.ids.keypad.children if k.kind == kind)

    def _pressed(self, key: PinKey) -> None:
        if self.handler is not None:
            self.handler(key.kind, key.digit)
