"""The tour: every screen of every visit in one language, one PNG each (run per language).

``python -m screens.tour --out DIR --lang sv`` (``kiosk --demo --tour DIR`` runs it once per
language in a fresh process, on fresh simulated cards and a fresh demo portal).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    """Walk the full tour and save the screenshots."""
    parser = argparse.ArgumentParser(prog="screens.tour")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--lang", default="sv")
    parser.add_argument("--size", default="")
    parser.add_argument("--config", type=Path)
    parser.add_argument("--script", default="full_tour", help="a function of screens.scripts")
    parser.add_argument("--reader-pad", action="store_true",
                        help="the simulated reader has its own PIN pad (hardware.sim_pin_pad)")
    args = parser.parse_args(argv)

    from kiosk.config_files import discover_paths
    from kiosk.fleet.effective import load_effective_config
    from kiosk.paths import demo_scratch_dir
    from screens.kivy_env import plan_display, prepare_kivy

    paths = discover_paths()
    settings = load_effective_config(paths, args.config).settings
    if args.reader_pad:
        from dataclasses import replace

        settings = replace(settings, hardware=replace(settings.hardware, sim_pin_pad=True))
    size = tuple(int(n) for n in args.size.split("x")) if args.size else None
    from screens.measure import on_known_panel

    settings = on_known_panel(settings, size or (settings.ui.width, settings.ui.height))
    plan = plan_display(settings.ui, windowed=True, force_headless=True,
                        size=size)  # type: ignore[arg-type]
    state = demo_scratch_dir("kiosk-tour-")  # in RAM when there is some (kiosk.paths)
    prepare_kivy(plan, settings.ui, state)
    try:
        return _run(settings, state, args.out, args.lang, args.script)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def write_widgets(path: Path, app: Any, lang: str, reports: dict[str, Any]) -> None:
    """The measured widgets of every screen, with the panel and the limits they had."""
    import json

    from kivy.core.window import Window

    panel = app.panel()
    ui = app.settings.ui
    document = {
        "lang": lang,
        "window_px": list(Window.size),
        "panel_mm": [ui.panel_width_mm, ui.panel_height_mm],
        "px_per_mm": round(panel.px_per_mm, 3),
        "limits": {"min_target_mm": ui.min_target_mm, "min_key_mm": ui.min_key_mm,
                   "min_text_cap_mm": ui.min_text_cap_mm, "text_contrast": 4.5,
                   "non_text_contrast": 3.0},
        "screens": reports,
    }
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _run(settings: Any, state: Path, out: Path, lang: str, script_name: str) -> int:
    from screens import scripts
    from screens.launch import build_app, run_script, with_language
    from screens.scripts import Walk

    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    app = build_app(with_language(settings, lang), state / "services", demo=True)
    walk_function = getattr(scripts, script_name)

    walks: list[Walk] = []
    reports: dict[str, Any] = {}

    def measured(path: Path, frame: Any) -> None:
        from screens.widget_report import report

        reports[path.stem] = report(app, frame, app.panel())

    def script(driver: Any) -> Any:
        driver.on_frame = measured
        walks.append(Walk(driver, app.effect_gate, out))
        return walk_function(walks[-1])

    outcome = run_script(app, script, shots_only=True)  # the window is offscreen
    app.run()
    error = outcome[0] if outcome else RuntimeError("the app stopped early")
    count = len(list(out.glob("*.png")))
    write_widgets(out / "widgets.json", app, lang, reports)
    for problem in walks[0].problems if walks else ():
        print(f"tour ({lang}): layout: {problem}", file=sys.stderr)
    if error is not None:
        print(f"tour ({lang}): stopped after {count} screenshots: {error}", file=sys.stderr)
        return 1
    print(f"tour ({lang}): {count} screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
