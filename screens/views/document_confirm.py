"""The administrator confirms by eye that photo and age match the person."""

from __future__ import annotations

from screens.views.base import KioskScreen, load_kv


class DocumentConfirmScreen(KioskScreen):
    """What was read, and buttons to confirm photo and age."""


load_kv(__file__)
SCREEN = DocumentConfirmScreen
