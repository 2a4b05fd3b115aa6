"""The holder chooses a new security code on the PIN pad."""

from __future__ import annotations

from screens.views.base import load_kv
from screens.views.pin_entry import PinEntryScreen


class PinChooseScreen(PinEntryScreen):
    """The holder chooses a new security code on the PIN pad."""


load_kv(__file__)
SCREEN = PinChooseScreen
