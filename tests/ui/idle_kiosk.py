"""The kiosk app on the demo's simulated devices, offscreen, for tests/ui/test_ops.py.

    python idle_kiosk.py STATE          idle at the administrator's sign-in
    python idle_kiosk.py STATE visit    signs in, starts an activation visit, prints
                                        "in visit" and waits there (8 s idle timeout)

The test sends it signals and reads its sd_notify datagrams (`kiosk --demo` runs the
autopilot when there is no display, so it cannot be used for this).
"""

from __future__ import annotations

import sys
from collections.abc import Generator
from dataclasses import replace
from pathlib import Path
from typing import Any


def main(state: Path, visit: bool) -> int:
    """Run the app until a signal ends it; its exit code."""
    from kiosk.paths import KioskPaths
    from kiosk.settings import Settings, UiSettings
    from screens.kivy_env import plan_display, prepare_kivy

    ui = replace(UiSettings(), fullscreen=False)
    if visit:
        ui = replace(ui, idle_timeout_s=8, idle_warning_s=3)
    settings = Settings(ui=ui)
    prepare_kivy(plan_display(settings.ui, force_headless=True), settings.ui, state)
    from screens.launch import build_app, launch, run_script

    if not visit:
        paths = KioskPaths(config_dir=state, state_dir=state, log_dir=state)
        return launch(settings, state / "services", demo=True, lang=None, autopilot=False,
                      shots=None, paths=paths, config_version=0)
    app = build_app(settings, state / "services", demo=True)
    app.handle_signals = True  # as screens.launch does
    run_script(app, lambda driver: _start_visit(app, driver), stop_when_done=False)
    app.run()
    return int(app.exit_code)


def _start_visit(app: Any, driver: Any) -> Generator[Any, None, None]:
    from screens.scripts import Walk, choose, sign_in

    walk = Walk(driver, app.effect_gate, None)
    yield from sign_in(walk, shots=False)
    yield from choose(walk, "activation")
    print("in visit", flush=True)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), visit=sys.argv[2:] == ["visit"]))
