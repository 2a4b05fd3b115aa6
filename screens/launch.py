"""Start the App (Kivy is imported here, after screens.kivy_env prepared it)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Generator
from dataclasses import replace
from pathlib import Path
from typing import Any

from kiosk.paths import KioskPaths
from kiosk.settings import Settings

log = logging.getLogger(__name__)


def with_language(settings: Settings, lang: str | None) -> Settings:
    """Settings with the start language replaced (if given)."""
    return settings if not lang else replace(settings, ui=replace(settings.ui, language=lang))


def build_app(settings: Settings, state_dir: Path, *, demo: bool,
              on_ready: Callable[[Any], None] | None = None) -> Any:
    """The App; its services (simulated in demo mode) are composed on a worker at start."""
    from screens.app import KioskApp
    from screens.compose import compose

    return KioskApp(settings=settings, compose=lambda: compose(settings, state_dir, demo),
                    demo=demo, on_ready=on_ready)


def run_script(app: Any, script: Callable[[Any], Generator[Any, None, None]],
               timeout_s: float = 60.0, stop_when_done: bool = True,
               shots_only: bool = False) -> list[BaseException | None]:
    """Run a driver script once the app is up; returns a list holding its outcome.

    ``shots_only``: the window is offscreen and only the photographed frames are drawn
    (``Driver``)."""
    from screens.driver import Driver

    outcome: list[BaseException | None] = []

    def ready(running: Any) -> None:
        driver = Driver(running, timeout_s=timeout_s, shots_only=shots_only)
        running.driver = driver

        def finished(error: BaseException | None) -> None:
            outcome.append(error)
            if stop_when_done:
                running.stop()

        driver.run(script(driver), finished)

    app.on_ready = ready
    return outcome


def launch(settings: Settings, state_dir: Path, *, demo: bool, lang: str | None,
           autopilot: bool, shots: Path | None, paths: KioskPaths, config_version: int,
           offscreen: bool = False) -> int:
    """Run the kiosk until it is closed; with the autopilot, run the demo visit and stop
    (``offscreen``: no one sees the window, so only its photographed frames are drawn)."""
    from screens.scripts import Walk, demo_visit

    settings = with_language(settings, lang)
    app = build_app(settings, state_dir, demo=demo)
    app.handle_signals = True  # SIGHUP: exit 75 after the visit; SIGTERM: wipe, exit 0
    if not autopilot:
        if not demo:
            _mark_healthy_when_drawn(app, paths, config_version)
        app.run()
        return int(app.exit_code)  # 75 after SIGHUP: systemd restarts the kiosk
    out = (shots or paths.state_dir / "demo-shots").resolve()
    for stale in out.glob("[0-9][0-9]-*.png"):  # an earlier run's, numbered for other steps
        stale.unlink()
    print(f"kiosk: no display: running the activation visit offscreen; screenshots in {out}")
    walk_holder: list[Walk] = []

    def script(driver: Any) -> Generator[Any, None, None]:
        walk = Walk(driver, app.effect_gate, out)
        walk_holder.append(walk)
        return demo_visit(walk)

    outcome = run_script(app, script, shots_only=offscreen)
    app.run()
    error = outcome[0] if outcome else RuntimeError("the app stopped before the visit ended")
    walk = walk_holder[0] if walk_holder else None
    shots_taken = [out / f"{n:02d}-{name}.png" for n, name in enumerate(walk.names, 1)] if (
        walk is not None
    ) else []
    shots_taken = [path for path in shots_taken if path.is_file()]
    for path in shots_taken:
        print(f"  {path}")
    if error is not None:
        print(f"kiosk: the demo visit did not finish: {error}", file=sys.stderr)
        return 1
    print(f"kiosk: the activation visit finished; {len(shots_taken)} screenshots in {out}")
    return 0


def _mark_healthy_when_drawn(app: Any, paths: KioskPaths, config_version: int) -> None:
    from kiosk.fleet.health_marker import mark_healthy

    def ready(_app: Any) -> None:
        try:
            mark_healthy(paths, config_version)
        except OSError:
            log.exception("could not write the health marker")

    app.on_ready = ready
