"""HOME: the signed-in administrator chooses a visit."""

from __future__ import annotations

from kiosk.visit.contract import View
from kiosk.visit.events import VISIT_ACTION_PREFIX
from screens.texts import action_label
from screens.views.base import KioskScreen, ScreenContext, load_kv
from screens.widgets.common import KioskButton, role_for


class HomeScreen(KioskScreen):
    """One large button per visit; signing out is in the top bar."""

    def render_parts(self, view: View, ctx: ScreenContext, new_view: bool) -> None:
        """Visit buttons from the view's actions."""
        grid = self.ids.visits
        labels = [(a, action_label(a, ctx.lang)) for a in visit_actions(view)]
        if labels == [(b.action, b.text) for b in reversed(grid.children)]:
            return  # the same buttons: keep them
        grid.clear_widgets()
        for action in visit_actions(view):
            button = KioskButton(text=action_label(action, ctx.lang),
                                 role="danger" if action == "visit:block" else "primary")
            button.action = action
            button.bind(on_release=lambda b: self.on_action(b.action))
            grid.add_widget(button)

    def action_buttons(self, view: View, finished: bool, lang: str) -> list[tuple[str, str, str]]:
        """The visits are the big buttons; the rest (sign out) in the action row."""
        others = [a for a in view.actions if a not in visit_actions(view)]
        return [(a, action_label(a, lang), role_for(a)) for a in others]


def visit_actions(view: View) -> list[str]:
    """The view's visit choices."""
    return [a for a in view.actions if a.startswith(VISIT_ACTION_PREFIX)]


load_kv(__file__)
SCREEN = HomeScreen
