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
from screens.scripts import Walk, choose, sign_in
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
        yield from choose(walk, "activation")
        yield driver.insert_card(anna.card_number)
        yield walk.wait(ViewName.CARD_RECORD)
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
