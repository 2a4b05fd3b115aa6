"""A drawing of a card going into a reader: what to do, without words."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.uix.widget import Widget

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class CardArt(Widget):
    """Card above a reader slot, with an arrow down."""
