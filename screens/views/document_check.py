"""The ID document check: live camera with a framing guide, what was read, each check's result."""

from __future__ import annotations

from typing import Any

from kiosk.rules.document import EYE_CHECKS
from kiosk.visit.contract import View, ViewName
from screens.texts import facts_of, has_key, tr
from screens.views.base import KioskScreen, ScreenContext, load_kv
from screens.widgets.common import CheckRow


def check_rows(view: View, lang: str) -> list[tuple[str, str, str]]:
    """(check name, result word, state) for each check the flow reports.

    An eye check not yet confirmed is shown as waiting on the confirm screen: that is
    the question the screen asks, not a failure. Why a check failed is in the error panel.
    """
    rows = []
    for check in view.mappings("checks"):
        name = str(check.get("name", ""))
        ok = check.get("ok")
        state = "pending" if ok is None else ("passed" if ok else "failed")
        word = f"ui.check.{state}"
        if state == "failed" and name in EYE_CHECKS and view.name is ViewName.DOCUMENT_CONFIRM:
            state, word = "pending", "ui.check.awaiting_eye_check"
        label_key = f"ui.check.name.{name}"
        label = tr(label_key, lang) if has_key(label_key, lang) else name
        rows.append((label, tr(word, lang), state))
    return rows


def render_document(screen: KioskScreen, view: View, ctx: ScreenContext) -> None:
    """What was read and each check's result, into ``read``/``checks`` of ``screen.ids``."""
    ids = screen.ids
    document = view.mapping("document")
    ids.read_heading.text = tr("ui.read.heading", ctx.lang) if document else ""
    ids.read.rows_data = facts_of(document, ctx.lang)
    rows = check_rows(view, ctx.lang)
    ids.checks_heading.text = tr("ui.check.heading", ctx.lang) if rows else ""
    box = ids.checks
    box.clear_widgets()
    for label, result, state in rows:
        box.add_widget(CheckRow(name=label, result=result, state=state))


class DocumentCheckScreen(KioskScreen):
    """Camera on the left; the facts read and the checks on the right."""

    def render_parts(self, view: View, ctx: ScreenContext, new_view: bool) -> None:
        """Preview source, guide text, read facts and check rows."""
        preview = self.ids.preview
        preview.guide_text = tr("ui.camera.guide", ctx.lang)
        preview.no_frame_text = tr("ui.camera.no_frame", ctx.lang)
        if preview.source is not ctx.frame_source:
            preview.source = ctx.frame_source
        if new_view:
            preview.start()
        render_document(self, view, ctx)

    def on_leave(self, *args: Any) -> None:
        """Stop the preview."""
        super().on_leave(*args)
        self.ids.preview.stop()


load_kv(__file__)
SCREEN = DocumentCheckScreen
