"""The outcome of the visit and what happens next."""

from __future__ import annotations

from kivy.properties import BooleanProperty
from kivy.uix.widget import Widget

from kiosk.visit.contract import View
from screens.texts import facts, tr
from screens.views.base import KioskScreen, ScreenContext, load_kv

# Deadlines of an unfinished activation: over once the visit ended without an error.
DEADLINE_PARAMS = frozenset({"deadline", "activation_deadline", "completion_deadline"})


class SuccessMark(Widget):
    """A green circle with a white tick, drawn (no image): the visit did what it was for."""


class DoneScreen(KioskScreen):
    """The outcome: a success mark and the card's new status, or the failure as it is;
    "Ta ut kortet" while the card is in the reader."""

    success = BooleanProperty(False)

    def render_parts(self, view: View, ctx: ScreenContext, new_view: bool) -> None:
        """A visit that ended well lists no completion deadline any more."""
        if view.error is None:
            shown = tuple(name for name in view.params if name not in DEADLINE_PARAMS)
            self.ids.facts.rows_data = facts(view, ctx.lang, shown)
        status = view.params.get("card_status")
        # only the outcome the visit is for gets the mark: failures keep their own look
        key = status if isinstance(status, str) and view.error is None else None
        self.success = key is not None
        self.ids.status.text = tr(key, ctx.lang)
        take_card = view.params.get("take_card") is True
        self.ids.take_card.text = tr("ui.done.take_card", ctx.lang) if take_card else ""


load_kv(__file__)
SCREEN = DoneScreen
