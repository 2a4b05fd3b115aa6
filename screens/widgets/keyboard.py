"""The on-screen keyboards: numeric (card numbers, personnummer, dates) and Swedish letters.

The kiosk has no physical keyboard. Every text field is a ``KioskField``: tapping it
opens the keyboard its ``keyboard_kind`` names at the bottom of the window, with keys
as large as the panel allows (never under ``ui.min_target_mm``, at most the PIN pad's),
and the screen above moves up just enough that the field being typed stays in sight
above the keys. "Klar" (or a tap outside) closes it. Keys type through the field's own
``insert_text``/``do_backspace``, so each field's ``input_filter`` still applies.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.lang import Builder
from kivy.properties import (
    BooleanProperty,
    NumericProperty,
    ObjectProperty,
    OptionProperty,
    StringProperty,
)
from kivy.uix.behaviors import FocusBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.textinput import TextInput

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

# Word keys: (kind, units wide). Letter and digit keys are their own face, 1 unit wide.
BACK, DONE, SPACE, SHIFT, DIGITS, LETTERS, BLANK = (
    "back", "done", "space", "shift", "digits", "letters", "blank")
Row = list[tuple[str, float]]

ALPHA_ROWS: list[Row] = [
    [(c, 1) for c in "QWERTYUIOPÅ"],
    [(c, 1) for c in "ASDFGHJKLÖÄ"],
    [*((c, 1) for c in "ZXCVBNM-"), (BACK, 3)],
    [(DIGITS, 2), (SHIFT, 2), (SPACE, 4), (DONE, 3)],
]


def numeric_rows(extra: str, with_letters: bool) -> list[Row]:
    """Digits 1-9 and 0 like the PIN pad; the field's extra keys ("-", "+") on the right."""
    x1, x2 = ([*list(extra), BLANK, BLANK])[:2]
    return [
        [("1", 1), ("2", 1), ("3", 1), (BACK, 1)],
        [("4", 1), ("5", 1), ("6", 1), (x1, 1)],
        [("7", 1), ("8", 1), ("9", 1), (x2, 1)],
        [(LETTERS if with_letters else BLANK, 1), ("0", 1), (DONE, 2)],
    ]


class KioskField(TextInput):
    """A one-line text field typed on the on-screen keyboard."""

    keyboard_kind = OptionProperty("alpha", options=["alpha", "numeric"])
    extra_keys = StringProperty("")  # numeric keyboards: the other characters the field takes

    def on_focus(self, _instance: Any, focused: bool) -> None:
        """Open the keyboard for this field, or close it when the field lets go."""
        from kivy.app import App

        keyboard = getattr(App.get_running_app(), "keyboard", None)
        if keyboard is None:
            return
        if focused:
            keyboard.attach(self)
        else:
            keyboard.detach(self)


class KeyboardKey(Button):
    """One key: a character, or a word key (kind)."""

    kind = StringProperty("char")  # char or one of the word keys
    face = StringProperty("")
    units = NumericProperty(1)


class OnScreenKeyboard(BoxLayout):
    """The keyboard panel at the bottom of the window; one per app."""

    target = ObjectProperty(None, allownone=True)  # the KioskField being typed
    shown = BooleanProperty(False)
    key_w = NumericProperty(70)
    key_h = NumericProperty(70)
    gap = NumericProperty(4)
    mode = StringProperty("")  # alpha, numeric, or digits (the alpha field's 123 page)
    lower = BooleanProperty(False)
    texts: dict[str, str]
    on_shift: Callable[[float], None] | None = None  # moves the screen up by this many px

    def __init__(self, **kwargs: Any) -> None:
        self.texts = {}
        self._pool: list[KeyboardKey] = []
        self._rows: list[BoxLayout] = []
        super().__init__(**kwargs)
        self.bind(size=self._place, pos=self._place)

    # --- the field ---------------------------------------------------------------------

    def attach(self, field: KioskField) -> None:
        """Show the keyboard for ``field`` and keep the field in sight."""
        self.target = field
        self.lower = False
        self.mode = field.keyboard_kind
        self.shown = True
        self._build()
        from screens.widgets.common import scroll_into_view

        scroll_into_view(field)  # whole inside its screen's scrolling part first
        self._place()

    def detach(self, field: KioskField | None = None) -> None:
        """Hide the keyboard (if it is ``field``'s, or whatever it types when None)."""
        if field is not None and field is not self.target:
            return
        if self.target is not None and field is None:
            self.target.focus = False  # comes back here through on_focus
            return
        self.target = None
        self.shown = False
        self._place()

    # --- keys --------------------------------------------------------------------------

    def rows(self) -> list[Row]:
        """The key rows of the current page."""
        field = self.target
        if self.mode == "alpha":
            return ALPHA_ROWS
        extra = field.extra_keys if field is not None and self.mode == "numeric" else "-"
        return numeric_rows(extra, with_letters=self.mode == "digits")

    def keys(self) -> dict[str, KeyboardKey]:
        """The keys on display by face (a character, or a word key's kind)."""
        found: dict[str, KeyboardKey] = {}
        for row in self._rows:
            for key in row.children:
                if key.kind != BLANK:
                    found[key.face if key.kind == "char" else key.kind] = key
        return found

    def set_texts(self, texts: dict[str, str]) -> None:
        """Word keys' labels in the current language."""
        self.texts = texts
        if self.shown:
            self._build()

    def _build(self) -> None:
        rows = self.rows()
        while len(self._rows) < len(rows):
            self._rows.append(BoxLayout(size_hint=(None, None)))
        self.clear_widgets()
        for box in self._rows:
            box.clear_widgets()  # every key is free before any row takes one
        pool = iter(self._pool)
        made: list[KeyboardKey] = []
        for box, row in zip(self._rows, rows, strict=False):
            for face, units in row:
                key = next(pool, None)
                if key is None:
                    key = KeyboardKey()
                    key.bind(on_press=self._pressed)
                    self._pool.append(key)
                made.append(key)
                word = face in (BACK, DONE, SPACE, SHIFT, DIGITS, LETTERS, BLANK)
                key.kind = face if word else "char"
                key.face = face
                key.units = units
                key.disabled = face == BLANK
                key.opacity = 0 if face == BLANK else 1
                key.text = self.texts.get(face, "") if word else (
                    face.lower() if self.lower and face.isalpha() else face)
                box.add_widget(key)
            self.add_widget(box)
        self._size_keys()

    def _size_keys(self) -> None:
        from kivy.app import App

        app = App.get_running_app()
        width = self.width or 800
        clip = self.parent.height if self.parent is not None else 480
        rows = self.rows()
        cols = max(sum(units for _, units in row) for row in rows)
        gap = self.gap
        pad = self.padding[0] if self.padding else 0
        touch, key_px = getattr(app, "touch_px", 60), getattr(app, "key_px", 80)
        # as large as the PIN pad's keys, but the field and a touch target's room stay above
        room_h = (clip - 2 * touch - (len(rows) + 1) * gap) / len(rows)
        self.key_h = max(touch, min(key_px, room_h))
        room_w = (width - 2 * pad - (cols - 1) * gap) / cols
        self.key_w = max(touch, min(key_px * (1.0 if self.mode == "alpha" else 1.3), room_w))
        for box, row in zip(self._rows, rows, strict=False):
            box.spacing = gap
            box.height = self.key_h
            units_total = sum(units for _, units in row)
            box.width = units_total * self.key_w + (units_total - 1) * gap
            box.pos_hint = {"center_x": 0.5}
            for key in box.children:
                key.size_hint = (None, None)
                key.height = self.key_h
                key.width = key.units * self.key_w + (key.units - 1) * gap
        self.height = len(rows) * self.key_h + (len(rows) - 1) * gap + 2 * pad

    def _pressed(self, key: KeyboardKey) -> None:
        field = self.target
        if field is None:
            return
        kind = key.kind
        if kind == "char":
            field.insert_text(key.text)
        elif kind == SPACE:
            field.insert_text(" ")
        elif kind == BACK:
            field.do_backspace()
        elif kind == DONE:
            self.detach()
        elif kind == SHIFT:
            self.lower = not self.lower
            self._build()
        elif kind in (DIGITS, LETTERS):
            self.mode = "digits" if kind == DIGITS else "alpha"
            self._build()
            self._place()

    def on_touch_down(self, touch: Any) -> bool:
        """A tap on the keyboard never closes it (nor takes the field's focus away)."""
        if self.shown and self.collide_point(*touch.pos):
            FocusBehavior.ignored_touch.append(touch)
            super().on_touch_down(touch)
            return True
        return False

    # --- where it sits -----------------------------------------------------------------

    def _place(self, *_args: Any) -> None:
        """Bottom of the window; the screen moves up so the field is above the keys."""
        if not self.shown or self.target is None:
            self.opacity = 0
            self.disabled = True
            self.y = -10_000  # out of the way of touches and the layout checks
            if self.on_shift is not None:
                self.on_shift(0)
            return
        self._size_keys()
        self.opacity = 1
        self.disabled = False
        parent = self.parent
        base_y = parent.y if parent is not None else 0
        self.y = base_y
        if self.on_shift is not None:
            self.on_shift(self.shift_for(self.target))

    def shift_for(self, field: KioskField) -> float:
        """How far the screen must move up for ``field`` to sit just above the keys."""
        parent = self.parent
        if parent is None:
            return 0.0
        screens = next((c for c in parent.children if c is not self), None)
        # the shift the layout shows now (a new one is laid out on the next frame)
        applied = (screens.y - parent.y) if screens is not None else 0.0
        _, field_y = field.to_window(field.x, field.y)
        unshifted = field_y - applied
        top = parent.y + parent.height
        want = self.y + self.height + self.gap * 2 - unshifted
        most = top - (unshifted + field.height) - self.gap  # the field's top stays in sight
        return max(0.0, min(want, most))
