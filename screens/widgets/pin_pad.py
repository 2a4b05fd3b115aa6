"""The holder's PIN pad, like a card terminal: large keys, dots only, red Avbryt, yellow
Rätta, green OK (enabled at the PIN's full length), optional shuffled layout and key click.

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

from screens.widgets.common import take_into

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

DIGITS = "1234567890"
PadHandler = Callable[[str, str], None]  # (kind: digit/back/clear/submit/cancel, digit or "")
FULL_SHOWN_S = 2.5  # how long "the code has 6 digits" stays after a 7th digit


def key_layout(shuffled: bool) -> list[str]:
    """Twelve key faces, row by row: ten digits, back bottom right, bottom left empty."""
    digits = list(DIGITS)
    if shuffled:
        secrets.SystemRandom().shuffle(digits)
    return [*digits[:9], "blank", digits[9], "back"]


class KeyClick:
    """A short click per key (``ui.key_click``); silent where no audio output exists."""

    def __init__(self) -> None:
        self._sound: Any = None
        self._loaded = False

    def play(self) -> None:
        """Click (the sound loads on first use)."""
        if not self._loaded:
            self._loaded = True
            try:
                from kivy.core.audio import SoundLoader

                self._sound = SoundLoader.load(str(Path(__file__).with_name("key_click.wav")))
            except Exception:  # no audio provider on this machine: keys stay silent
                self._sound = None
        if self._sound is not None:
            self._sound.stop()
            self._sound.play()


class PinDots(Widget):
    """``typed`` filled dots out of ``total``: the only trace of the PIN on screen."""

    typed = NumericProperty(0)
    total = NumericProperty(6)
    shake = NumericProperty(0.0)  # sideways offset while the dots shake (a 7th digit)

    def __init__(self, **kwargs: object) -> None:
        self._dots: list[tuple[Any, Any, Any, Any]] = []  # (fill colour, dot, ring colour, ring)
        super().__init__(**kwargs)
        self.bind(typed=self._draw, total=self._draw, pos=self._draw, size=self._draw,
                  shake=self._draw)
        from kivy.app import App

        app = App.get_running_app()
        if app is not None and hasattr(app, "C"):
            app.bind(C=self._draw)  # the PIN screens live as long as the app: no leak

    def _draw(self, *_args: object) -> None:
        from kivy.app import App
        from kivy.graphics import Color, Ellipse, Line

        from screens.theme import COLOURS

        app = App.get_running_app()
        colours = getattr(app, "C", COLOURS)
        count = max(int(self.total), int(self.typed))
        dots = self._dots
        while len(dots) < count:  # instructions are made once and then only moved
            with self.canvas:
                dots.append((Color(), Ellipse(), Color(), Line(width=2)))
        d = min(self.height * 0.7, self.width / (max(count, 1) * 1.8))
        gap = d * 0.8
        x0 = self.center_x + self.shake - (count * d + (count - 1) * gap) / 2
        y = self.center_y - d / 2
        for i, (fill_colour, fill, ring_colour, ring) in enumerate(dots):
            shown = i < count
            filled = shown and i < self.typed
            fill_colour.rgba = (*colours["dot"][:3], 1.0 if filled else 0.0)
            ring_colour.rgba = (*colours["dot_empty"][:3], 1.0 if shown and not filled else 0.0)
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


def pad_width(key_px: float, s: float) -> float:
    """The pad's width: four key columns and three gaps (the kv rules size its place by it)."""
    return key_px * 4 + s * 12 * 3


_SHARED: list[PinPad] = []


def shared_pad() -> PinPad:
    """The one PIN pad every PIN screen shows (issue 16): one screen is on display at a
    time, and each pad held ~3.7 MB (its keys, canvases and bindings) in the UI process.
    Each screen takes it into its own place when it renders (``PinPad.move_to``)."""
    if not _SHARED:
        _SHARED.append(PinPad())
    return _SHARED[0]


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
    cancel_text = StringProperty("")
    correct_text = StringProperty("")
    full_text = StringProperty("")  # why a 7th digit did nothing
    full = BooleanProperty(False)  # a digit was typed past the PIN's length just now
    can_cancel = BooleanProperty(True)
    key_click = BooleanProperty(False)
    handler = ObjectProperty(None, allownone=True)
    overflows = NumericProperty(0)  # digits refused because the entry was full (for tests)

    def __init__(self, **kwargs: Any) -> None:
        self._click = KeyClick()
        self._full_event: Any = None
        super().__init__(**kwargs)

    width_for = staticmethod(pad_width)  # for its kv rule (the kv file cannot import this module)

    def move_to(self, place: Widget) -> None:
        """Into ``place`` (the screen about to show it), as a fresh pad: shown, enabled,
        no refused 7th digit still on display from the screen it came from."""
        if not take_into(self, place):
            return
        self.opacity, self.disabled = 1, False
        if self.full:
            from kivy.animation import Animation

            Animation.cancel_all(self.ids.dots, "shake")
            self.ids.dots.shake = 0
            self._hide_full()

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
            for word in ("submit", "cancel", "correct"):
                self.ids[word].bind(on_press=self._pressed)
        keys = list(reversed(grid.children))
        for key, face in zip(keys, key_layout(shuffled), strict=True):
            if face in ("clear", "back", "blank"):
                key.kind, key.digit = face, ""
            else:
                key.kind, key.digit, key.text = "digit", face, face
            key.disabled = face == "blank"
            key.opacity = 0 if face == "blank" else 1
        self.on_clear_text()

    def on_clear_text(self, *_args: object) -> None:
        """Keep the word keys' labels in the current language."""
        for key in self.ids.keypad.children:
            if key.kind == "clear":
                key.text = self.clear_text
            elif key.kind == "back":
                key.text = self.back_text
            elif key.kind == "blank":
                key.text = ""

    on_back_text = on_clear_text

    def digit_keys(self) -> dict[str, PinKey]:
        """The digit keys by face (for tests and the tour)."""
        return {k.digit: k for k in self.ids.keypad.children if k.kind == "digit"}

    def key(self, kind: str) -> PinKey:
        """The back, clear (Rätta), cancel (Avbryt) or submit (OK) key."""
        if kind in ("submit", "cancel"):
            return self.ids[kind]
        if kind == "clear":
            return self.ids.correct
        return next(k for k in self.ids.keypad.children if k.kind == kind)

    def _pressed(self, key: PinKey) -> None:
        if self.key_click:
            self._click.play()
        if key.kind == "digit" and self.typed >= self.total:
            self._show_full()  # a terminal ignores a 7th digit, visibly
            return
        if key.kind != "digit":
            self._hide_full()
        if self.handler is not None:
            self.handler(key.kind, key.digit)

    def _show_full(self) -> None:
        from kivy.animation import Animation
        from kivy.clock import Clock

        self.overflows += 1
        self.full = True
        dots = self.ids.dots
        Animation.cancel_all(dots, "shake")
        dots.shake = 0
        step = dots.height * 0.25
        wobble = (Animation(shake=step, duration=0.05) + Animation(shake=-step, duration=0.1)
                  + Animation(shake=step, duration=0.1) + Animation(shake=0, duration=0.05))
        wobble.start(dots)
        if self._full_event is not None:
            self._full_event.cancel()
        self._full_event = Clock.schedule_once(lambda _dt: self._hide_full(), FULL_SHOWN_S)

    def _hide_full(self) -> None:
        self.full = False
        if self._full_event is not None:
            self._full_event.cancel()
            self._full_event = None

    def on_typed(self, *_args: object) -> None:
        """A new count from the flow: a refused 7th digit is old news once it changes."""
        if self.typed < self.total:
            self._hide_full()
