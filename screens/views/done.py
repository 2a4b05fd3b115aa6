"""The outcome of the visit and what happens next."""

from __future__ import annotations

from kiosk.visit.contract import View
from screens.texts import facts
from screens.views.base import KioskScreen, ScreenContext, load_kv

# Deadlines of an unfinished activation: over once the visit ended without an error.
DEADLINE_PARAMS = frozenset({"deadline", "activation_deadline", "completion_deadline"})


class DoneScreen(KioskScreen):
    """Card status and next steps."""

    def render_parts(self, view: View, ctx: ScreenContext, new_view: bool) -> None:
        """A visit that ended well lists no completion deadline any more."""
        if view.error is None:
            shown = tuple(name for name in view.params if name not in DEADLINE_PARAMS)
            self.ids.facts.rows_data = facts(view, ctx.lang, shown)


load_kv(__file__)
SCREEN = DoneScreen
