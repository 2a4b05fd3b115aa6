"""Kivy's environment and Config for kiosk mode, set up BEFORE anything imports kivy.

Kivy reads its environment (argv parsing, home, log files, video driver) when it is
first imported and its [graphics]/[input] Config when the window is created, so the
entry point calls ``prepare_kivy`` first and imports the App only afterwards.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from kiosk.settings import UiSettings


@dataclass(frozen=True)
class DisplayPlan:
    """How the window is made: headless (offscreen) or on a display, and its mode."""

    headless: bool
    fullscreen: bool
    show_cursor: bool
    width: int
    height: int
    rotation: int


def has_display() -> bool:
    """Whether an X11 or Wayland display is reachable."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def plan_display(ui: UiSettings, *, windowed: bool = False, force_headless: bool = False,
                 size: tuple[int, int] | None = None) -> DisplayPlan:
    """The window plan from settings; with no display we render offscreen in a window size."""
    headless = force_headless or not has_display()
    width, height = size or (ui.width, ui.height)
    kiosk_mode = ui.fullscreen and not windowed and not headless
    return DisplayPlan(
        headless=headless,
        fullscreen=kiosk_mode,
        show_cursor=ui.show_cursor or not kiosk_mode,
        width=width,
        height=height,
        rotation=ui.rotation,
    )


def prepare_kivy(plan: DisplayPlan, ui: UiSettings, state_dir: Path) -> None:
    """Set Kivy's env and Config; must run before the first ``import kivy``."""
    if "kivy" in sys.modules:
        raise RuntimeError("prepare_kivy must run before kivy is imported")
    kivy_home = state_dir / "kivy"
    kivy_home.mkdir(parents=True, exist_ok=True)
    os.environ["KIVY_NO_ARGS"] = "1"  # our argv is ours, not Kivy's
    os.environ["KIVY_HOME"] = str(kivy_home)  # logs land in KIVY_HOME/logs
    os.environ["KIVY_NO_CONFIG"] = "1"  # never read or write a stray config.ini
    os.environ.setdefault("KIVY_LOG_MODE", "MIXED")
    os.environ.setdefault("KIVY_CLIPBOARD", "sdl2")  # no probing for xclip/xsel
    if not os.environ.get("KIOSK_KIVY_CONSOLE"):
        os.environ["KIVY_NO_CONSOLELOG"] = "1"  # Kivy logs to KIVY_HOME/logs only
    if plan.headless:
        os.environ["SDL_VIDEODRIVER"] = "offscreen"
    # Mesa's software renderer (llvmpipe: offscreen, and a panel without a GPU) rasterises on
    # the UI thread instead of on worker threads: with workers, each flush while they are still
    # busy allocates one more scene (~1-3 MB each, kept until exit) and a kiosk frame flushes
    # many times, 50-170 MB after the first screens (issue 16, docs/ui.md). GPU drivers
    # ignore it; a value set outside wins.
    os.environ.setdefault("LP_NUM_THREADS", "0")
    from kivy.config import Config

    Config.set("kivy", "log_level", os.environ.get("KIOSK_KIVY_LOG_LEVEL", "warning"))
    Config.set("kivy", "log_dir", str(kivy_home / "logs"))
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("kivy", "keyboard_mode", "system")
    Config.set("graphics", "fullscreen", "auto" if plan.fullscreen else "0")
    Config.set("graphics", "borderless", "1" if plan.fullscreen else "0")
    Config.set("graphics", "show_cursor", "1" if plan.show_cursor else "0")
    Config.set("graphics", "rotation", str(plan.rotation))
    Config.set("graphics", "width", str(plan.width))
    Config.set("graphics", "height", str(plan.height))
    Config.set("graphics", "resizable", "0")
    Config.set("graphics", "multisamples", "0")
    Config.set("postproc", "double_tap_time", "0")
    # Exactly one input provider: Kivy's defaults (mouse + probesysfs) would report
    # every touch on a panel twice.
    Config.remove_section("input")
    Config.add_section("input")
    provider = ui.input_provider if not plan.headless else "mouse"
    Config.set("input", "kiosk_touch", provider)
    if provider == "mouse":
        Config.set("input", "kiosk_touch", "mouse,disable_multitouch")
