"""The live document scan while DOCUMENT_CHECK is on screen: camera + ScanSession on workers.

With the kiosk's scanner (hardware.scan.worker.ScanWorker) the camera and the scan loops
run in the scanner's own process: this only asks it to start and stop, and the preview
reads the frames it publishes. Any other scanner (tests) runs a ScanSession here.
Starting and stopping may block (process start, device open, thread joins), so both
happen on a worker thread; scan updates come back to the UI thread through ``post`` and
go to the flow as ``document_scanned`` / ``scan_failed`` events. ``snapshot`` keeps the
picture of the document the accepted reading came from, for the confirm screen.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Post = Callable[[Callable[[], None]], None]


class DocumentScan:
    """One camera source and scan session at a time, started and stopped off the UI thread."""

    def __init__(self, scanner: Any, scanner_settings: Any, post: Post,
                 deliver: Callable[[Any], None]) -> None:
        self.scanner = scanner
        self.scanner_settings = scanner_settings
        self.post = post
        self.deliver = deliver  # gets each ScanUpdate on the UI thread
        self.source: Any = None
        self._session: Any = None
        self._scanner: Any = None  # the scanner the running session acquired
        self._lock = threading.Lock()
        self.held: list[Any] = []  # updates held back while ``hold`` is set (tour, tests)
        self.hold = False
        self.started_at = 0.0  # perf_counter when the current scan was asked for
        self.first_update_s: float | None = None  # from then to its first result (bench)
        self.snapshot: Any = None  # the document as read (hardware.scan.scan_session.Snapshot)

    def start(self, source: Any) -> None:
        """Start ``source`` and the scan loops on a worker."""
        self.stop()
        self.source = source
        self.started_at, self.first_update_s = time.perf_counter(), None
        if source is None:
            return
        self.snapshot = None
        scanner = self.scanner
        if scanner is not None and hasattr(scanner, "start_session"):

            def in_worker() -> None:
                try:
                    scanner.start_session(source, self._listener)
                except Exception:  # no reading then: the holder's document is typed in
                    log.exception("the scanner's worker did not start")
                if self.source is not source:  # stopped while it was starting
                    scanner.stop_session(source)

            threading.Thread(target=in_worker, name="kiosk-scan-start", daemon=True).start()
            return

        def work() -> None:
            from hardware.scan.scan_session import ScanSession

            try:
                source.start()
            except Exception:  # a camera that cannot start shows as "no picture"
                log.exception("camera did not start")
                return
            scanner = self.scanner
            if scanner is None:
                return
            try:
                _call(scanner, "acquire")  # an on-demand scanner loads its engine now
            except Exception:  # no reading then: the holder's document is typed in
                log.exception("the scanner did not load")
                return
            session = ScanSession(source, scanner, self._listener, self.scanner_settings)
            with self._lock:
                if self.source is not source:
                    source.stop()
                    _call(scanner, "release")
                    return
                self._session, self._scanner = session, scanner
            session.start()

        threading.Thread(target=work, name="kiosk-scan-start", daemon=True).start()

    def stop(self) -> None:
        """Stop the scan loops and the camera on a worker; the scanner may let its engine go."""
        with self._lock:
            session, self._session = self._session, None
            scanner, self._scanner = self._scanner, None
            source, self.source = self.source, None
        self.held.clear()
        if session is None and source is None:
            return
        worker = self.scanner
        if session is None and worker is not None and hasattr(worker, "stop_session"):
            threading.Thread(target=worker.stop_session, args=(source,),
                             name="kiosk-scan-stop", daemon=True).start()
            return

        def work() -> None:
            from hardware.heap import release_free_memory

            if session is not None:
                session.stop()
                if not session.running:  # a loop stuck in a read keeps the engine it uses
                    _call(scanner, "release")
            if source is not None:
                try:
                    source.stop()
                except Exception:
                    log.exception("camera did not stop cleanly")
            release_free_memory()  # the frames and scan buffers are garbage now

        threading.Thread(target=work, name="kiosk-scan-stop", daemon=True).start()

    def release(self) -> None:
        """Deliver the updates held back, and stop holding."""
        self.hold = False
        held, self.held = self.held, []
        for update in held:
            self.deliver(update)

    def _listener(self, update: Any) -> None:
        source = self.source
        if self.first_update_s is None:
            self.first_update_s = time.perf_counter() - self.started_at
            log.info("first scan result %.2f s after the document check opened",
                     self.first_update_s)

        def on_ui() -> None:
            if self.source is not source:
                return  # from a scan that has been stopped
            if getattr(update, "snapshot", None) is not None:
                self.snapshot = update.snapshot
            if self.hold:
                self.held.append(update)
            else:
                self.deliver(update)

        self.post(on_ui)


def _call(scanner: Any, name: str) -> None:
    """Call ``acquire``/``release`` on scanners that have them (OnDemandScanner)."""
    method = getattr(scanner, name, None)
    if callable(method):
        method()


def demo_document(holder_key: str) -> Path | None:
    """The demo holder's bundled document image; None for a holder the demo has none of."""
    from hardware.camera.sources import BUILTIN_SAMPLES

    samples = sorted(BUILTIN_SAMPLES.glob(f"{holder_key}_*"))
    return samples[0] if samples else None


def demo_document_folder(state_dir: Path, holder_key: str) -> Path | None:
    """A folder holding only this demo holder's bundled document image (the demo's camera)."""
    sample = demo_document(holder_key)
    if sample is None:
        return None
    folder = state_dir / "demo-documents" / holder_key
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / sample.name
    if not target.exists():
        target.symlink_to(sample)
    return folder
