"""`kiosk --demo --tour DIR` and `kiosk --demo` without a display, as the operator runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

pytestmark = [pytest.mark.ui, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def headless_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["XDG_STATE_HOME"] = str(tmp_path / "state")  # the kiosk's own dirs, not the user's
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    return env


def kiosk(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "screens.main", *args],
        cwd=ROOT, env=headless_env(tmp_path), capture_output=True, text=True, timeout=600,
    )


def is_drawn(path: Path) -> bool:
    """Not a blank frame: several colours, at the window's size."""
    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=100_000)
        return image.size == (1280, 800) and colours is not None and len(colours) > 8


def test_tour_saves_every_screen_in_swedish_and_english(tmp_path: Path) -> None:
    out = tmp_path / "tour"
    result = kiosk("--demo", "--tour", str(out), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    swedish = sorted(p.name for p in (out / "sv").glob("*.png"))
    english = sorted(p.name for p in (out / "en").glob("*.png"))
    assert swedish == english
    assert len(swedish) >= 25
    for name in ("admin-sign-in", "home", "card-record", "document-check", "pin-choose",
                 "writing-pin", "sign-receipt", "done", "card-refused", "card-info",
                 "block-reason", "block-confirm", "card-removed", "idle-warning",
                 "admin-wrong-pin", "portal-unreachable", "pin-letter-done"):
        assert any(n.endswith(f"-{name}.png") for n in swedish), name
    assert all(is_drawn(out / "sv" / n) for n in swedish)
    # A second walk with the reader's own PIN pad: sign-in and activation typed there.
    for lang in ("sv", "en"):
        pad = sorted(p.name for p in (out / lang / "reader-pad").glob("*.png"))
        assert [n[3:-4] for n in pad] == [
            "reader-pad-admin", "reader-pad-choose", "reader-pad-mismatch", "reader-pad-sign",
            "reader-pad-done",
        ], pad
        assert all(is_drawn(out / lang / "reader-pad" / n) for n in pad)
    assert str(out.resolve()) in result.stdout
    assert "layout:" not in result.stderr  # no overlapping texts on any screen


def test_tour_fits_the_small_panel(tmp_path: Path) -> None:
    out = tmp_path / "tour"
    result = kiosk("--demo", "--tour", str(out), "--lang", "en", "--size", "800x480",
                   tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    names = sorted((out / "en").glob("*.png"))
    assert len(names) >= 25
    with Image.open(names[0]) as image:
        assert image.size == (800, 480)
    assert "layout:" not in result.stderr


def test_demo_without_display_runs_the_visit_and_says_where_the_screenshots_are(
    tmp_path: Path,
) -> None:
    shots = tmp_path / "shots"
    result = kiosk("--demo", "--shots", str(shots), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "the activation visit finished" in result.stdout
    assert str(shots.resolve()) in result.stdout
    names = sorted(p.name for p in shots.glob("*.png"))
    assert names[-1].endswith("-done.png")
    assert len(names) >= 12
