"""What a start does not do: kioskctl loads only the subcommand it runs, and a demo's
throwaway state goes to RAM when the machine has some (issue 16)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from composition.cli import COMMAND_MODULES, build_parser, named_command
from kiosk.paths import demo_scratch_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["demo", "visit"], "demo"),
        (["--config", "demo", "outbox", "status"], "outbox"),  # "demo" is the file here
        (["--config=x.toml", "audit", "verify"], "audit"),
        (["--help"], None),
        (["-h", "demo"], None),
        (["bogus", "demo"], None),
        (["--config"], None),
        ([], None),
    ],
)
def test_the_named_subcommand_is_read_as_the_parser_reads_it(
    argv: list[str], named: str | None
) -> None:
    assert named_command(argv) == named


def test_kioskctl_demo_imports_no_other_subcommand() -> None:
    code = (
        "import json, sys\n"
        "from composition.cli import build_parser, named_command\n"
        "build_parser(named_command(['demo', 'visit']))\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('composition.cli.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=60).stdout
    assert json.loads(out) == ["composition.cli.demo"]


def test_help_and_unknown_names_still_list_every_subcommand() -> None:
    usage = build_parser(named_command(["bogus"])).format_usage()
    for name in COMMAND_MODULES:
        assert name in usage


def test_demo_state_goes_to_ram_unless_tmpdir_names_a_place(tmp_path: Path) -> None:
    ram = tmp_path / "run-user"
    ram.mkdir()
    chosen = demo_scratch_dir("kiosk-demo-", {"XDG_RUNTIME_DIR": str(ram)})
    assert chosen.parent == ram and chosen.name.startswith("kiosk-demo-")
    assert stat.S_IMODE(chosen.stat().st_mode) == 0o700  # private: it holds keys and PINs
    asked = tmp_path / "asked"
    asked.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TMPDIR", str(asked))  # tempfile reads TMPDIR itself
        import tempfile

        patch.setattr(tempfile, "tempdir", None)
        assert demo_scratch_dir("kiosk-demo-", {"TMPDIR": str(asked),
                                                 "XDG_RUNTIME_DIR": str(ram)}).parent == asked


def test_a_runtime_dir_that_is_not_writable_is_passed_over(tmp_path: Path) -> None:
    chosen = demo_scratch_dir("kiosk-demo-", {"XDG_RUNTIME_DIR": str(tmp_path / "missing")})
    assert chosen.is_dir() and chosen.parent != tmp_path / "missing"
    chosen.rmdir()


# Loaded when the services are composed or a visit is first chosen, never for the first
# frame: every visit flow (kiosk.pki, kiosk.sync, the outbox), cryptography, and the event and
# effect classes the flows exchange with the shell (issue 16). Nor the widgets only other
# screens use (PIN pad, card art, camera preview, the on-screen keyboard and its TextInput,
# the hand-over cover, the idle warning): the app loads them once the first frame is drawn.
NOT_FOR_THE_FIRST_FRAME = ("cryptography", "kiosk.handout", "kiosk.pki", "kiosk.sync",
                           "kiosk.outbox", "kiosk.visit.admin_session", "kiosk.visit.runner",
                           "kiosk.visit.events", "kiosk.visit.effects", "kiosk.ports",
                           "screens.widgets.pin_pad", "screens.widgets.card_art",
                           "screens.widgets.camera_preview", "screens.widgets.keyboard",
                           "kivy.uix.textinput", "screens.widgets.guide_cover",
                           "screens.widgets.idle_warning")


def test_the_first_frame_imports_no_visit_flow_and_no_cryptography(tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "import screens.launch, screens.app\n"
        "print(json.dumps(sorted(m for m in sys.modules)))\n"
    )
    env = {**os.environ, "SDL_VIDEODRIVER": "offscreen", "KIVY_NO_ARGS": "1",
           "KIVY_NO_CONSOLELOG": "1", "KIVY_HOME": str(tmp_path)}
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(name, None)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=120, env=env).stdout
    loaded = json.loads(out.splitlines()[-1])
    assert "screens.app" in loaded and "kivy.core.window" in loaded
    early = [m for m in loaded
             if any(m == name or m.startswith(f"{name}.") for name in NOT_FOR_THE_FIRST_FRAME)]
    assert early == []
