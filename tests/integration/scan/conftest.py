"""Scanning tests need the OCR-B font, Tesseract's eng data and ZBar: fail loudly in CI."""

from __future__ import annotations

import ctypes.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from hardware.scan.resources import ocrb_font_path, tessdata_dir
from kiosk.errors import ScanError
from tests.conftest import require_tool


@pytest.fixture(scope="session")
def ocrb_font() -> Path:
    """OCRB.otf (Debian fonts-ocr-b)."""
    try:
        return ocrb_font_path()
    except ScanError:
        return Path(require_tool("/usr/share/fonts/opentype/ocr-b/OCRB.otf", "fonts-ocr-b"))


@pytest.fixture(scope="session")
def tessdata(ocrb_font: Path) -> Path:
    """The folder with eng.traineddata (Debian tesseract-ocr)."""
    try:
        return tessdata_dir("eng")
    except ScanError:
        return Path(require_tool("/usr/share/tesseract-ocr/5/tessdata/eng.traineddata",
                                 "tesseract-ocr")).parent


@pytest.fixture(scope="session")
def zbar() -> str:
    """libzbar (Debian libzbar0), which pyzbar loads."""
    found = ctypes.util.find_library("zbar")
    return found or require_tool("libzbar.so.0", "libzbar0")


@pytest.fixture(scope="session")
def mrz_reader(tessdata: Path) -> Iterator[object]:
    """One MrzReader (one Tesseract API) for the whole session."""
    from hardware.scan.mrz_ocr import MrzReader

    reader = MrzReader()
    yield reader
    reader.close()
