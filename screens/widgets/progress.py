"""An indeterminate progress ring: something is happening on a worker."""

from __future__ import annotations

from pathlib import Path

from kivy.animation import Animation
from kivy.lang import Builder
from kivy.properties import NumericProperty
from kivy.uix.widget import Widget

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class ProgressRing(Widget):
    """A turning arc; ``start``/``stop`` when its screen is shown or left."""

    angle = NumericProperty(0)
    _animation: Animation | None = None

    def start(self) -> None:
        """Turn."""
        self.stop()
        self.angle = 0
        self._animation = Animation(angle=360, duration=1.2)
        self._animation.repeat = True
        self._animation.start(self)

    def stop(self) -> None:
        """Stop turning."""
        if self._animation is not None:
            self._animation.cancel(self)
            self._animation = None
