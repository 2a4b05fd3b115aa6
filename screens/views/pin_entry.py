"""What every PIN screen shares: the pad, dots from the flow, the reader's own keypad."""

from __future__ import annotations

from typing import Any

from kivy.uix.label import Label

from kiosk.visit.contract import View
from kiosk.visit.events import Event, PinBack, PinClear, PinDigit, PinSubmit
from screens.texts import tr
from screens.views.base import KioskScreen, ScreenContext, load_kv, redraw_label_textures
from screens.widgets.pin_pad import shared_pad

# The events a PIN pad sends to the flow: one per key, never the PIN itself in one piece.
PAD_EVENTS: dict[str, type[Event]] = {
    "back": PinBack, "clear": PinClear, "submit": PinSubmit,
}
PAD_CANCEL = "cancel"  # the pad's red Avbryt: the flow's own cancel action
# The pad's label by the view's ``pin_role`` (kiosk.ports.PinRole): the signature PIN
# (underskriftskod) is not called säkerhetskod.
PAD_LABELS = {"signature": "ui.pin.length.signature"}


def compact_panel() -> bool:
    """The small panel (``KioskApp.compact``: the window under 600 px high)."""
    from kivy.app import App

    return bool(getattr(App.get_running_app(), "compact", False))


class PinEntryScreen(KioskScreen):
    """A screen with the PIN pad (``ids.pad``); the flow counts the digits."""

    _laid_out = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ids["pad"] = shared_pad()  # one pad for every PIN screen, in each one's place

    def render_parts(self, view: View, ctx: ScreenContext, new_view: bool) -> None:
        """Dots, pad texts, and a fresh (maybe shuffled) layout on entering."""
        pad = self.ids.pad
        pad.move_to(self.ids.pad_place)
        # its keys' textures went when the screen it was on last left the display
        redraw_label_textures(tuple(w for w in pad.walk(restrict=True) if isinstance(w, Label)))
        lang = ctx.lang
        total = view.number("pin_total", ctx.pin_length)
        pad.total = total
        pad.typed = view.pin_length
        pad.clear_text = tr("ui.pin.clear", lang)
        pad.back_text = tr("ui.pin.back", lang)
        pad.submit_text = tr("ui.pin.ok", lang)
        pad.cancel_text = tr("ui.pin.cancel", lang)
        pad.correct_text = tr("ui.pin.correct", lang)
        pad.full_text = tr("ui.pin.full", lang, total=total)
        pad.can_cancel = PAD_CANCEL in view.actions
        pad.key_click = bool(ctx.extras.get("key_click"))
        pad.reader_text = tr("ui.pin.reader_pad", lang)
        pad.waiting_text = tr("ui.pin.reader_waiting", lang)
        # the dots count, not words; which code it is (the signature PIN has its own name)
        pad.progress_text = tr(PAD_LABELS.get(str(view.params.get("pin_role")), "ui.pin.length"),
                               lang, total=total)
        # The reader's own pad takes the PIN: the screen shows where to type, never keys.
        pad.use_reader_pad = bool(view.params.get("pin_pad"))
        pad.waiting = bool(view.params.get("waiting"))
        pad.handler = self.on_pad
        if "privacy" in self.ids:
            private = "ui.pin.private_reader" if pad.use_reader_pad else "ui.pin.private"
            self.ids.privacy.text = tr(private, lang)
        if view.error is not None and compact_panel() and "header" in self.ids:
            # the 7" panel's narrow column: the error's next step says what to do instead,
            # and shows without scrolling (the instruction pushed it below the fold); so
            # do the privacy note and the deadline, which come back with the next screen
            # (with larger text they pushed the next step under the scroll cue)
            self.ids.header.message = ""
            if "privacy" in self.ids:
                self.ids.privacy.text = ""
            if "facts" in self.ids:
                self.ids.facts.rows_data = []
        if not self._laid_out:
            pad.layout_keys(shuffled=ctx.shuffle_pin_pad)
            self._laid_out = True

    def action_buttons(self, view: View, finished: bool, lang: str) -> list[tuple[str, str, str]]:
        """The flow's actions, but cancel is the pad's red Avbryt while the pad is shown."""
        buttons = super().action_buttons(view, finished, lang)
        if view.params.get("pin_pad") or not self.pad_shown(view):
            return buttons
        return [b for b in buttons if b[0] != PAD_CANCEL]

    def pad_shown(self, view: View) -> bool:
        """Whether the screen's keys are on display (the sign-in screen shows them later)."""
        return True

    def on_pad(self, kind: str, digit: str) -> None:
        """A key: the flow gets the digit (or back/clear) and answers with the dot count."""
        if kind == PAD_CANCEL:
            self.on_action(PAD_CANCEL)
            return
        self.send(PinDigit(digit) if kind == "digit" else PAD_EVENTS[kind]())

    def on_leave(self, *args: Any) -> None:
        """A new layout next time."""
        super().on_leave(*args)
        self._laid_out = False


load_kv(__file__)
