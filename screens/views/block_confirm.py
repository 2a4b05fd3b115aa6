"""Confirm blocking a card: it cannot be undone."""

from __future__ import annotations

from screens.views.base import KioskScreen, load_kv


class BlockConfirmScreen(KioskScreen):
    """The card and the reason; a red confirm button."""

    fact_names = ("card_number", "holder_name", "hsa_id", "status", "reason")


load_kv(__file__)
SCREEN = BlockConfirmScreen
