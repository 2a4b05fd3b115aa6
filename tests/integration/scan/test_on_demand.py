"""OnDemandScanner: the engine loads on first use, serves a real scan, and goes when unused."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import cv2
import pytest

from hardware.camera.sources import BUILTIN_SAMPLES
from hardware.scan.on_demand import OnDemandScanner
from hardware.scan.synth import SAMPLE_FILES
from kiosk.demo_cast import demo_holder
from kiosk.errors import ConfigError
from kiosk.identity.mrz import parse_mrz
from kiosk.ports import Frame
from kiosk.settings import ScannerSettings


def passport_frame() -> Frame:
    image = cv2.imread(str(BUILTIN_SAMPLES / SAMPLE_FILES[0]), cv2.IMREAD_COLOR)
    return Frame(image, 0.0, 0)


def test_nothing_loads_until_a_session_acquires_it(tessdata: Path) -> None:
    code = (
        "import sys\n"
        "from hardware.scan.on_demand import OnDemandScanner\n"
        "from kiosk.settings import ScannerSettings\n"
        "scanner = OnDemandScanner(ScannerSettings())\n"
        "heavy = ('cv2', 'tesserocr', 'zxingcpp', 'numpy')\n"
        "print(','.join(sorted(m for m in sys.modules if m in heavy)))\n"
        "scanner.acquire()\n"
        "print(','.join(sorted(m for m in sys.modules if m in heavy)))\n"
        "scanner.close()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    before, after = result.stdout.splitlines()
    assert before == ""
    assert after == "cv2,numpy,tesserocr,zxingcpp"


def test_acquired_scanner_reads_the_passport_and_release_ends_the_engine(
    tessdata: Path,
) -> None:
    scanner = OnDemandScanner(ScannerSettings())
    scanner.acquire()
    read = scanner.mrz(passport_frame())
    assert read is not None
    anna = demo_holder("anna", date.today())
    assert parse_mrz(list(read.lines)).document_number == anna.document_number
    assert scanner.loads == 1
    scanner.release()
    scanner.acquire()  # a second document check builds a fresh engine
    assert scanner.loads == 2
    assert scanner.mrz(passport_frame()) is not None
    scanner.release()


def test_the_engine_stays_while_another_session_holds_it(tessdata: Path) -> None:
    scanner = OnDemandScanner(ScannerSettings())
    scanner.acquire()
    scanner.acquire()  # a new document check started before the old one stopped
    scanner.release()
    assert scanner.mrz(passport_frame()) is not None
    assert scanner.loads == 1
    scanner.release()
    scanner.close()


def test_check_fails_loudly_on_a_bad_decoder_setting() -> None:
    scanner = OnDemandScanner(ScannerSettings(decoder="nonsense"))
    with pytest.raises(ConfigError) as caught:
        scanner.check()
    assert caught.value.data["path"] == "scanner.decoder"
    assert scanner.loads == 0


def test_a_clean_mrz_is_read_without_starting_tesseract(tessdata: Path) -> None:
    scanner = OnDemandScanner(ScannerSettings())
    scanner.acquire()
    try:
        assert scanner.mrz(passport_frame()) is not None
        reader = scanner.engine().reader
        assert reader is not None and not reader.engine_started  # the templates sufficed
    finally:
        scanner.release()


def test_check_starts_tesseract_so_a_broken_language_file_fails_there(
    tessdata: Path, tmp_path: Path
) -> None:
    (tmp_path / "eng.traineddata").write_bytes(b"not a language model")
    code = (  # a process of its own: the tessdata folder is looked up once per process
        "from hardware.scan.on_demand import OnDemandScanner\n"
        "from kiosk.errors import ScanError\n"
        "from kiosk.settings import ScannerSettings\n"
        "try:\n"
        "    OnDemandScanner(ScannerSettings()).check()\n"
        "except ScanError as exc:\n"
        "    print(exc.detail)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, env={**os.environ, "TESSDATA_PREFIX": str(tmp_path)})
    assert "Tesseract could not start" in result.stdout
