"""The administrator confirms by eye that photo and age match the person.

Beside what was read, the screen shows the document as the camera saw it when the reading
was accepted (its photo area) and the MRZ cut out of it, so the eye check compares the
person with the picture and the printed zone with the fields read, like with like.
"""

from __future__ import annotations

from typing import Any

from hardware.scan.worker import RawImage
from kiosk.visit.contract import View
from screens.views.base import KioskScreen, ScreenContext, load_kv
from screens.views.document_check import render_document
from screens.widgets.camera_preview import texture_of


class DocumentConfirmScreen(KioskScreen):
    """What was read and the checks so far; the confirm button is the administrator's."""

    def render_parts(self, view: View, ctx: ScreenContext, new_view: bool) -> None:
        """The document facts and check rows, and the captured document if it was scanned."""
        render_document(self, view, ctx)
        snapshot = ctx.extras.get("document_snapshot")
        document = view.mapping("document")
        scanned = "scanned" in str(document.get("how", ""))
        show_picture(self.ids.document_picture, snapshot if scanned else None)
        box = getattr(snapshot, "mrz_box", None) if scanned else None
        show_picture(self.ids.mrz_picture, crop(snapshot, box) if box else None)

    def on_leave(self, *args: Any) -> None:
        """The holder's document leaves the screen with it (its pictures are ~2 MB of
        textures; the next showing renders them again from the visit's snapshot), and so
        does the screen's hold on the snapshot: kept in its last context, the picture of
        one holder's document stayed in memory through the next visits (~1.3 MB)."""
        super().on_leave(*args)
        show_picture(self.ids.document_picture, None)
        show_picture(self.ids.mrz_picture, None)
        if self.ctx is not None:
            self.ctx.extras.pop("document_snapshot", None)


def crop(snapshot: Any, box: tuple[int, int, int, int]) -> RawImage | None:
    """The ``(x, y, w, h)`` part of a snapshot (hardware.scan.scan_session.Snapshot), with a
    margin so that the zone's first and last characters are whole."""
    x, y, w, h = box
    x, y, w, h = x - w // 25, y - h // 6, w + 2 * (w // 25), h + 2 * (h // 6)
    x, y = max(0, x), max(0, y)
    w, h = min(w, snapshot.width - x), min(h, snapshot.height - y)
    if w <= 0 or h <= 0:
        return None
    stride, step = snapshot.width * snapshot.channels, snapshot.channels
    rows = (snapshot.data[(y + r) * stride + x * step:(y + r) * stride + (x + w) * step]
            for r in range(h))
    return RawImage(w, h, snapshot.channels, b"".join(rows))


def show_picture(widget: Any, picture: Any) -> None:
    """Show a snapshot (or crop) in an Image widget, or hide the widget when there is none."""
    if picture is not None and not hasattr(picture, "tobytes"):
        picture = RawImage(picture.width, picture.height, picture.channels, picture.data)
    widget.texture = texture_of(picture, None) if picture is not None else None
    widget.opacity = 1 if picture is not None else 0
    widget.height = widget.shown_height if picture is not None else 0


load_kv(__file__)
SCREEN = DocumentConfirmScreen
