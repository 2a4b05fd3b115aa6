"""HOME: the signed-in administrator chooses a visit."""

from __future__ import annotations

from kiosk.visit.contract import View
from kiosk.visit.events import VISIT_ACTION_PREFIX
from screens.texts import action_label
from screens.views.base import KioskScreen, ScreenContext, load_kv
from screens.widgets.common import KioskButton, role_for

HOME_TWO_COLUMNS_UP_TO = 6  # visits; more go in three columns when their words fit


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
        self.fit_columns()

    def fit_columns(self, *_: object) -> None:
        """Three columns when there are more visits than two columns show and every
        label's longest word fits a third of the width (no word broken); else two."""
        grid = self.ids.visits
        buttons = list(grid.children)
        if not buttons or grid.width <= 100:  # not laid out yet: on_size calls again
            return
        padding = buttons[0].width - buttons[0].text_size[0]  # KioskButton's text inset
        third = (grid.width - 2 * grid.spacing[0]) / 3 - padding
        fits = all(_longest_word_px(b) <= third for b in buttons)
        grid.cols = 3 if len(buttons) > HOME_TWO_COLUMNS_UP_TO and fits else 2

    def on_kv_post(self, base_widget: object) -> None:
        """Columns follow the grid's width (panel size, larger text)."""
        super().on_kv_post(base_widget)
        self.ids.visits.bind(width=self.fit_columns)

    def action_buttons(self, view: View, finished: bool, lang: str) -> list[tuple[str, str, str]]:
        """The visits are the big buttons; the rest (sign out) in the action row."""
        others = [a for a in view.actions if a not in visit_actions(view)]
        return [(a, action_label(a, lang), role_for(a)) for a in others]


def _longest_word_px(button: KioskButton) -> float:
    """Width in px of the button's longest word in its own font."""
    from kivy.core.text import Label as CoreLabel

    widest = 0.0
    for word in button.text.split():
        label = CoreLabel(text=word, font_size=button.font_size, bold=button.bold)
        label.refresh()
        widest = max(widest, float(label.texture.size[0]))
    return widest


def visit_actions(view: View) -> list[str]:
    """The view's visit choices."""
    return [a for a in view.actions if a.startswith(VISIT_ACTION_PREFIX)]


load_kv(__file__)
SCREEN = HomeScreen
