"""QA regression: `kioskctl scan` on a missing file says so, without OpenCV noise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_scan_names_a_missing_file_and_exits_2(tessdata: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-scan.png"
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from composition.cli import main; sys.exit(main())",
         "scan", "--no-mrz", "--lang", "en", str(missing), str(junk)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 2
    assert "The file does not exist. Check the path." in result.stdout
    assert "The file is not an image. Use a JPEG or PNG file." in result.stdout
    assert "WARN" not in result.stderr and "imread" not in result.stderr
