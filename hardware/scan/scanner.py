"""The Scanner port: barcodes (zxing-cpp or pyzbar) and the MRZ (tesserocr + OCR-B)."""

from __future__ import annotations

from typing import Any

from hardware.scan.barcodes import BarcodeScanner, make_decoder
from hardware.scan.mrz_ocr import MrzReader
from kiosk.ports import BarcodeRead, Frame, MrzRead
from kiosk.settings import ScannerSettings

LIVE_FALLBACK_EVERY = 2  # a tilted code stays in view for many frames: try every other one
MIN_SIDE_PX = 32  # no code or MRZ is legible in fewer pixels across
MAX_ASPECT = 20  # nor in a strip longer than this (a TD3 MRZ cut out tight is about 13:1)


def document_sized(image: Any) -> bool:
    """Whether a picture is large enough to hold a code or an MRZ at all.

    The locators shrink a picture to a few hundred pixels; a picture only a few pixels
    across (a 1x1 file, a 19999x2 strip) shrinks to nothing, and OpenCV's resize stops
    with an assertion: in the live loop that ended the decoding thread, in `kioskctl scan`
    the file's scan.
    """
    height, width = (int(side) for side in image.shape[:2])
    short = min(height, width)
    return short >= MIN_SIDE_PX and max(height, width) <= MAX_ASPECT * short


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
        """Barcodes of the configured formats in the frame (none in a frame too small)."""
        if not document_sized(frame.image):
            return []
        return self.codes.scan(frame.image)

    def mrz(self, frame: Frame) -> MrzRead | None:
        """The MRZ lines of the frame (not yet validated), if one was found."""
        if self.reader is None or not document_sized(frame.image):
            return None
        return self.reader.read(frame.image)

    def close(self) -> None:
        """Release the OCR engine."""
        if self.reader is not None:
            self.reader.close()
