"""The ID administrator signs in: own card in the reader, then own PIN on the pad."""

from __future__ import annotations

from kivy.properties import BooleanProperty

from kiosk.visit.contract import View
from screens.views.base import ScreenContext, load_kv
from screens.views.pin_entry import PinEntryScreen, compact_panel


def wants_pin(view: View) -> bool:
    """Whether the sign-in flow is at the PIN step (it says so, or digits are typed)."""
    return view.params.get("stage") == "pin" or view.pin_length > 0


class AdminSignInScreen(PinEntryScreen):
    """Insert your card; then type your PIN (dots only)."""

    side_shown = BooleanProperty(True)  # the pad or the card picture; else the text is wide

    def render_parts(self, view: View, ctx: ScreenContext, new_view: bool) -> None:
        """The pad only once the flow asks for the PIN."""
        super().render_parts(view, ctx, new_view)
        show = wants_pin(view)
        self.ids.pad.opacity = 1 if show else 0
        self.ids.pad.disabled = not show
        # the insert-card picture only while a card is wanted (not at a failed authorisation)
        # and on the 7" panel not beside an error: its next step needs the width
        wants_card = view.params.get("stage") == "insert" and not (
            view.error is not None and compact_panel())
        self.ids.card_art.opacity = 1 if wants_card and not show else 0
        self.ids.privacy.opacity = 1 if show else 0
        self.side_shown = show or wants_card

    def pad_shown(self, view: View) -> bool:
        """The keys only at the PIN step."""
        return wants_pin(view)


load_kv(__file__)
SCREEN = AdminSignInScreen
