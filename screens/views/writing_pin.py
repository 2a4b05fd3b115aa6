"""The PIN is being written: "do not remove the card", never cancellable from here."""

from __future__ import annotations

from typing import Any

from kiosk.visit.contract import View
from screens.texts import tr
from screens.views.base import KioskScreen, ScreenContext, load_kv


class WritingPinScreen(KioskScreen):
    """A large warning and a turning ring."""

    def render_parts(self, view: View, ctx: ScreenContext, new_view: bool) -> None:
        """The warning in the current language; the ring turns."""
        warning = tr("ui.writing.do_not_remove", ctx.lang)
        self.ids.warning.text = warning
        message = " ".join(self.ids.header.message.replace(warning, "").split())
        self.ids.header.message = message or tr("ui.writing.message", ctx.lang)
        self.ids.ring.start()

    def on_leave(self, *args: Any) -> None:
        """Stop the ring."""
        super().on_leave(*args)
        self.ids.ring.stop()


load_kv(__file__)
SCREEN = WritingPinScreen
