"""Insert the card: a picture of the card going into the reader; type the number if asked."""

from __future__ import annotations

from kiosk.visit.contract import View
from kiosk.visit.events import CardNumberTyped
from screens.texts import tr
from screens.views.base import KioskScreen, ScreenContext, load_kv


class InsertCardScreen(KioskScreen):
    """Waits for the reader; the card number field appears when the flow needs it."""

    def render_parts(self, view: View, ctx: ScreenContext, new_view: bool) -> None:
        """The number field when the flow needs the number or lets it be typed (block)."""
        need = bool(view.params.get("need_card_number") or view.params.get("can_type_number"))
        entry = self.ids.number_entry
        entry.opacity = 1 if need else 0
        entry.disabled = not need
        entry.height = entry.minimum_height if need else 0
        self.ids.number_label.text = tr("ui.field.card_number", ctx.lang)
        self.ids.number_submit.text = tr("visit.action.continue", ctx.lang)
        self.ids.card_art.opacity = 0 if view.params.get("need_card_number") else 1
        if new_view:
            self.ids.number.text = ""

    def submit_number(self) -> None:
        """Send the typed card number to the flow (it checks it)."""
        self.send(CardNumberTyped(self.ids.number.text))


load_kv(__file__)
SCREEN = InsertCardScreen
