"""The Scanner port: barcodes (zxing-cpp or pyzbar) and the MRZ (tesserocr + OCR-B)."""

from __future__ import annotations

from hardware.scan.barcodes import BarcodeScanner, make_decoder
from hardware.scan.mrz_ocr import MrzReader
from kiosk.ports import BarcodeRead, Frame, MrzRead
from kiosk.settings import ScannerSettings

LIVE_FALLBACK_EVERY = 2  # a tilted code stays in view for many frames: try every other one


class FrameScanner:
    """Decodes barcodes and reads MRZ lines in frames, as settings.scanner configures."""

    def __init__(self, settings: ScannerSettings) -> None:
        """Load the configured decoder and, if the MRZ is enabled, the Tesseract API."""
        self.settings = settings
        self.codes = BarcodeScanner(
            make_decoder(settings.decoder, settings.formats),
            fallback=settings.tilt_fallback,
            fallback_every=LIVE_FALLBACK_EVERY,
        )
        self.reader = MrzReader() if settings.mrz else None

    def barcodes(self, frame: Frame) -> list[BarcodeRead]:
        """Barcodes of the configured formats in the frame."""
        return self.codes.scan(frame.image)

    def mrz(self, frame: Frame) -> MrzRead | None:
        """The MRZ lines of the frame (not yet validated), if one was found."""
        if self.reader is None:
            return None
        return self.reader.read(frame.image)

    def close(self) -> None:
        """Release the OCR engine."""
        if self.reader is not None:
            self.reader.close()
