"""The idle warning: a countdown over the screen before the visit ends."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import ObjectProperty, StringProperty
from kivy.uix.modalview import ModalView

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class IdleWarning(ModalView):
    """"Are you still there?" with seconds left and a button to stay."""

    title = StringProperty("")
    message = StringProperty("")
    stay_text = StringProperty("")
    stay_handler = ObjectProperty(None, allownone=True)

    def stay(self) -> None:
        """Keep the visit going."""
        self.dismiss()
        if self.stay_handler is not None:
            self.stay_handler()
