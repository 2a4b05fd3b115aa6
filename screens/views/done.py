"""The outcome of the visit and what happens next."""

from __future__ import annotations

from screens.views.base import KioskScreen, load_kv


class DoneScreen(KioskScreen):
    """Card status and next steps."""


load_kv(__file__)
SCREEN = DoneScreen
