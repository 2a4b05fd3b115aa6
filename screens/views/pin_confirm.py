"""The holder types the new security code again."""

from __future__ import annotations

from screens.views.base import load_kv
from screens.views.pin_entry import PinEntryScreen


class PinConfirmScreen(PinEntryScreen):
    """The holder types the new security code again."""


load_kv(__file__)
SCREEN = PinConfirmScreen
