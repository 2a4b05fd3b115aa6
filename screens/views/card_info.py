"""Card check: certificates, validity and status."""

from __future__ import annotations

from screens.views.base import KioskScreen, load_kv


class CardInfoScreen(KioskScreen):
    """The card's facts and certificates."""


load_kv(__file__)
SCREEN = CardInfoScreen
