"""A Scanner whose libraries and OCR engine load at the first document check, and go after it.

OpenCV, zxing-cpp and tesserocr are imported, and the Tesseract API started, when a scan
session first ``acquire``s the scanner (on the document screen's worker, not at kiosk
start). When the last session ``release``s it, the Tesseract API ends and free heap pages
go back to the system, so the OCR model does not stay resident through visits that need
no scan (the modules stay imported: Python cannot unload them).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from hardware.heap import release_free_memory
from kiosk.ports import BarcodeRead, Frame, MrzRead
from kiosk.settings import ScannerSettings

if TYPE_CHECKING:
    from hardware.scan.scanner import FrameScanner

log = logging.getLogger(__name__)


class OnDemandScanner:
    """The Scanner port over a FrameScanner built on first use and dropped when unused."""

    def __init__(self, settings: ScannerSettings) -> None:
        """Nothing loads yet: see ``acquire`` (or ``check``)."""
        self.settings = settings
        self._lock = threading.RLock()
        self._scanner: FrameScanner | None = None
        self._users = 0
        self.loads = 0  # how many times the engine was built (a figure for the bench)

    def check(self) -> None:
        """Load the libraries and engine once now (a bad configuration fails here), then let go."""
        self.acquire()
        try:
            reader = self._loaded().reader
            if reader is not None:
                reader.start_engine()  # otherwise it starts when a reading first needs it
        finally:
            self.release()

    def acquire(self) -> None:
        """A scan session starts: build the engine if it is not loaded."""
        with self._lock:
            self._users += 1
            try:
                self._loaded()
            except BaseException:
                self._users -= 1
                raise

    def release(self) -> None:
        """A scan session ended; the last one ends the OCR engine and trims the heap."""
        with self._lock:
            self._users = max(0, self._users - 1)
            if self._users or self._scanner is None:
                return
            scanner, self._scanner = self._scanner, None
            scanner.close()
        del scanner
        release_free_memory()

    def barcodes(self, frame: Frame) -> list[BarcodeRead]:
        """Barcodes of the configured formats in the frame."""
        return self._loaded().barcodes(frame)

    def mrz(self, frame: Frame) -> MrzRead | None:
        """The MRZ lines of the frame (not yet validated), if one was found."""
        return self._loaded().mrz(frame)

    def engine(self) -> FrameScanner:
        """The loaded FrameScanner (between ``acquire`` and ``release``)."""
        return self._loaded()

    def close(self) -> None:
        """Release the engine whatever the sessions (the kiosk is stopping)."""
        with self._lock:
            scanner, self._scanner, self._users = self._scanner, None, 0
        if scanner is not None:
            scanner.close()

    def _loaded(self) -> FrameScanner:
        scanner = self._scanner
        if scanner is not None:
            return scanner
        with self._lock:  # the barcode and MRZ loops may both ask first
            if self._scanner is None:
                from hardware.scan.scanner import FrameScanner

                self._scanner = FrameScanner(self.settings)
                self.loads += 1
                log.info("scanner loaded (%s decoder, MRZ %s)", self.settings.decoder,
                         "on" if self.settings.mrz else "off")
            return self._scanner
