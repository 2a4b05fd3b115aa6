"""Why is the card blocked? One large button per reason the flow offers."""

from __future__ import annotations

from kiosk.visit.contract import View
from kiosk.visit.events import BlockReasonChosen
from screens.texts import action_label
from screens.views.base import KioskScreen, ScreenContext, load_kv
from screens.widgets.common import KioskButton


class BlockReasonScreen(KioskScreen):
    """The reasons in a grid of large buttons; cancel in the action row."""

    # the card and its holder; the confirm screen lists the rest (the reasons need the room)
    fact_names: tuple[str, ...] = ("card_number", "holder_name")

    def render_parts(self, view: View, ctx: ScreenContext, new_view: bool) -> None:
        """A button per reason."""
        grid = self.ids.reasons
        grid.clear_widgets()
        for reason in view.texts("reasons"):
            button = KioskButton(text=action_label(reason, ctx.lang), action=reason)
            button.bind(on_release=lambda b: self.choose(b.action))
            grid.add_widget(button)

    def action_buttons(self, view: View, finished: bool, lang: str) -> list[tuple[str, str, str]]:
        """The flow's actions other than the reasons."""
        reasons = view.texts("reasons")
        return [a for a in super().action_buttons(view, finished, lang) if a[0] not in reasons]

    def choose(self, reason: str) -> None:
        """A reason: the flow gets ``block_reason``."""
        if self.ctx is not None:
            self.ctx.input.touched()
        self.send(BlockReasonChosen(reason))


load_kv(__file__)
SCREEN = BlockReasonScreen
