"""The scanner in its own process: frames in, reads out; a crash there never ends the kiosk.

The worker (``python -m hardware.scan.worker``, started by ``ScanWorker``) owns the camera
source, OpenCV, zxing-cpp and Tesseract; the kiosk's UI process imports none of them. It
runs the live ``ScanSession`` on the camera frames and sends the ``ScanUpdate``s back over
a socket pair (multiprocessing's Connection: pickled messages); the newest camera frame,
made small for the preview, goes through a shared memory block (a memfd) so the preview
costs no pickling. ``kioskctl scan`` sends it image files, one at a time.

When the worker dies (a segfault in a library, an OpenCV error, memory exhausted, the
kernel's OOM killer, a hang past ``HANG_AFTER_S``), ``ScanWorker`` reports
``ScannerRestarted`` to the running session's listener, starts a fresh worker and resumes
the session; a file being scanned is reported as failed and the batch goes on. A worker
that keeps dying (``MAX_RESTARTS`` within ``RESTART_WINDOW_S``) is not restarted again
until the next session asks for it.

The worker's address space is limited (``MEMORY_LIMIT_MB``), so a runaway allocation ends
the worker with MemoryError instead of swapping the machine.
"""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from multiprocessing.connection import Connection
from typing import Any

from hardware.scan.scan_session import ScanUpdate, Snapshot
from kiosk.errors import (
    CameraUnavailable,
    KioskError,
    ScanError,
    ScannerRestarted,
    ScannerStopped,
)
from kiosk.ports import Frame
from kiosk.settings import CameraSettings, ScannerSettings

log = logging.getLogger(__name__)

PREVIEW_MAX = (960, 720)  # the preview frame is made to fit this (width, height)
PREVIEW_FPS = 15.0
SNAPSHOT_MAX_WIDTH = 900  # the frame kept for the confirm screen
# sequence (odd while writing), the session it belongs to, frame index, w, h, channels
_HEADER = struct.Struct("<QQQIII")
PREVIEW_BYTES = _HEADER.size + PREVIEW_MAX[0] * PREVIEW_MAX[1] * 3
HEARTBEAT_S = 1.0
HANG_AFTER_S = 20.0  # no message at all for this long while busy: the worker is stuck
FILE_TIMEOUT_S = 120.0
START_TIMEOUT_S = 60.0
MAX_RESTARTS = 3
RESTART_WINDOW_S = 60.0
MEMORY_LIMIT_MB = 3072


@dataclass(frozen=True)
class RawImage:
    """A frame's pixels without numpy: what the preview texture needs (shape, tobytes)."""

    width: int
    height: int
    channels: int
    data: bytes

    @property
    def shape(self) -> tuple[int, ...]:
        """numpy's shape: (height, width, channels) or (height, width)."""
        if self.channels == 1:
            return (self.height, self.width)
        return (self.height, self.width, self.channels)

    @property
    def ndim(self) -> int:
        """2 for grey, 3 for colour."""
        return len(self.shape)

    def tobytes(self) -> bytes:
        """The pixels, row by row."""
        return self.data


class WorkerCamera:
    """A FrameSource description for the worker, and the preview of its frames in the UI.

    ``spec`` is a camera source (``v4l2:0``, ``mjpeg:URL``, ``folder:DIR``...). The worker
    opens it; ``latest()`` returns the newest preview frame the worker published (None
    before the first, or when no worker serves this camera). ``start``/``stop`` do
    nothing: the scan session starts and stops the camera in the worker.
    """

    def __init__(self, spec: str, settings: CameraSettings, fps: float | None = None) -> None:
        """Check the spec now (ConfigError), open nothing."""
        from hardware.camera.sources import open_source

        open_source(spec, settings)  # a bad spec fails here, in the kiosk, loudly
        self.spec = spec
        self.settings = settings
        self.fps = fps
        self.worker: ScanWorker | None = None

    def start(self) -> None:
        """Nothing: the worker starts the camera with the session."""

    def stop(self) -> None:
        """Nothing: the worker stops the camera with the session."""

    def latest(self) -> Frame | None:
        """The newest preview frame from the worker, if any."""
        worker = self.worker
        return worker.preview() if worker is not None else None


@dataclass
class _Session:
    camera: WorkerCamera
    listener: Callable[[Any], None]
    stop_after_evidence: bool
    number: int


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    result: dict[str, Any] | None = None


class ScanWorker:
    """The Scanner in a child process, restarted when it dies (see the module docstring)."""

    def __init__(self, settings: ScannerSettings, memory_limit_mb: int = MEMORY_LIMIT_MB,
                 hang_after_s: float = HANG_AFTER_S) -> None:
        """Nothing starts yet: the first session, ``check`` or ``scan_file`` starts it."""
        self.settings = settings
        self.memory_limit_mb = memory_limit_mb
        self.hang_after_s = hang_after_s
        self._lock = threading.RLock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._send_lock = threading.Lock()
        self._close_lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._session: _Session | None = None
        self._session_number = 0
        self._pending: dict[int, _Pending] = {}
        self._request = 0
        self._closing = False
        self._deaths: deque[float] = deque(maxlen=MAX_RESTARTS + 1)
        self._preview_fd = -1
        self._preview: mmap.mmap | None = None
        self._preview_seen = (0, -1)  # (sequence, index) of the last frame handed out
        self.restarts = 0  # how many times a dead worker was replaced
        self.last_exit: int | None = None  # the exit code (negative: signal) of the last death

    # --- life of the child ---------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def check(self) -> None:
        """Start the worker and load the scanner once (a bad setting fails here), then let go."""
        reply = self._call(("check",), START_TIMEOUT_S)
        if reply.get("error"):
            raise _rebuild_error(reply["error"])

    def warm(self) -> None:
        """Start the worker now, so that the first document check does not wait for it
        (it imports the scanner's libraries; the OCR engine still loads per session)."""
        self._ensure()

    def _ensure(self) -> Connection:
        with self._lock:
            if self._closing:
                raise ScanError("the scanner is closing")
            if self._conn is not None and self._proc is not None and self._proc.poll() is None:
                return self._conn
            return self._spawn()

    def _spawn(self) -> Connection:
        if self._preview is None:
            self._preview_fd = os.memfd_create("kiosk-scan-preview", os.MFD_ALLOW_SEALING)
            os.ftruncate(self._preview_fd, PREVIEW_BYTES)
            # sealed at its size: a worker that shrank it (a decoder taken over by a hostile
            # image) would make this process's next preview read die of SIGBUS
            fcntl.fcntl(self._preview_fd, fcntl.F_ADD_SEALS,
                        fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
            self._preview = mmap.mmap(self._preview_fd, PREVIEW_BYTES)
        ours, theirs = socket.socketpair()
        proc = subprocess.Popen(  # noqa: S603 -- our own module, fixed arguments
            [sys.executable, "-m", "hardware.scan.worker", str(theirs.fileno()),
             str(self._preview_fd), str(self.memory_limit_mb)],
            pass_fds=(theirs.fileno(), self._preview_fd), stdin=subprocess.DEVNULL,
        )
        theirs.close()
        conn = Connection(ours.detach())
        conn.send(("settings", self.settings))
        self._proc, self._conn = proc, conn
        reader = threading.Thread(target=self._read_loop, args=(proc, conn),
                                  name="scan-worker-reader", daemon=True)
        self._reader = reader
        reader.start()
        log.info("scan worker started (pid %d)", proc.pid)
        return conn

    def _send(self, message: tuple[Any, ...]) -> None:
        conn = self._ensure()
        try:
            with self._send_lock:
                conn.send(message)
        except (OSError, ValueError):
            pass  # the worker just died: the reader thread restarts it and resends the session

    def close(self) -> None:
        """Stop the worker (the kiosk is stopping)."""
        with self._lock:
            self._closing = True
            proc, conn = self._proc, self._conn
            self._session = None
        if conn is not None:
            try:
                with self._send_lock:
                    conn.send(("quit",))
            except (OSError, ValueError):
                pass
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if conn is not None:
            self._close_connection(conn)
        with self._lock:
            self._proc, self._conn = None, None
            if self._preview is not None:
                self._preview.close()
                os.close(self._preview_fd)
                self._preview, self._preview_fd = None, -1
        for pending in list(self._pending.values()):
            pending.done.set()

    # --- the live session ----------------------------------------------------------------

    def start_session(self, camera: WorkerCamera, listener: Callable[[Any], None],
                      stop_after_evidence: bool = True) -> None:
        """Open ``camera`` in the worker and scan its frames; ScanUpdates go to ``listener``
        (called on the reader thread). A running session is replaced."""
        with self._lock:
            self._session_number += 1
            session = _Session(camera, listener, stop_after_evidence, self._session_number)
            self._session = session
            self._deaths.clear()  # a new session may try again however the last one ended
        camera.worker = self
        self._send_session(session)

    def _send_session(self, session: _Session) -> None:
        camera = session.camera
        self._send(("session", session.number, camera.spec, camera.settings, camera.fps,
                    session.stop_after_evidence))

    def stop_session(self, camera: WorkerCamera | None = None) -> None:
        """Stop the session's loops and camera in the worker (the engine is let go);
        with ``camera``, only if the running session is that camera's."""
        with self._lock:
            session = self._session
            if session is None or (camera is not None and session.camera is not camera):
                return
            self._session = None
            alive = self._conn is not None
        session.camera.worker = None
        if alive:
            self._send(("stop", session.number))

    def preview(self) -> Frame | None:
        """The newest preview frame the worker published, or None if there is no new one."""
        buffer, session = self._preview, self._session
        if buffer is None or session is None:
            return None
        try:
            sequence, number, index, width, height, channels = _HEADER.unpack_from(buffer, 0)
            if sequence == 0 or sequence % 2 or number != session.number:
                return None  # being written, or another session's: never a past holder's
            size = width * height * channels
            if not 0 < size <= PREVIEW_BYTES - _HEADER.size:
                return None
            data = buffer[_HEADER.size : _HEADER.size + size]
            if _HEADER.unpack_from(buffer, 0)[0] != sequence:
                return None  # written meanwhile: the next poll gets a whole frame
        except (ValueError, struct.error):  # closed meanwhile
            return None
        return Frame(RawImage(width, height, channels, data), time.monotonic(), index)

    # --- files (kioskctl scan) -----------------------------------------------------------

    def scan_file(self, path: str, today: date, timeout_s: float = FILE_TIMEOUT_S
                  ) -> dict[str, Any]:
        """Scan one image file in the worker; a worker that dies on it yields a failed result."""
        failed = {"file": path, "ok": False, "unreadable": True, "reason": "failed"}
        try:
            result = self._call(("file", path, today), timeout_s)
        except ScanError:
            return failed
        # an exception in the worker comes back as {"error": ...}: the file failed
        return failed if result.get("error") is not None else result

    def _call(self, message: tuple[Any, ...], timeout_s: float) -> dict[str, Any]:
        with self._lock:
            self._request += 1
            number = self._request
            pending = self._pending[number] = _Pending()
        try:
            self._send((message[0], number, *message[1:]))
            if not pending.done.wait(timeout_s):
                self._kill(f"no answer in {timeout_s:.0f} s")
                pending.done.wait(10)
            if pending.result is None:
                raise ScannerRestarted("the scanner worker ended during a request",
                                       exit_code=self.last_exit)
            return pending.result
        finally:
            with self._lock:
                self._pending.pop(number, None)

    # --- messages from the worker --------------------------------------------------------

    def _read_loop(self, proc: subprocess.Popen[bytes], conn: Connection) -> None:
        while True:
            try:
                if not conn.poll(self.hang_after_s):
                    if self._busy():
                        log.error("scan worker %d silent for %.0f s: ending it",
                                  proc.pid, self.hang_after_s)
                        proc.kill()
                        break
                    continue
                message = conn.recv()
            except (EOFError, OSError):
                break
            try:
                self._handle(message)
            except Exception:
                log.exception("a scan worker message could not be handled")
        self._died(proc, conn)

    def _busy(self) -> bool:
        return self._session is not None or bool(self._pending)

    def _handle(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "update":
            _, number, update, error = message
            session = self._session
            if session is None or session.number != number:
                return  # from a session that has ended
            if error is not None:
                update = replace(update, error=_rebuild_error(error))
            self._deliver(session, update)
        elif kind == "reply":
            _, number, result = message
            pending = self._pending.get(number)
            if pending is not None:
                pending.result = result
                pending.done.set()

    def _deliver(self, session: _Session, update: ScanUpdate) -> None:
        try:
            session.listener(update)
        except Exception:  # a listener bug must not stop the worker's messages
            log.exception("scan listener failed on %s", getattr(update, "kind", update))

    def _kill(self, why: str) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            log.error("ending the scan worker %d: %s", proc.pid, why)
            proc.kill()

    def _close_connection(self, conn: Connection) -> None:
        """Close ``conn`` once: ``close`` and the reader thread's ``_died`` both end it, and
        two threads closing one descriptor close whatever file reused its number meanwhile
        (seen as an OSError 'Bad file descriptor' when a walk ended right after it began)."""
        with self._close_lock:
            if not conn.closed:
                conn.close()

    def _died(self, proc: subprocess.Popen[bytes], conn: Connection) -> None:
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait(timeout=5)
        self._close_connection(conn)
        with self._lock:
            if self._proc is proc:
                self._proc, self._conn = None, None
                _wipe(self._preview)  # no child writes it now, and none will wipe it
            closing = self._closing
            session = self._session
            pending = list(self._pending.values())
        if closing:
            return
        self.last_exit = code
        log.error("scan worker %d ended with exit code %s", proc.pid, code)
        for waiting in pending:
            waiting.done.set()  # no result: the caller reports the file as failed
        if session is None:
            return
        now = time.monotonic()
        self._deaths.append(now)
        gave_up = (len(self._deaths) > MAX_RESTARTS
                   and now - self._deaths[0] < RESTART_WINDOW_S)
        kind = ScannerStopped if gave_up else ScannerRestarted
        error = kind(f"the scanner worker ended (exit code {code})",
                     exit_code=code, restarted=not gave_up)
        self._deliver(session, ScanUpdate("error", error=error))
        if gave_up:
            log.error("scan worker keeps dying: not restarted until the next document check")
            return
        self.restarts += 1
        try:
            self._send_session(session)  # _send starts a new worker
        except ScanError:
            pass


def _portable_error(error: BaseException) -> tuple[str, str, dict[str, Any]]:
    """An error as (class name in kiosk.errors, detail, data), safe to pickle."""
    if isinstance(error, KioskError):
        return type(error).__name__, error.detail, _plain(error.data)
    return "ScanError", f"{type(error).__name__}: {error}", {}


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, str | int | float | bool | None) else str(v)
            for k, v in data.items()}


def _rebuild_error(portable: tuple[str, str, dict[str, Any]]) -> KioskError:
    import kiosk.errors as errors

    name, detail, data = portable
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, KioskError)):
        cls = ScanError
    error = cls.__new__(cls)
    Exception.__init__(error, detail or cls.code)
    error.detail, error.data = detail, dict(data)
    if "rule" in data:
        error.rule = data["rule"]  # type: ignore[attr-defined]
    if "reason" in data:
        error.reason = data["reason"]  # type: ignore[attr-defined]
    return error


# --- the worker process ------------------------------------------------------------------


class _Child:
    """The worker's side: one scanner, at most one live session, file requests."""

    def __init__(self, conn: Connection, preview: mmap.mmap, settings: ScannerSettings) -> None:
        from hardware.scan.on_demand import OnDemandScanner

        self.conn = conn
        self.preview = preview
        self.settings = settings
        self.scanner = OnDemandScanner(settings)
        self.send_lock = threading.Lock()
        self.session: Any = None
        self.source: Any = None
        self.number = 0
        self.stop_preview = threading.Event()
        self.previewing: threading.Thread | None = None
        self.sequence = 0

    def send(self, message: tuple[Any, ...]) -> None:
        with self.send_lock:
            self.conn.send(message)

    def run(self) -> None:
        threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True).start()
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                break  # the kiosk is gone
            kind = message[0]
            if kind == "quit":
                break
            try:
                self._dispatch(kind, message)
            except Exception as exc:  # reported, the worker goes on
                log.exception("scan worker: %s failed", kind)
                if kind in ("check", "file"):
                    self.send(("reply", message[1], {"error": _portable_error(exc)}))
        self._stop_session()
        self.scanner.close()

    def _dispatch(self, kind: str, message: tuple[Any, ...]) -> None:
        if kind == "check":
            self.scanner.check()
            self.send(("reply", message[1], {"error": None}))
        elif kind == "file":
            from hardware.scan.files import scan_image

            _, number, path, today = message
            self.scanner.acquire()
            try:
                result = scan_image(path, self.scanner.engine(), today)
            finally:
                self.scanner.release()
            self.send(("reply", number, result))
        elif kind == "session":
            _, number, spec, camera_settings, fps, stop_after = message
            self._start_session(number, spec, camera_settings, fps, stop_after)
        elif kind == "stop":
            if message[1] == self.number:
                self._stop_session()

    def _heartbeat(self) -> None:
        while True:
            time.sleep(HEARTBEAT_S)
            try:
                self.send(("alive",))
            except (OSError, ValueError):
                return

    def _start_session(self, number: int, spec: str, camera: CameraSettings,
                       fps: float | None, stop_after: bool) -> None:
        from hardware.camera.sources import FolderSource, open_source
        from hardware.scan.scan_session import ScanSession

        self._stop_session()
        self.number = number
        kind, _, target = spec.partition(":")
        source = (FolderSource(target, camera, fps=fps) if kind == "folder" and fps
                  else open_source(spec, camera))
        self.source = source
        source.start()
        self.scanner.acquire()
        self.session = ScanSession(source, self.scanner, lambda u: self._update(number, u),
                                   self.settings, stop_after_evidence=stop_after)
        self.session.start()
        self.stop_preview.clear()
        self.previewing = threading.Thread(target=self._preview_loop, args=(source, number),
                                           name="preview", daemon=True)
        self.previewing.start()

    def _stop_session(self) -> None:
        session, self.session = self.session, None
        source, self.source = self.source, None
        self.stop_preview.set()
        previewing, self.previewing = self.previewing, None
        if previewing is not None:
            previewing.join(5)
        _wipe(self.preview)  # the holder's document leaves with their session
        if session is not None:
            session.stop()
            if not session.running:
                self.scanner.release()
        if source is not None:
            source.stop()

    def _update(self, number: int, update: ScanUpdate) -> None:
        error = update.error
        if update.kind == "evidence":
            update = replace(update, snapshot=_snapshot(self.source))
        portable = None if error is None else _portable_error(error)
        self.send(("update", number, replace(update, error=None), portable))

    def _preview_loop(self, source: Any, number: int) -> None:
        import cv2
        import numpy as np

        last = -1
        while not self.stop_preview.wait(1 / PREVIEW_FPS):
            try:
                frame = source.latest()
            except CameraUnavailable:
                continue
            if frame is None or frame.index == last:
                continue
            last = frame.index
            image = frame.image
            height, width = image.shape[:2]
            scale = min(1.0, PREVIEW_MAX[0] / width, PREVIEW_MAX[1] / height)
            if scale < 1.0:
                image = cv2.resize(image, (max(1, int(width * scale)),
                                           max(1, int(height * scale))),
                                   interpolation=cv2.INTER_AREA)
            image = np.ascontiguousarray(image)
            h, w = image.shape[:2]
            channels = 1 if image.ndim == 2 else image.shape[2]
            self.sequence += 1  # odd: being written
            _HEADER.pack_into(self.preview, 0, self.sequence, number, frame.index, w, h, channels)
            self.preview[_HEADER.size : _HEADER.size + image.nbytes] = image.tobytes()
            self.sequence += 1
            _HEADER.pack_into(self.preview, 0, self.sequence, number, frame.index, w, h, channels)


def _wipe(preview: mmap.mmap | None) -> None:
    """Zero the preview block (a frame of a holder's document, ~2 MB, mapped into both
    processes): its header first, so a reader meanwhile finds no frame."""
    if preview is None:
        return
    try:
        _HEADER.pack_into(preview, 0, 0, 0, 0, 0, 0, 0)
        preview[:] = bytes(PREVIEW_BYTES)
    except ValueError:  # closed meanwhile
        pass


def _snapshot(source: Any) -> Snapshot | None:
    """The newest frame, made small, for the administrator's eye check."""
    if source is None:
        return None
    try:
        frame = source.latest()
    except CameraUnavailable:
        return None
    if frame is None:
        return None
    import cv2
    import numpy as np

    image = frame.image
    height, width = image.shape[:2]
    scale = min(1.0, SNAPSHOT_MAX_WIDTH / width)
    if scale < 1.0:
        image = cv2.resize(image, (int(width * scale), int(height * scale)),
                           interpolation=cv2.INTER_AREA)
    image = np.ascontiguousarray(image)
    h, w = image.shape[:2]
    channels = 1 if image.ndim == 2 else image.shape[2]
    return Snapshot(w, h, channels, image.tobytes(), _mrz_box(image, scale))


def _mrz_box(image: Any, scale: float) -> tuple[int, int, int, int] | None:
    """Where the MRZ band is in the snapshot, if the MRZ locator finds it there."""
    try:
        import cv2

        from hardware.scan import mrz_ocr

        find = getattr(mrz_ocr, "find_mrz_bands", None)
        if find is None:
            return None
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        bands = find(gray, 1)
        if not bands:
            return None
        x, y, w, h = cv2.boundingRect(bands[0].astype("float32"))
        return int(x), int(y), int(w), int(h)
    except Exception:  # the crop is a convenience: never let it fail the reading
        log.debug("no MRZ box for the snapshot", exc_info=True)
        return None


def _preload() -> None:
    """Import the scanner's libraries while the worker waits for its first request."""
    try:
        import hardware.scan.scanner  # noqa: F401 -- OpenCV, numpy, zxing-cpp, the OCR
    except Exception:  # the request that needs them reports the failure
        log.debug("preloading the scanner failed", exc_info=True)


def _limit_memory(megabytes: int) -> None:
    import resource

    if megabytes <= 0:
        return
    limit = megabytes * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):
        log.warning("could not limit the scan worker's memory to %d MB", megabytes)


def main(argv: list[str] | None = None) -> int:
    """The worker process: ``python -m hardware.scan.worker SOCKET_FD PREVIEW_FD MEMORY_MB``."""
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, format="scan-worker %(levelname)s %(message)s")
    conn = Connection(int(args[0]))
    preview = mmap.mmap(int(args[1]), PREVIEW_BYTES)
    _limit_memory(int(args[2]))
    _, settings = conn.recv()
    threading.Thread(target=_preload, name="preload", daemon=True).start()
    _Child(conn, preview, settings).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
