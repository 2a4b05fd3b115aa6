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


def _kioskctl(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KIOSK_CONFIG_DIR": str(tmp_path / "etc"), "KIOSKCTL_LANG": "en"}
    return subprocess.run(
        [str(ROOT / ".venv/bin/kioskctl"), *args, "--lang", "en"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_verify_calls_a_binary_file_no_export_and_names_a_bad_key_file(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)))
    done = _kioskctl(tmp_path, "outbox", "verify", str(garbage))
    assert done.returncode == 3
    assert "The file is not a kiosk export." in done.stdout
    assert "codec" not in done.stdout + done.stderr

    state = tmp_path / "state"
    state.mkdir()
    export = tmp_path / "export.json"
    written = _kioskctl(tmp_path, "outbox", "export", "-o", str(export), "--state-dir", str(state))
    assert written.returncode == 0, written.stderr
    done = _kioskctl(tmp_path, "outbox", "verify", str(export), "--key", str(garbage))
    assert done.returncode == 3
    assert f"The file {garbage} could not be read" in done.stderr


def test_verify_speaks_the_language_kioskctl_lang_names(tmp_path: Path) -> None:
    """`outbox verify` alone answered in Swedish whatever KIOSKCTL_LANG said."""
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)))
    env = {**os.environ, "KIOSK_CONFIG_DIR": str(tmp_path / "etc"), "KIOSKCTL_LANG": "en"}
    done = subprocess.run([str(ROOT / ".venv/bin/kioskctl"), "outbox", "verify", str(garbage)],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 3
    assert "The file is not a kiosk export." in done.stdout


def test_a_mistyped_state_dir_is_refused_not_created(tmp_path: Path) -> None:
    typo = tmp_path / "stat"
    for command in (["audit", "verify"], ["outbox", "status"]):
        done = _kioskctl(tmp_path, *command, "--state-dir", str(typo))
        assert done.returncode == 1, done.stdout
        assert f"--state-dir {typo} is not an existing directory" in done.stderr
        assert "Check the input" in done.stderr
    assert not typo.exists()
