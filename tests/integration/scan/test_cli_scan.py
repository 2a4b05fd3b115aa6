"""`kioskctl scan`: one JSON object per image; exit 0, 1 or 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from hardware.camera.sources import BUILTIN_SAMPLES
from hardware.scan.synth import SAMPLE_FILES
from kiosk.i18n import translate
from tests.conftest import require_tool


def kioskctl(*args: str, prefix: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-c",
         "import sys; from composition.cli import main; sys.exit(main())", "scan", *args],
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


def test_a_code_with_terminal_control_bytes_never_reaches_the_terminal_raw(
    zbar: str, tmp_path: Path
) -> None:
    """ZBar hands over a code's bytes as they are: an escape sequence in a QR code (here one
    setting the terminal's title, and a C1 CSI) went raw to the operator's terminal.
    zxing-cpp already spells them out ("<ESC>"); pyzbar's reads are spelled out too now."""
    from hardware.scan.synth import barcode_image

    picture = tmp_path / "code.png"
    cv2.imwrite(str(picture), barcode_image("A\x1b]0;pwned\x07B\x9b2JC", "QRCode", 6))
    for decoder in ("pyzbar", "zxing"):
        result = kioskctl("--decoder", decoder, "--no-mrz", "--lang", "en", str(picture))
        assert result.returncode == 0, result.stderr
        assert "QRCode: A" in result.stdout
        assert not any((ord(ch) < 32 and ch != "\n") or 127 <= ord(ch) < 160
                       for ch in result.stdout), (decoder, result.stdout)


def _png_bomb() -> bytes:
    """A ~100 KB PNG declaring 30000x30000 pixels (about 2.7 GB once decoded)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\0" * (30000 * 3 + 1) * 300, 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body)
            + chunk(b"IEND", b""))


def test_scan_explains_every_bad_file_and_reads_the_rest(tessdata: Path, tmp_path: Path) -> None:
    good = BUILTIN_SAMPLES / SAMPLE_FILES[2]
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_bomb())
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text = tmp_path / "notes.jpg"
    text.write_text("not an image at all")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    folder = tmp_path / "folder.png"
    folder.mkdir()
    locked = tmp_path / "locked.png"
    locked.write_bytes(good.read_bytes())
    locked.chmod(0)
    paths = [bomb, truncated, text, empty, folder, locked, tmp_path / "missing.png", good]
    result = kioskctl("--json", "--no-mrz", *map(str, paths))
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    reasons = [row.get("reason") for row in rows]
    unlocked_reason = "permission" if not os.access(locked, os.R_OK) else None
    assert reasons[:5] == ["too_large", "damaged", "not_image", "empty", "directory"]
    assert reasons[5] == unlocked_reason
    assert reasons[6] == "missing"
    assert rows[-1]["ok"] is True and rows[-1]["barcodes"]
    human = kioskctl("--no-mrz", "--lang", "en", str(bomb), str(folder), str(good))
    assert "Traceback" not in human.stderr
    assert "more pixels than the kiosk decodes" in human.stdout
    assert "a folder, not an image file" in human.stdout
    assert "QRCode" in human.stdout


def test_a_picture_too_small_or_thin_for_a_document_is_refused_and_the_rest_read(
    tessdata: Path, tmp_path: Path
) -> None:
    """A 1x1 picture, or one a few pixels high, stopped the scanner's OpenCV resizes
    (an assertion in the worker, then a KeyError traceback in kioskctl)."""
    good = BUILTIN_SAMPLES / SAMPLE_FILES[2]
    paths = []
    for name, (height, width) in {"dot.png": (1, 1), "strip.png": (2, 19999),
                                  "post.png": (19999, 2), "line.png": (20, 19999)}.items():
        cv2.imwrite(str(tmp_path / name), np.full((height, width, 3), 200, np.uint8))
        paths.append(str(tmp_path / name))
    result = kioskctl("--json", *paths, str(good))
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row.get("reason") for row in rows[:-1]] == ["too_small"] * 4
    assert rows[-1]["ok"] is True and rows[-1]["barcodes"]
    human = kioskctl("--lang", "sv", paths[0])
    assert "Traceback" not in human.stderr
    assert "för liten" in human.stdout


def unprivileged() -> list[str]:
    """A command prefix under which a mode-0 file cannot be read. Root reads any file: as
    root the command runs with no capabilities (setpriv; still uid 0, so it reads what
    root owns by its owner's mode bits)."""
    if os.geteuid() != 0:
        return []
    return [require_tool("setpriv", "util-linux"), "--inh-caps=-all", "--bounding-set=-all",
            "--"]


def test_hostile_paths_are_named_for_what_they_are_and_the_rest_read(
    tessdata: Path, tmp_path: Path
) -> None:
    """A symbolic link loop was reported as a missing file (Path.exists() says False on
    ELOOP), a link to nothing too, and a file the user may not read as "not an image".
    Each now says what it is, with its next step, in both languages; a FIFO and /dev/zero
    are never opened (no hang)."""
    good = BUILTIN_SAMPLES / SAMPLE_FILES[2]
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)
    ring_a, ring_b = tmp_path / "ring-a.png", tmp_path / "ring-b.png"
    ring_a.symlink_to(ring_b)
    ring_b.symlink_to(ring_a)
    dangling = tmp_path / "gone.png"
    dangling.symlink_to(tmp_path / "deleted.png")
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.png"
    folder.mkdir()
    locked = tmp_path / "locked.png"
    locked.write_bytes(good.read_bytes())
    locked.chmod(0)
    paths = [str(p) for p in (loop, ring_a, dangling, fifo)] + ["/dev/zero"] + [
        str(p) for p in (folder, locked, tmp_path / "missing.png", good)]
    expected = ["symlink_loop", "symlink_loop", "broken_link", "not_file", "not_file",
                "directory", "permission", "missing"]
    result = kioskctl("--json", "--no-mrz", *paths, prefix=unprivileged())
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row.get("reason") for row in rows[:-1]] == expected
    assert rows[-1]["ok"] is True and rows[-1]["barcodes"]
    for lang in ("sv", "en"):
        human = kioskctl("--no-mrz", "--lang", lang, *paths[:-1], prefix=unprivileged())
        assert "Traceback" not in human.stderr, human.stderr
        for reason in set(expected):
            text = translate(f"scan.cli.{reason}", lang)
            assert text in human.stdout and not text.startswith("scan.cli."), reason
