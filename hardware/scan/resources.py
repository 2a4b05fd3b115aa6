"""Where the scanner's system resources live: the OCR-B font and Tesseract's tessdata."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from kiosk.errors import ScanError

FONT_ROOTS: tuple[str, ...] = ("/usr/share/fonts", "/usr/local/share/fonts")
TESSDATA_DIRS: tuple[str, ...] = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)


@cache
def ocrb_font_path() -> Path:
    """OCRB.otf from Debian's fonts-ocr-b; ScanError when it is not installed."""
    for root in FONT_ROOTS:
        for path in sorted(Path(root).rglob("OCRB.otf")) if Path(root).is_dir() else ():
            return path
    raise ScanError("the OCR-B font is missing: install the Debian package fonts-ocr-b")


@cache
def tessdata_dir(lang: str = "eng") -> Path:
    """The tessdata folder holding ``<lang>.traineddata`` (TESSDATA_PREFIX first)."""
    candidates = [os.environ.get("TESSDATA_PREFIX", ""), *TESSDATA_DIRS]
    for folder in candidates:
        if folder and (Path(folder) / f"{lang}.traineddata").is_file():
            return Path(folder)
    raise ScanError(
        f"{lang}.traineddata is missing: install the Debian package tesseract-ocr",
        lang=lang,
    )
