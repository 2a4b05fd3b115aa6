"""The base of every screen: render a View through translation, forward input to the session."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from kiosk.visit.contract import View
from screens.shell import Shown
from screens.texts import action_label, error_texts, facts, tr
from screens.widgets.common import ScreenBody, role_for, shared_header, take_into

if TYPE_CHECKING:
    from kiosk.visit.events import Event


class Input(Protocol):
    """Where a screen sends what the user did (the desk session)."""

    def action(self, name: str, /) -> None:
        """A button of the view's actions."""
        ...

    def send(self, event: Event, /) -> None:
        """Any other input (PIN key, form) as its event."""
        ...

    def touched(self) -> None:
        """The user is active."""
        ...


@dataclass
class ScreenContext:
    """What screens may use besides the view: language, input, devices to preview."""

    lang: str
    input: Input
    shuffle_pin_pad: bool = False
    pin_length: int = 6
    frame_source: Any = None
    extras: dict[str, Any] = field(default_factory=dict)


def load_kv(module_file: str) -> None:
    """Load the .kv file beside a screen module."""
    Builder.load_file(str(Path(module_file).with_suffix(".kv")))


class KioskScreen(Screen):
    """Renders title, message, error, facts and actions; subclasses add their own parts."""

    view_name = StringProperty("")
    fact_names: tuple[str, ...] | None = None  # which params to list; None lists all labelled
    shown: Shown | None = None
    ctx: ScreenContext | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if "header_place" in self.ids:  # one header for every screen, in each one's place
            self.ids["header"] = shared_header()

    def render(self, shown: Shown, ctx: ScreenContext) -> None:
        """Show ``shown`` in ``ctx.lang``."""
        new_view = self.shown is None or self.shown.view is not shown.view
        self.shown, self.ctx = shown, ctx
        view, lang = shown.view, ctx.lang
        ids = self.ids
        if "header" in ids:
            take_into(ids.header, ids.header_place)
            title = tr(view.title, lang, **view.params)
            if "step" in view.params:  # "Steg n av m" on every visit screen (issue 12.3)
                # "Steg 4 av 6" wraps as one piece (no-break spaces), never "Steg 4" / "av 6"
                step = tr("ui.step", lang, **view.params).replace(" ", "\u00a0")
                title = f"{title} · {step}"
            ids.header.title = title
            ids.header.message = tr(view.message, lang, **view.params)
        if "error" in ids:
            message, next_step = error_texts(view.error, lang)
            ids.error.message = message
            ids.error.next_step = next_step
            ids.error.next_heading = tr("ui.error.next_step", lang)
        if "facts" in ids:
            ids.facts.rows_data = facts(view, lang, self.fact_names)
        if "actions" in ids:
            ids.actions.handler = self.on_action
            ids.actions.set_actions(self.action_buttons(view, shown.finished, lang))
        self.render_parts(view, ctx, new_view)

    def render_parts(self, view: View, ctx: ScreenContext, new_view: bool) -> None:
        """Screen-specific rendering (subclasses)."""

    def action_buttons(self, view: View, finished: bool, lang: str) -> list[tuple[str, str, str]]:
        """(action, label, role) for each button."""
        actions = list(view.actions)
        return [(a, action_label(a, lang), role_for(a)) for a in actions]

    def on_action(self, name: str) -> None:
        """A button was tapped."""
        if self.ctx is not None:
            self.ctx.input.action(name)

    def send(self, event: Event) -> None:
        """Forward input to the session."""
        if self.ctx is not None:
            self.ctx.input.send(event)

    def texts(self) -> list[str]:
        """Every text on this screen now (for tests): labels and buttons, top to bottom."""
        found: list[str] = []
        for widget in self.walk(restrict=True):
            text = getattr(widget, "text", None)
            if isinstance(text, str) and text and widget.opacity > 0:
                found.append(text)
        return found

    def on_leave(self, *_args: Any) -> None:
        """Forget the rendered view when leaving (no stale data on a shown-again screen),
        scroll back to the top (the next visit's record starts at its card number, not
        where the last one was left), and let go of the labels' pixels."""
        self.shown = None
        for body in self.walk(restrict=True):
            if isinstance(body, ScreenBody):
                body.to_top()
        self.let_go()

    def let_go(self) -> None:
        """Drop the labels' textures while off display: when it leaves, and again after
        its labels were rendered off display (a larger-text toggle changes every font)."""
        self._released = tuple(dict.fromkeys((*self._released, *release_label_textures(self))))

    def on_enter(self, *_args: Any) -> None:
        """Back on display: the labels let go when it left are drawn again."""
        redraw_label_textures(self._released)
        self._released = ()

    _released: tuple[Label, ...] = ()  # the labels let go when the screen left


def release_label_textures(root: Widget) -> tuple[Label, ...]:
    """Drop the textures of the labels under ``root`` (a screen off display); the labels
    dropped. Each text's pixels are held by the renderer, in this process with a software
    renderer: ~0.7 MB a screen, 7 MB over a visit's screens (issue 16). The labels keep
    their ``texture_size``, so nothing moves when they are drawn again."""
    released = []
    for widget in root.walk(restrict=True):
        if isinstance(widget, Label) and widget.texture is not None:
            widget._label.texture = None  # the core label would reuse it
            widget.texture = None
            released.append(widget)
    return tuple(released)


def redraw_label_textures(labels: tuple[Label, ...]) -> None:
    """Render the labels' texts into new textures (the first frame after this shows them;
    a text changed meanwhile is rendered as changed)."""
    for label in labels:
        if label.texture is None:
            label.texture_update()
load_kv(__file__)
