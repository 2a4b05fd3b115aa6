"""Progress while the kiosk talks to the card or the portal; cancel only if the flow offers it."""

from __future__ import annotations

from typing import Any

from kiosk.visit.contract import View
from screens.views.base import KioskScreen, ScreenContext, load_kv


class WorkingScreen(KioskScreen):
    """A turning ring and what is being done."""

    def render_parts(self, view: View, ctx: ScreenContext, new_view: bool) -> None:
        """Start the ring."""
        self.ids.ring.start()

    def on_leave(self, *args: Any) -> None:
        """Stop the ring."""
        super().on_leave(*args)
        self.ids.ring.stop()


load_kv(__file__)
SCREEN = WorkingScreen
