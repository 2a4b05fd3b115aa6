"""`kioskctl scan`: one JSON object per image; exit 0, 1 or 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from hardware.camera.sources import BUILTIN_SAMPLES
from hardware.scan.synth import SAMPLE_FILES


def kioskctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from composition.cli import main; sys.exit(main())",
         "scan", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )


def test_scan_reads_the_demo_samples(tessdata: Path) -> None:
    paths = [str(BUILTIN_SAMPLES / name) for name in SAMPLE_FILES]
    result = kioskctl("--json", *paths)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["ok"] for row in rows] == [True, True, True]
    passport, id_card, licence = rows
    assert passport["mrz"]["format"] == "TD3" and passport["mrz"]["valid"]
    assert all(check["ok"] for check in passport["mrz"]["checks"])
    assert passport["mrz"]["fields"]["personnummer"] == "19900315-****"
    assert id_card["mrz"]["format"] == "TD1" and id_card["mrz"]["valid"]
    assert licence["barcodes"][0]["format"] == "QRCode"
    assert licence["barcodes"][0]["text"].startswith("SE-DL1;PNR=194601012349")
    assert "barcodes_ms" in passport["timing"] and "mrz_ms" in passport["timing"]


def test_scan_exits_1_when_an_image_holds_nothing(tessdata: Path, tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((480, 640, 3), 128, np.uint8))
    result = kioskctl("--json", str(BUILTIN_SAMPLES / SAMPLE_FILES[2]), str(blank))
    assert result.returncode == 1
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["ok"] for row in rows] == [True, False]


def test_scan_exits_2_on_an_unreadable_file(tessdata: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image")
    result = kioskctl("--json", "--no-mrz", str(junk), str(BUILTIN_SAMPLES / SAMPLE_FILES[2]))
    assert result.returncode == 2
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows[0]["unreadable"] is True and rows[1]["ok"] is True


def test_scan_with_pyzbar_reads_the_qr(zbar: str) -> None:
    result = kioskctl("--decoder", "pyzbar", "--no-mrz", "--lang", "en",
                      str(BUILTIN_SAMPLES / SAMPLE_FILES[2]))
    assert result.returncode == 0, result.stderr
    assert "QRCode: SE-DL1;PNR=194601012349" in result.stdout
