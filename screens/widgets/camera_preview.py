"""Live camera preview with a framing guide for the ID document.

Frames come from a FrameSource (its own capture thread); the preview polls
``latest()`` on the UI thread at a modest rate and only uploads a texture, so the
UI never waits for the camera.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.graphics.texture import Texture
from kivy.lang import Builder
from kivy.properties import ListProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.floatlayout import FloatLayout

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

ID1_ASPECT = 85.6 / 53.98  # ID-1 card (national ID, driving licence); TD3 passport page ~1.42
PREVIEW_FPS = 12


class CameraPreview(FloatLayout):
    """The newest camera frame, shaded outside a document-shaped guide."""

    source = ObjectProperty(None, allownone=True)  # a kiosk.ports.FrameSource
    texture = ObjectProperty(None, allownone=True)
    guide_text = StringProperty("")
    no_frame_text = StringProperty("")
    guide_aspect = NumericProperty(ID1_ASPECT)
    frames_shown = NumericProperty(0)
    guide = ListProperty([0, 0, 0, 0])  # the guide's x, y, w, h in window coordinates
    _last_index = -1

    def on_size(self, *_args: object) -> None:
        """Keep the guide centred."""
        self.guide = list(self.guide_rect())

    on_pos = on_size
    on_guide_aspect = on_size

    def start(self) -> None:
        """Start polling the source (on entering the screen)."""
        Clock.unschedule(self.refresh)
        Clock.schedule_interval(self.refresh, 1 / PREVIEW_FPS)
        self.refresh()

    def stop(self) -> None:
        """Stop polling (on leaving the screen); the texture is dropped."""
        Clock.unschedule(self.refresh)
        self.texture = None
        self._last_index = -1

    def refresh(self, *_args: object) -> None:
        """Show the newest frame if it is new."""
        source = self.source
        if source is None:
            return
        frame = source.latest()
        if frame is None or frame.index == self._last_index:
            return
        self._last_index = frame.index
        self.texture = texture_of(frame.image, self.texture)
        self.frames_shown += 1

    def guide_rect(self) -> tuple[float, float, float, float]:
        """The guide's (x, y, w, h) within the preview."""
        w = self.width * 0.78
        h = w / self.guide_aspect
        if h > self.height * 0.82:
            h = self.height * 0.82
            w = h * self.guide_aspect
        return (self.center_x - w / 2, self.center_y - h / 2, w, h)


def texture_of(image: Any, reuse: Texture | None) -> Texture:
    """Upload a BGR (or grey) numpy image to a texture, reusing it when the size matches."""
    height, width = image.shape[:2]
    fmt = "bgr" if image.ndim == 3 else "luminance"
    texture = reuse
    if texture is None or texture.size != (width, height) or texture.colorfmt != fmt:
        texture = Texture.create(size=(width, height), colorfmt=fmt)
        texture.flip_vertical()
    texture.blit_buffer(image.tobytes(), colorfmt=fmt, bufferfmt="ubyte")
    return texture
