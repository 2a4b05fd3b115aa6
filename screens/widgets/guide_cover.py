"""What covers the screens' area while the screen changes hands, or shows help.

A ``GuideCover`` lies over the screens' area only: the top bar (language, larger text)
and the demo panel (the simulated reader) stay usable under it. The screen below is
hidden while it is up, so nothing of it can be read or tapped. ``GuideLayer`` puts it up
and takes it down; the App decides when (screens/handover.py, the top bar's help).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.lang import Builder
from kivy.properties import ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class GuideCover(BoxLayout):
    """A title, a short text and one button, over the screens' area; it takes every touch."""

    kind = StringProperty("")  # "holder" / "admin" (a hand-over) or "help"
    title = StringProperty("")
    message = StringProperty("")
    go_text = StringProperty("")
    on_go = ObjectProperty(None, allownone=True)

    def on_touch_down(self, touch: Any) -> bool:
        """Touches on the cover never reach the hidden screen below."""
        if not self.collide_point(*touch.pos):
            return False
        super().on_touch_down(touch)
        return True

    def on_touch_move(self, touch: Any) -> bool:
        """See on_touch_down."""
        return bool(self.collide_point(*touch.pos) and (super().on_touch_move(touch) or True))

    def on_touch_up(self, touch: Any) -> bool:
        """See on_touch_down."""
        return bool(self.collide_point(*touch.pos) and (super().on_touch_up(touch) or True))

    def go(self) -> None:
        """The button: the receiver takes over, or help is closed."""
        if self.on_go is not None:
            self.on_go()


class GuideLayer:
    """Puts one GuideCover over ``area`` (the screens' stage) inside ``parent``."""

    def __init__(self, parent: Widget, area: Widget) -> None:
        self.parent = parent
        self.area = area
        self.cover = GuideCover()
        self.hidden: Widget | None = None  # the screen the cover hides
        area.bind(pos=self._follow, size=self._follow)

    @property
    def up(self) -> bool:
        """Whether the cover is on display."""
        return self.cover.parent is not None

    def show(self, kind: str, texts: tuple[str, str, str], screen: Widget | None,
             on_go: Callable[[], None]) -> None:
        """Cover ``screen`` with ``texts`` (title, message, button); ``on_go`` on its tap."""
        cover = self.cover
        cover.kind = kind
        cover.title, cover.message, cover.go_text = texts
        cover.on_go = on_go
        self._hide(screen)
        if cover.parent is None:
            self.parent.add_widget(cover)  # last: drawn over the stage, touched first
        self._follow()

    def take_down(self) -> None:
        """No cover: the screen below shows again."""
        if self.cover.parent is not None:
            self.cover.parent.remove_widget(self.cover)
        self._hide(None)

    def _hide(self, screen: Widget | None) -> None:
        if self.hidden is not None and self.hidden is not screen:
            self.hidden.opacity = 1
        self.hidden = screen
        if screen is not None:
            screen.opacity = 0

    def _follow(self, *_args: Any) -> None:
        self.cover.size_hint = (None, None)
        self.cover.pos, self.cover.size = self.area.pos, self.area.size
