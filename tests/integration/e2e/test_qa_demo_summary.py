"""QA regression: the Swedish demo summary writes its time with a decimal comma."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parents[3]


def test_swedish_summary_time_has_a_decimal_comma(tmp_path: Path) -> None:
    require_tool("softhsm2-util", "the simulated card's token")
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/kioskctl"), "demo", "visit", "--lang", "sv", "--state-dir",
         str(tmp_path / "state")],
        env={**os.environ, "KIOSK_CONFIG_DIR": str(tmp_path / "etc")},
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"^Tid för hela besöket: \d+,\d s\.$", proc.stdout, re.M), proc.stdout
