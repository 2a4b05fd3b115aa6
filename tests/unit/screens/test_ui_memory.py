"""What the UI process does not keep (issue 16): Mesa's software renderer gets no worker
threads (each busy flush would keep another scene), and a label drops its SDL surface once
its pixels are in the texture. Each check runs in a fresh process: Kivy reads its
environment when first imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import json, os, sys, tempfile
from pathlib import Path
from kiosk.settings import Settings
from screens.kivy_env import plan_display, prepare_kivy
settings = Settings()
prepare_kivy(plan_display(settings.ui, force_headless=True), settings.ui, Path(sys.argv[1]))
import screens.app
from kivy.uix.label import Label
label = Label(text="Kortet är aktivt", font_size=40)
label.texture_update()
label.texture.bind()  # draws the text into the texture, as the first frame showing it does
print(json.dumps({"lp_num_threads": os.environ.get("LP_NUM_THREADS"),
                  "texture": list(label.texture.size),
                  "surface_kept": hasattr(label._label, "_surface")}))
"""


def run_probe(tmp_path: Path, **env: str) -> dict[str, object]:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("DISPLAY", "WAYLAND_DISPLAY", "LP_NUM_THREADS")}
    environ.update(KIVY_NO_CONSOLELOG="1", **env)
    out = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], cwd=ROOT, env=environ,
                         capture_output=True, text=True, check=True, timeout=120).stdout
    return dict(json.loads(out.splitlines()[-1]))


def test_a_drawn_label_keeps_its_texture_but_not_its_sdl_surface(tmp_path: Path) -> None:
    seen = run_probe(tmp_path)
    width, height = seen["texture"]  # type: ignore[misc]
    assert width > 100 and height > 10  # the text was rendered into the texture
    assert seen["surface_kept"] is False


def test_software_rendering_runs_on_the_ui_thread_unless_told_otherwise(tmp_path: Path) -> None:
    assert run_probe(tmp_path)["lp_num_threads"] == "0"
    assert run_probe(tmp_path / "told", LP_NUM_THREADS="2")["lp_num_threads"] == "2"
