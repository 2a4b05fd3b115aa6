"""QA regression: `kioskctl outbox export -o` into a missing folder explains, no traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_export_to_a_missing_folder_says_what_to_do(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    target = tmp_path / "no-such-folder" / "export.json"
    env = {**os.environ, "KIOSK_CONFIG_DIR": str(tmp_path / "etc"), "KIOSKCTL_LANG": "en"}
    done = subprocess.run(
        [str(ROOT / ".venv/bin/kioskctl"), "outbox", "export", "-o", str(target),
         "--state-dir", str(state), "--lang", "en"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"The file {target} could not be written" in done.stderr
    assert "without -o" in done.stderr
    assert not target.parent.exists()
