"""The scanner's worker dies during a document check: the kiosk lives and says so."""

from __future__ import annotations

import os
import signal
from datetime import date
from typing import Any

import pytest

from kiosk.demo_cast import demo_holder
from kiosk.i18n import translate
from kiosk.visit.contract import ViewName
from screens.scripts import Walk, sign_in, to_card_record
from tests.ui.conftest import Harness

pytestmark = pytest.mark.ui


def test_a_crashed_scanner_is_restarted_and_reported_on_the_document_screen(
    kiosk: Harness,
) -> None:
    app = kiosk.app
    anna = demo_holder("anna", date.today())
    scan = app.scan
    worker = app.services.scanner
    killed: list[int] = []
    shown: list[str] = []

    def script(driver: Any) -> Any:
        walk = Walk(driver, app.effect_gate, None)
        yield from sign_in(walk, shots=False)
        yield from to_card_record(walk, "activation", anna)
        scan.hold = True  # what the scan reports waits until the crash is staged
        yield walk.act("continue")
        yield walk.wait(ViewName.DOCUMENT_CHECK)
        yield driver.until(lambda: worker.pid is not None and worker._session is not None)
        pid = worker.pid
        killed.append(pid)
        os.kill(pid, signal.SIGSEGV)  # a library bug in the worker
        yield driver.until(lambda: any(u.kind == "error" for u in scan.held))
        scan.held[:] = [u for u in scan.held if u.kind == "error"]  # the crash, nothing read
        scan.release()
        yield walk.wait(ViewName.DOCUMENT_CHECK,
                        lambda v: v.error is not None and v.error.code == "scanner_restarted")
        yield driver.frames(2)
        shown.extend(kiosk.texts())
        # the new worker resumes the scan and reads the passport: the visit goes on
        yield walk.wait(ViewName.DOCUMENT_CONFIRM)

    kiosk.run(script, timeout_s=90)
    assert worker.pid not in (None, killed[0])  # a new worker, and this process lives
    assert worker.restarts >= 1
    assert translate("error.scanner_restarted", app.lang) in " ".join(shown)


def test_no_camera_picture_is_said_inside_the_preview_on_the_small_panel(kiosk: Harness) -> None:
    """No frame from the camera: "Ingen kamerabild" in the middle of the black preview. On
    the 7" panel's layout (preview above the facts) the text stayed at the preview's
    parent's origin, white on the facts' light background below it: unseen."""
    app = kiosk.app
    bertil = demo_holder("bertil", date.today())
    seen: dict[str, Any] = {}

    def script(driver: Any) -> Any:
        walk = Walk(driver, app.effect_gate, None)
        yield from sign_in(walk, shots=False)
        yield from to_card_record(walk, "activation", bertil)
        app.scan.hold = True  # the demo camera's document is not read meanwhile
        yield walk.act("continue")
        yield walk.wait(ViewName.DOCUMENT_CHECK)
        preview = driver.screen().ids.preview
        compact = app.compact
        app.compact = True  # the 7" panel's layout: the preview above the facts
        try:
            preview.stop()  # no frame (a camera unplugged, or none yet)
            yield driver.frames(3)
            label = next(w for w in preview.children if w.text == preview.no_frame_text)
            seen["text"] = label.text
            seen["preview"] = (*preview.to_window(*preview.pos), *preview.size)
            seen["label"] = (*label.to_window(*label.pos), *label.size)
            seen["bar"] = next(w for w in preview.children if w.text == preview.guide_text).height
        finally:
            app.compact = compact
            preview.start()
        app.scan.release()
        yield walk.act("cancel")
        yield driver.remove_card()

    kiosk.run(script)
    assert seen["text"] == translate("ui.camera.no_frame", "sv")
    px, py, pw, ph = seen["preview"]
    lx, ly, lw, lh = seen["label"]
    assert py > 1  # the layout under test: the preview is not at its parent's origin
    bar = seen["bar"]  # the guide's bar at the preview's foot
    assert (round(lx), round(ly), round(lw), round(lh)) == (round(px), round(py + bar),
                                                            round(pw), round(ph - bar))
