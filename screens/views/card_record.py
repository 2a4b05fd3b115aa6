"""The card's record from the portal, with the refusal reason if the card cannot be used."""

from __future__ import annotations

from screens.views.base import KioskScreen, load_kv


class CardRecordScreen(KioskScreen):
    """Holder, card number, status, deadlines; a refusal in the error panel."""


load_kv(__file__)
SCREEN = CardRecordScreen
