"""An error: what happened and the next step, translated from the error table."""

from __future__ import annotations

from screens.views.base import KioskScreen, load_kv


class ErrorScreen(KioskScreen):
    """The error panel fills the screen; the flow's actions (retry, cancel, home) below."""


load_kv(__file__)
SCREEN = ErrorScreen
