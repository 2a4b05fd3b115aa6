"""One of the flow's choices (an organisation; replace or remove): the reasons screen's
grid of large buttons, each sending ``Chosen`` with its choice."""

from __future__ import annotations

from kiosk.visit.contract import View
from kiosk.visit.events import Chosen
from screens.texts import action_label
from screens.views.base import ScreenContext
from screens.views.block_reason import BlockReasonScreen
from screens.widgets.common import KioskButton


class ChooseScreen(BlockReasonScreen):
    """The choices in a grid of large buttons (block_reason.kv's layout); cancel below."""

    # few facts: the choice buttons need the room (the 7" panel above all)
    # (the card's record was accepted two steps before)
    fact_names: tuple[str, ...] = (
        "holder_name", "additional_organisation", "additional_not_after",
    )

    def render_parts(self, view: View, ctx: ScreenContext, new_view: bool) -> None:
        """A button per choice."""
        grid = self.ids.reasons
        grid.clear_widgets()
        for choice in view.texts("choices"):
            button = KioskButton(text=action_label(choice, ctx.lang), action=choice)
            button.bind(on_release=lambda b: self.choose(b.action))
            grid.add_widget(button)

    def action_buttons(self, view: View, finished: bool, lang: str) -> list[tuple[str, str, str]]:
        """The flow's actions other than the choices."""
        choices = view.texts("choices")
        return [
            a for a in super(BlockReasonScreen, self).action_buttons(view, finished, lang)
            if a[0] not in choices
        ]

    def choose(self, choice: str) -> None:
        """A choice: the flow gets ``chosen``."""
        if self.ctx is not None:
            self.ctx.input.touched()
        self.send(Chosen(choice))


SCREEN = ChooseScreen
