"""The holder reads the receipt (what they accept), then signs it with the new security code.

The words are ``kiosk.visit.result.receipt_text`` of the view's ``receipt`` fields: the
very function that wrote them into the bytes the holder signs, so the two cannot drift.
"""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty
from kivy.uix.anchorlayout import AnchorLayout

from kiosk.visit.contract import View
from kiosk.visit.result import receipt_text
from screens.texts import tr
from screens.views.base import KioskScreen, ScreenContext, load_kv
from screens.views.pin_entry import PAD_CANCEL, PinEntryScreen
from screens.widgets.common import role_for

ACCEPT = "accept_receipt"  # the screen's own button: from reading to the pad (no flow event)


def grouped(number: str, size: int = 4) -> str:
    """A long number in groups of ``size`` digits ("9752 2100 0000 0001"), as on a card."""
    return " ".join(number[i:i + size] for i in range(0, len(number), size))


class PadHolder(AnchorLayout):
    """Where the pad sits: while the receipt is read it takes no room, is not drawn and
    takes no touch (a disabled widget would swallow the touches it overlaps)."""

    hidden = BooleanProperty(False)

    def on_touch_down(self, touch: Any) -> bool:
        """No touch while hidden."""
        return False if self.hidden else bool(super().on_touch_down(touch))

    def on_touch_move(self, touch: Any) -> bool:
        """See on_touch_down."""
        return False if self.hidden else bool(super().on_touch_move(touch))

    def on_touch_up(self, touch: Any) -> bool:
        """See on_touch_down."""
        return False if self.hidden else bool(super().on_touch_up(touch))


class SignReceiptScreen(PinEntryScreen):
    """First the receipt in words with "I accept – sign", then the pad (or the reader's)."""

    reading = BooleanProperty(True)

    def render(self, shown: Any, ctx: ScreenContext) -> None:
        """An error (a wrong PIN) comes back to the pad: the receipt was read already."""
        if shown.view.error is not None:
            self.reading = False
        super().render(shown, ctx)

    def render_parts(self, view: View, ctx: ScreenContext, new_view: bool) -> None:
        """The pad's parts, and the receipt: whole while reading, one line by the pad."""
        super().render_parts(view, ctx, new_view)
        lang, ids = ctx.lang, self.ids
        fields = {k: v for k, v in view.mapping("receipt").items() if isinstance(v, str)}
        if self.reading:
            ids.header.message = tr("ui.receipt.read", lang)
            ids.receipt_heading.text = tr("ui.receipt.heading", lang)
            ids.receipt.text = receipt_text(fields, lang) if fields else ""
            ids.signing_for.text = ""
            ids.privacy.text = ""
            ids.facts.rows_data = []
        else:
            ids.receipt_heading.text = ""
            ids.receipt.text = ""
            # in groups of four: 16 digits in one piece are wider than the column beside
            # the pad on the 7" panel with larger text (Kivy would cut the number anywhere)
            ids.signing_for.text = tr("ui.receipt.signing_for", lang,
                                      card_number=grouped(fields.get("card_number", "")))

    def action_buttons(self, view: View, finished: bool, lang: str) -> list[tuple[str, str, str]]:
        """While reading: cancel, and accept (primary, right); then the pad's own keys."""
        if not self.reading:
            return super().action_buttons(view, finished, lang)
        buttons = KioskScreen.action_buttons(self, view, finished, lang)
        cancel = [b for b in buttons if b[0] == PAD_CANCEL]
        return [*cancel, (ACCEPT, tr("ui.receipt.accept", lang), role_for(ACCEPT))]

    def on_action(self, name: str) -> None:
        """"I accept – sign" shows the pad; every other button goes to the flow."""
        if name == ACCEPT:
            self.reading = False
            if self.shown is not None and self.ctx is not None:
                self.render(self.shown, self.ctx)
            return
        super().on_action(name)

    def on_leave(self, *args: Any) -> None:
        """The next receipt is read first again."""
        super().on_leave(*args)
        self.reading = True


load_kv(__file__)
SCREEN = SignReceiptScreen
