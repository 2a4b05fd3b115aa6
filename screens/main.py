"""``kiosk``: the touchscreen app. Sets Kivy's environment first, then imports Kivy.

    kiosk                       the kiosk on its configured devices (kiosk mode)
    kiosk --demo                the whole activation visit on simulated devices; with no
                                display it runs the visit itself offscreen and saves
                                screenshots
    kiosk --demo --tour DIR     every screen of every visit, in Swedish and English, as PNGs
                                on the 10.1" 1280x800 and the 7" 800x480 panel, with each
                                screen's widgets measured in DIR/<lang>/<WxH>/widgets.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from kiosk.i18n import LANGUAGES
from kiosk.paths import demo_scratch_dir


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="kiosk", description="SITHS card-office kiosk")
    parser.add_argument("--demo", action="store_true", help="simulated reader, card, portal")
    parser.add_argument("--tour", type=Path, metavar="DIR",
                        help="with --demo: save a PNG of every screen, per language, to DIR")
    parser.add_argument("--shots", type=Path, metavar="DIR",
                        help="with --demo and no display: where the autopilot's PNGs go")
    parser.add_argument("--lang", choices=LANGUAGES, help="start language (default: settings)")
    parser.add_argument("--size", metavar="WxH", help="window size, e.g. 800x480")
    parser.add_argument("--windowed", action="store_true", help="not fullscreen, cursor shown")
    parser.add_argument("--headless", action="store_true", help="render offscreen")
    parser.add_argument("--config", type=Path, help="an extra TOML settings layer")
    parser.add_argument("--state-dir", type=Path, help="demo state (default: a fresh temp dir)")
    parser.add_argument("--autopilot", action="store_true",
                        help="with --demo: run the activation visit by itself")
    return parser.parse_args(argv)


def _size(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    width, _, height = text.lower().partition("x")
    return int(width), int(height)


def main(argv: list[str] | None = None) -> int:
    """Run the kiosk (see the module docstring)."""
    args = parse_args(argv)
    if args.tour is not None:
        if not args.demo:
            print("kiosk: --tour needs --demo", file=sys.stderr)
            return 2
        return run_tour(args)
    return run_app(args)


TOUR_SIZES = ("1280x800", "800x480")  # the 10.1" and the 7" panel the kiosk is built for
TOUR_JOBS = 2  # tour walks run side by side (see run_tour)


def run_tour(args: argparse.Namespace) -> int:
    """One fresh process per language and panel (one Kivy window each, fresh demo cards).

    Screens and their widgets.json go to DIR/<lang>/<WxH>/; the walk with the reader's
    own PIN pad (it changes the PIN screens) to DIR/<lang>/reader-pad/ on the first size.
    """
    out: Path = args.tour
    languages = [args.lang] if args.lang else list(LANGUAGES)
    sizes = [args.size] if args.size else list(TOUR_SIZES)
    runs: list[tuple[list[str], str, str]] = [([], size, size) for size in sizes]
    runs.append((["--reader-pad", "--script", "reader_pad_tour"], sizes[0], "reader-pad"))
    commands = []
    for lang in languages:
        for extra, size, folder in runs:
            where = out / lang / folder
            command = [sys.executable, "-m", "screens.tour", "--out", str(where), "--lang", lang,
                       "--size", size]
            if args.config:
                command += ["--config", str(args.config)]
            commands.append([*command, *extra])
    # Two walks at a time: a walk waits for frames (60 per second) and effects about half of
    # its time (a 55 s walk used 28 s of CPU), so two share two cores well: the whole tour
    # took 121 s instead of 200 s one by one (load average 4-6 from other work).
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(TOUR_JOBS) as pool:
        codes = list(pool.map(
            lambda command: subprocess.run(command, check=False).returncode,  # noqa: S603
            commands,
        ))
    print(f"kiosk: tour screenshots in {out.resolve()}")
    return 1 if any(codes) else 0


def run_app(args: argparse.Namespace) -> int:
    """The app itself."""
    from kiosk.config_files import discover_paths
    from kiosk.errors import KioskError
    from kiosk.fleet.effective import load_effective_config
    from kiosk.i18n import describe_error
    from screens.kivy_env import plan_display, prepare_kivy

    paths = discover_paths()
    try:
        config = load_effective_config(paths, args.config, remember=True)
    except KioskError as exc:
        message, next_step = describe_error(exc)
        print(f"kiosk: {message} {next_step}\n  {exc.detail}", file=sys.stderr)
        return 2
    settings = config.settings
    if args.demo and args.size:  # the demo on a panel size: that panel's millimetres
        from screens.measure import on_known_panel

        settings = on_known_panel(settings, _size(args.size) or ())
    plan = plan_display(settings.ui, windowed=args.windowed or args.demo,
                        force_headless=args.headless, size=_size(args.size))
    prepare_kivy(plan, settings.ui, paths.state_dir)
    autopilot = args.demo and (args.autopilot or plan.headless)
    temp_state = None
    state_dir = paths.state_dir
    if args.demo:
        state_dir = args.state_dir or demo_scratch_dir("kiosk-demo-")
        temp_state = None if args.state_dir else state_dir
    try:
        from screens.launch import launch

        return launch(settings, state_dir, demo=args.demo, lang=args.lang, autopilot=autopilot,
                      shots=args.shots, paths=paths, config_version=config.bundle_version,
                      offscreen=plan.headless)
    finally:
        if temp_state is not None:
            shutil.rmtree(temp_state, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    sys.exit(main())
