"""The live scanning loop: newest frame -> barcodes and MRZ -> evidence, on worker threads.

Two loops share one FrameSource: the barcode loop decodes every new frame (a few ms
each), the MRZ loop reads the newest frame whenever it is free (OCR takes longer), so
neither holds the other back. The listener gets ``ScanUpdate``s: new barcodes, document
evidence (a driving-licence QR, or an MRZ once check digits pass and two successive
readings agree), and camera errors. The UI marshals them to its own thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from kiosk.document.consensus import MrzConsensus
from kiosk.document.evidence import evidence_from_mrz
from kiosk.document.licence import evidence_from_licence, is_licence_payload
from kiosk.errors import CameraUnavailable, InvalidInput, KioskError, ScanError
from kiosk.identity.mrz import MrzResult
from kiosk.model import DocumentEvidence
from kiosk.ports import BarcodeRead, Frame, FrameSource, Scanner
from kiosk.settings import ScannerSettings

log = logging.getLogger(__name__)

IDLE_WAIT_S = 0.003  # how long a loop sleeps when no new frame has arrived
ERROR_WAIT_S = 0.2  # how long it sleeps while the camera is gone


@dataclass(frozen=True)
class Snapshot:
    """A BGR (or grey) picture of the document as the camera saw it when it was read."""

    width: int
    height: int
    channels: int
    data: bytes
    mrz_box: tuple[int, int, int, int] | None = None  # x, y, w, h in the snapshot, if known


@dataclass(frozen=True)
class ScanUpdate:
    """One report from the live loop."""

    kind: str  # "barcodes", "evidence", "error", "camera_back"
    frame_index: int = 0
    barcodes: tuple[BarcodeRead, ...] = ()
    mrz: MrzResult | None = None
    evidence: DocumentEvidence | None = None
    error: KioskError | None = None
    latency_s: float = 0.0
    snapshot: Snapshot | None = None  # with evidence: the frame it was read from (worker)


@dataclass
class LoopStats:
    """Counters of one session (frames seen, time spent), for the bench and diagnostics."""

    barcode_frames: int = 0
    barcode_seconds: float = 0.0
    mrz_attempts: int = 0
    mrz_seconds: float = 0.0
    mrz_readings: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=5000))


class ScanSession:
    """Runs the barcode and MRZ loops on their own threads until stopped."""

    def __init__(
        self,
        source: FrameSource,
        scanner: Scanner,
        listener: Callable[[ScanUpdate], None],
        settings: ScannerSettings | None = None,
        today: Callable[[], date] = date.today,
        stop_after_evidence: bool = True,
    ) -> None:
        """``listener`` is called from the worker threads; it must not block for long."""
        self.source = source
        self.scanner = scanner
        self.listener = listener
        self.settings = settings or ScannerSettings()
        self.today = today
        self.stop_after_evidence = stop_after_evidence
        self.consensus = MrzConsensus(agree=self.settings.mrz_agree)
        self.stats = LoopStats()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._report_lock = threading.Lock()
        self._last_codes: frozenset[tuple[str, str]] = frozenset()
        self._camera_down = False
        self.evidence: DocumentEvidence | None = None

    # --- control ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the loops (the source must be started by its owner)."""
        self._stop.clear()
        self.consensus.reset()
        loops = [("scan-barcodes", self._barcode_loop)]
        if self.settings.mrz:
            loops.append(("scan-mrz", self._mrz_loop))
        self._threads = [threading.Thread(target=fn, name=name, daemon=True) for name, fn in loops]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop the loops and wait for them."""
        self._stop.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        self._threads = []

    @property
    def running(self) -> bool:
        """Whether a loop is still running."""
        return any(t.is_alive() for t in self._threads)

    # --- one frame (also used directly by tests, the CLI and the bench) -----------------

    def process_barcodes(self, frame: Frame) -> list[BarcodeRead]:
        """Decode one frame's barcodes and report new ones and any licence evidence."""
        started = time.perf_counter()
        reads = self.scanner.barcodes(frame)
        elapsed = time.perf_counter() - started
        self.stats.barcode_frames += 1
        self.stats.barcode_seconds += elapsed
        self.stats.latencies.append(elapsed)
        codes = frozenset((r.format, r.text) for r in reads)
        if codes and codes != self._last_codes:
            self._report(
                ScanUpdate("barcodes", frame.index, barcodes=tuple(reads), latency_s=elapsed)
            )
            for read in reads:
                if is_licence_payload(read.text):
                    self._licence(read, frame, elapsed)
        self._last_codes = codes
        return reads

    def process_mrz(self, frame: Frame) -> MrzResult | None:
        """Read one frame's MRZ; the result once the consensus accepts it."""
        started = time.perf_counter()
        reading = self.scanner.mrz(frame)
        elapsed = time.perf_counter() - started
        self.stats.mrz_attempts += 1
        self.stats.mrz_seconds += elapsed
        if reading is None:
            return None
        self.stats.mrz_readings += 1
        self.consensus.on = self.today()
        result = self.consensus.offer(reading.lines, reading.uncertain)
        if result is not None:
            evidence = evidence_from_mrz(result)
            self._evidence(
                ScanUpdate(
                    "evidence", frame.index, mrz=result, evidence=evidence, latency_s=elapsed
                )
            )
        return result

    # --- the loops ----------------------------------------------------------------------

    def _barcode_loop(self) -> None:
        self._loop(self.process_barcodes, 0.0)

    def _mrz_loop(self) -> None:
        self._loop(self.process_mrz, self.settings.mrz_interval_s)

    def _loop(self, work: Callable[[Frame], object], interval_s: float) -> None:
        last_index = -1
        while not self._stop.is_set():
            frame = self._newest()
            if frame is None or frame.index == last_index:
                self._stop.wait(ERROR_WAIT_S if self._camera_down else IDLE_WAIT_S)
                continue
            last_index = frame.index
            try:
                work(frame)
            except ScanError as exc:
                self._report(ScanUpdate("error", frame.index, error=exc))
                self._stop.wait(ERROR_WAIT_S)
            except Exception as exc:  # a decoder's own failure must not end the loop unseen
                log.exception("reading frame %d failed", frame.index)
                failed = ScanError(f"reading a frame failed: {type(exc).__name__}")
                self._report(ScanUpdate("error", frame.index, error=failed))
                self._stop.wait(ERROR_WAIT_S)
            if interval_s > 0:
                self._stop.wait(interval_s)

    def _newest(self) -> Frame | None:
        try:
            frame = self.source.latest()
        except CameraUnavailable as exc:
            with self._report_lock:
                first = not self._camera_down
                self._camera_down = True
            if first:
                self._report(ScanUpdate("error", error=exc))
            return None
        if frame is not None and self._camera_down:
            with self._report_lock:
                back = self._camera_down
                self._camera_down = False
            if back:
                self._report(ScanUpdate("camera_back", frame.index))
        return frame

    def _licence(self, read: BarcodeRead, frame: Frame, elapsed: float) -> None:
        try:
            evidence = evidence_from_licence(read.text, self.today())
        except InvalidInput as exc:
            self._report(ScanUpdate("error", frame.index, error=exc))
            return
        self._evidence(
            ScanUpdate(
                "evidence", frame.index, barcodes=(read,), evidence=evidence, latency_s=elapsed
            )
        )

    def _evidence(self, update: ScanUpdate) -> None:
        with self._report_lock:
            if self.evidence is not None and self.stop_after_evidence:
                return
            self.evidence = update.evidence
        self._report(update)
        if self.stop_after_evidence:
            self._stop.set()

    def _report(self, update: ScanUpdate) -> None:
        try:
            self.listener(update)
        except Exception:  # a listener bug must not kill the camera loop
            log.exception("scan listener failed on %s", update.kind)
