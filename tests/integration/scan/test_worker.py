"""The scanner's worker process: reads come out, and its death never ends the kiosk.

A real worker process (``python -m hardware.scan.worker``) reads real images; its crash is
a real signal (SIGSEGV is what a library bug looks like from outside, SIGSTOP a hang).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import cv2
import numpy as np
import pytest

from hardware.camera.sources import BUILTIN_SAMPLES
from hardware.scan.scan_session import ScanUpdate
from hardware.scan.synth import SAMPLE_FILES
from hardware.scan.worker import ScanWorker, WorkerCamera
from kiosk.errors import ScannerRestarted
from kiosk.i18n import describe_error
from kiosk.settings import CameraSettings, ScannerSettings

CAMERA = CameraSettings(stale_after_s=5.0)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


class Updates:
    """A listener that keeps what the worker reported."""

    def __init__(self) -> None:
        self.items: list[ScanUpdate] = []
        self.lock = threading.Lock()

    def __call__(self, update: ScanUpdate) -> None:
        with self.lock:
            self.items.append(update)

    def of(self, kind: str) -> list[ScanUpdate]:
        with self.lock:
            return [u for u in self.items if u.kind == kind]


@pytest.fixture
def worker() -> Iterator[ScanWorker]:
    scan_worker = ScanWorker(ScannerSettings(), hang_after_s=3.0)
    yield scan_worker
    scan_worker.close()


def blank_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "desk"
    folder.mkdir()
    cv2.imwrite(str(folder / "desk.png"), np.full((480, 640, 3), 90, np.uint8))
    return folder


def restarted(updates: Updates) -> list[ScannerRestarted]:
    return [u.error for u in updates.of("error") if isinstance(u.error, ScannerRestarted)]


def test_the_worker_reads_a_passport_and_sends_its_picture(
    worker: ScanWorker, tessdata: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "camera"
    folder.mkdir()
    (folder / SAMPLE_FILES[0]).symlink_to(BUILTIN_SAMPLES / SAMPLE_FILES[0])
    camera = WorkerCamera(f"folder:{folder}", CAMERA, fps=10)
    updates = Updates()
    worker.start_session(camera, updates)
    assert wait_for(lambda: bool(updates.of("evidence")), 60), updates.items
    evidence = updates.of("evidence")[0]
    assert evidence.evidence is not None and evidence.evidence.document_number == "11234567"
    snapshot = evidence.snapshot
    assert snapshot is not None and snapshot.width <= 900
    assert len(snapshot.data) == snapshot.width * snapshot.height * snapshot.channels
    frame = camera.latest()  # the preview through shared memory, without numpy
    assert frame is not None and frame.image.ndim == 3
    assert len(frame.image.tobytes()) == int(np.prod(frame.image.shape))
    worker.stop_session(camera)
    assert camera.latest() is None  # no longer served


def test_a_crashed_worker_is_reported_restarted_and_the_scan_goes_on(
    worker: ScanWorker, tmp_path: Path
) -> None:
    camera = WorkerCamera(f"folder:{blank_folder(tmp_path)}", CAMERA, fps=10)
    updates = Updates()
    worker.start_session(camera, updates)
    assert wait_for(lambda: camera.latest() is not None)
    first = worker.pid
    assert first is not None and first != os.getpid()
    os.kill(first, signal.SIGSEGV)  # what a segfault in OpenCV or Tesseract looks like
    assert wait_for(lambda: bool(restarted(updates)))
    error = restarted(updates)[0]
    assert error.code == "scanner_restarted" and error.data["exit_code"] == -signal.SIGSEGV
    for lang in ("sv", "en"):
        message, next_step = describe_error(error, lang)
        assert message and next_step and "scanner_restarted" not in message
    assert wait_for(lambda: worker.pid not in (None, first))
    before = camera.latest()
    index = before.index if before is not None else -1
    assert wait_for(lambda: (f := camera.latest()) is not None and f.index != index)
    assert worker.restarts == 1


def test_a_hung_worker_is_ended_and_replaced(worker: ScanWorker, tmp_path: Path) -> None:
    camera = WorkerCamera(f"folder:{blank_folder(tmp_path)}", CAMERA, fps=10)
    updates = Updates()
    worker.start_session(camera, updates)
    assert wait_for(lambda: worker.pid is not None and camera.latest() is not None)
    stuck = worker.pid
    assert stuck is not None
    os.kill(stuck, signal.SIGSTOP)  # no heartbeat, no reply: stuck in a library call
    try:
        assert wait_for(lambda: bool(restarted(updates)), 20)
        assert wait_for(lambda: worker.pid not in (None, stuck))
    finally:
        try:
            os.kill(stuck, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_worker_that_keeps_dying_is_left_alone_until_the_next_session(
    worker: ScanWorker, tmp_path: Path
) -> None:
    camera = WorkerCamera(f"folder:{blank_folder(tmp_path)}", CAMERA, fps=10)
    updates = Updates()
    worker.start_session(camera, updates)
    for count in range(1, 5):
        assert wait_for(lambda: worker.pid is not None)
        pid = worker.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda c=count: len(restarted(updates)) >= c)  # type: ignore[misc]
    last = restarted(updates)[-1]
    assert last.data["restarted"] is False and last.code == "scanner_stopped"
    time.sleep(0.5)
    assert worker.pid is None  # no fifth worker
    worker.start_session(camera, updates)  # the next document check tries again
    assert wait_for(lambda: worker.pid is not None)


def test_files_go_on_after_a_crash_and_a_bomb_never_reaches_the_decoder(
    worker: ScanWorker, tessdata: Path, tmp_path: Path
) -> None:
    from tests.integration.scan.test_cli_scan import _png_bomb

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_bomb())
    licence = str(BUILTIN_SAMPLES / SAMPLE_FILES[2])
    today = date.today()
    assert worker.scan_file(licence, today)["ok"] is True
    first = worker.pid
    refused = worker.scan_file(str(bomb), today)
    assert refused["reason"] == "too_large"
    assert worker.pid == first  # refused from its header: nothing was decoded
    assert first is not None
    os.kill(first, signal.SIGSEGV)
    time.sleep(0.3)
    again = worker.scan_file(licence, today)
    assert again["ok"] is True and again["barcodes"]
    assert worker.pid not in (None, first)


def test_the_ui_process_imports_no_scanner_library(tmp_path: Path) -> None:
    """ScanWorker and WorkerCamera load no OpenCV, numpy or Tesseract in the kiosk."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from hardware.scan.worker import ScanWorker, WorkerCamera\n"
        "from kiosk.settings import CameraSettings, ScannerSettings\n"
        "camera = WorkerCamera('folder:builtin', CameraSettings())\n"
        "worker = ScanWorker(ScannerSettings())\n"
        "worker.start_session(camera, lambda update: None)\n"
        "import time\n"
        "deadline = time.time() + 30\n"
        "while camera.latest() is None and time.time() < deadline:\n"
        "    time.sleep(0.05)\n"
        "assert camera.latest() is not None\n"
        "worker.close()\n"
        "loaded = sorted(m for m in ('cv2', 'numpy', 'tesserocr', 'zxingcpp', 'PIL')\n"
        "                if m in sys.modules)\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""




def test_a_holders_document_is_not_kept_in_the_preview_after_the_session(
    worker: ScanWorker, tmp_path: Path
) -> None:
    """The preview's shared memory (mapped into the UI process) keeps no picture of a
    holder's document once their session stopped or their worker died, and the next
    session's camera never shows it (here a camera that cannot start: no frame of its own)."""
    first = WorkerCamera(f"folder:{blank_folder(tmp_path)}", CAMERA, fps=10)
    worker.start_session(first, Updates())
    assert wait_for(lambda: first.latest() is not None)
    pid = worker.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # busy: the stop and the next session wait in its queue
    worker.stop_session(first)
    unplugged = WorkerCamera("v4l2:99", CAMERA, fps=10)  # no such camera in the worker
    worker.start_session(unplugged, Updates())
    stale = unplugged.latest()
    os.kill(pid, signal.SIGCONT)
    assert stale is None  # the block still holds the last session's frame: not shown
    seen = [unplugged.latest() for _ in range(20) if not time.sleep(0.05)]
    assert seen == [None] * 20  # never the last holder's document
    preview = worker._preview
    assert preview is not None
    assert wait_for(lambda: not any(preview[:]), 5)  # wiped, not only hidden
    worker.stop_session(unplugged)
    (tmp_path / "b").mkdir()
    second = WorkerCamera(f"folder:{blank_folder(tmp_path / 'b')}", CAMERA, fps=10)
    worker.start_session(second, Updates())
    assert wait_for(lambda: second.latest() is not None)
    pid = worker.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # the visit ends as its worker hangs and is killed:
    worker.stop_session(second)  # the worker never sees the stop, nor wipes the block
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: worker.pid is None)
    assert wait_for(lambda: not any(preview[:]), 5)


SHRINK_THE_PREVIEW = """
import os, sys, time
from pathlib import Path
from hardware.scan.worker import ScanWorker, WorkerCamera
from kiosk.settings import CameraSettings, ScannerSettings

worker = ScanWorker(ScannerSettings())
camera = WorkerCamera("folder:" + sys.argv[1], CameraSettings(stale_after_s=5.0), fps=10)
worker.start_session(camera, lambda update: None)
deadline = time.monotonic() + 30
while camera.latest() is None and time.monotonic() < deadline:
    time.sleep(0.05)
assert camera.latest() is not None, "no preview frame"
# what a worker taken over by a hostile image could do: shrink the block both map
try:
    os.truncate(f"/proc/{worker.pid}/fd/{worker._preview_fd}", 0)
    print("shrunk", flush=True)
except OSError as exc:
    print("refused", exc.errno, flush=True)
for _ in range(5):
    camera.latest()  # reads the mapping: past a shrunk file's end that is SIGBUS
    time.sleep(0.05)
worker.close()
print("alive", flush=True)
"""


def test_a_worker_cannot_shrink_the_preview_under_the_ui(tmp_path: Path) -> None:
    """The preview block is mapped into the UI process; a worker that shrank it (a decoder
    bug taken over by a hostile image: the reason the worker is a process of its own) made
    the UI's next preview read die of SIGBUS. The block is sealed against it now."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", SHRINK_THE_PREVIEW, str(blank_folder(tmp_path))],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr[-2000:])
    assert result.stdout.split()[0] == "refused" and "alive" in result.stdout
