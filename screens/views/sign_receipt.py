"""The holder signs the card's receipt with the new security code."""

from __future__ import annotations

from screens.views.base import load_kv
from screens.views.pin_entry import PinEntryScreen


class SignReceiptScreen(PinEntryScreen):
    """The holder signs the card's receipt with the new security code."""


load_kv(__file__)
SCREEN = SignReceiptScreen
