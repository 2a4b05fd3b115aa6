"""The administrator confirms by eye that photo and age match the person."""

from __future__ import annotations

from kiosk.visit.base import View
from screens.views.base import KioskScreen, ScreenContext, load_kv
from screens.views.document_check import render_document


class DocumentConfirmScreen(KioskScreen):
    """What was read and the checks so far; the confirm button is the administrator's."""

    def render_parts(self, view: View, ctx: ScreenContext, new_view: bool) -> None:
        """The document facts and check rows."""
        render_document(self, view, ctx)


load_kv(__file__)
SCREEN = DocumentConfirmScreen
