"""The holder types the current security code (PIN change)."""

from __future__ import annotations

from screens.views.base import load_kv
from screens.views.pin_entry import PinEntryScreen


class PinCurrentScreen(PinEntryScreen):
    """The holder types the current security code (PIN change)."""


load_kv(__file__)
SCREEN = PinCurrentScreen
