"""The operations banner: results that must reach the portal before their deadline."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.uix.label import Label

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class OpsBanner(Label):
    """A red strip under the top bar; collapsed while its text is empty."""
