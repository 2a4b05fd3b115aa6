"""UI bench: start to first frame, tap-to-frame on the PIN pad, resident memory over visits.

Runs the real app offscreen (SDL offscreen, Mesa llvmpipe) on the demo's simulated devices
in a child process per measurement and PRINTS the figures; it asserts nothing. The demo's
reference portal runs in its own process: its RSS is printed beside the kiosk's.

    .venv/bin/python bench/ui.py [--taps 200] [--visits 10] [--eager-scanner]

``--eager-scanner`` loads the document scanner when the services are up (as the kiosk
did before it loaded at the first document check), to compare the first-scan delay.

Targets (issue 6): first frame < 1.5 s, tap-to-frame p95 < 20 ms, RSS < 200 MB after ten
visits with no growth between visits 2 and 10.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


SETTLE_S = 1.0  # RSS is read again this long after a visit: the kiosk at rest


def rss_mb() -> float:
    """This process's resident memory in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def portal_rss_mb(app: Any) -> float | None:
    """The demo portal process's resident memory (None if it runs in this process)."""
    running = getattr(app.services, "running_portal", None)
    rss = getattr(running, "rss_mb", None)
    return rss() if callable(rss) else None


def child(mode: str, started_at: float, taps: int, visits: int, eager_scanner: bool) -> None:
    """Run inside the measured process; print one JSON line of results."""
    from kiosk.settings import Settings
    from screens.kivy_env import plan_display, prepare_kivy

    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        os.environ.pop(name, None)
    settings = Settings()
    state = Path(tempfile.mkdtemp(prefix="kiosk-bench-ui-"))
    prepare_kivy(plan_display(settings.ui, force_headless=True), settings.ui, state)
    t_env = time.time()
    from kivy.clock import Clock
    from kivy.core.window import Window

    from screens.launch import build_app, run_script
    from screens.scripts import Walk, activation, change_pin, sign_in

    t_import = time.time()
    app = build_app(settings, state / "services", demo=True)
    t_services = time.time()
    result: dict[str, Any] = {
        "import_s": t_import - started_at,
        "services_s": t_services - t_import,
        "env_s": t_env - started_at,
    }

    def first_flip(*_args: Any) -> None:
        Window.unbind(on_flip=first_flip)
        result.setdefault("first_frame_s", time.time() - started_at)
        result.setdefault("rss_first_frame_mb", rss_mb())

    Window.bind(on_flip=first_flip)
    switches = time_switches(app)

    def script(driver: Any) -> Any:
        walk = Walk(driver, app.effect_gate, None)
        yield driver.until_view_named("admin_sign_in")
        result["interactive_s"] = time.time() - started_at
        result["rss_ready_mb"] = rss_mb()
        result["portal_rss_ready_mb"] = portal_rss_mb(app)
        scanner = getattr(app.services, "scanner", None)
        if eager_scanner and scanner is not None:
            scanner.acquire()
            result["rss_scanner_loaded_mb"] = rss_mb()
        if mode == "start":
            return
        if mode == "taps":
            yield from tap_to_frame(driver, taps, result)
            return
        yield from sign_in(walk, shots=False)
        yield from activation(walk, "anna", shots=False, mistakes=False)
        result["first_scan_s"] = app.scan.first_update_s
        result["scanner_loads"] = getattr(scanner, "loads", None)
        rss, rested = [rss_mb()], []
        yield driver.pause(SETTLE_S)
        rested.append(rss_mb())
        pins = ["462951", "914273"]  # kiosk.demo.DEMO_ACTIVE_PIN and back
        for number in range(1, visits):
            old, new = pins[(number - 1) % 2], pins[number % 2]
            yield from change_pin(walk, old, new)
            rss.append(rss_mb())
            yield driver.pause(SETTLE_S)
            rested.append(rss_mb())
        result["rss_mb"] = rss
        result["rss_rested_mb"] = rested
        result["portal_rss_end_mb"] = portal_rss_mb(app)
        result["pytest_loaded"] = "pytest" in sys.modules

    outcome = run_script(app, script, timeout_s=120)
    Clock.schedule_once(lambda _dt: None, 0)
    app.run()
    result["error"] = repr(outcome[0]) if outcome and outcome[0] else None
    result["switch_ms"], result["switch_frame_ms"] = switches
    result["switch_slowest"] = app.slowest_switches
    print("BENCH " + json.dumps(result), flush=True)


def time_switches(app: Any) -> tuple[list[float], list[float]]:
    """Time every screen switch: ``show`` itself, and ``show`` -> the frame that has it."""
    from kivy.core.window import Window

    in_show: list[float] = []
    to_frame: list[float] = []
    pending: list[float] = []
    slowest: list[tuple[float, str]] = []
    app.slowest_switches = slowest
    show = app.show

    def timed_show(shown: Any) -> None:
        switching = shown.view.name.value != app.current_name
        started = time.perf_counter()
        show(shown)
        if switching:
            in_show.append((time.perf_counter() - started) * 1000)
            slowest.append((in_show[-1], shown.view.name.value))
            slowest.sort(reverse=True)
            del slowest[3:]
            pending[:] = [started]

    def flipped(*_args: Any) -> None:
        if pending:
            to_frame.append((time.perf_counter() - pending.pop()) * 1000)

    app.show = timed_show
    Window.bind(on_flip=flipped)
    return in_show, to_frame


def tap_to_frame(driver: Any, taps: int, result: dict[str, Any]) -> Any:
    """Tap a PIN-pad key inside the loop, time to the frame that shows the new dot count."""
    from kivy.base import EventLoop
    from kivy.core.window import Window

    from screens.driver import ScriptedTouch

    app = driver.app
    # the administrator's PIN pad: digits then back, so the count moves every tap
    yield driver.insert_card_named("9752210000000100")
    yield driver.until(lambda: app.current_screen().ids.pad.opacity == 1)
    yield driver.frames(3)
    pad = app.current_screen().ids.pad
    samples: list[float] = []
    pending: dict[str, float] = {}

    def flipped(*_args: Any) -> None:
        start = pending.pop("t", None)
        if start is not None and pad.typed == pending.pop("want", -1):
            samples.append(time.perf_counter() - start)

    Window.bind(on_flip=flipped)
    for index in range(taps):
        key = pad.digit_keys()["5"] if index % 2 == 0 else pad.key("back")
        want = pad.typed + (1 if index % 2 == 0 else -1)
        x, y = key.to_window(*key.center)
        touch = ScriptedTouch(x, y)
        pending["t"] = time.perf_counter()
        pending["want"] = want
        EventLoop.post_dispatch_input("begin", touch)
        EventLoop.post_dispatch_input("end", touch)
        yield driver.frames(2)
    Window.unbind(on_flip=flipped)
    result["tap_to_frame_ms"] = [s * 1000 for s in samples]
    result["taps"] = taps


def run_child(mode: str, taps: int, visits: int, eager_scanner: bool = False) -> dict[str, Any]:
    started = time.time()
    command = [sys.executable, __file__, "--child", mode, "--started", repr(started),
               "--taps", str(taps), "--visits", str(visits)]
    if eager_scanner:
        command.append("--eager-scanner")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900,
                         check=False, cwd=ROOT)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH "):
            return dict(json.loads(line[6:]))
    raise SystemExit(f"bench child {mode} failed:\n{out.stderr[-3000:]}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--started", type=float, default=0.0)
    parser.add_argument("--taps", type=int, default=200)
    parser.add_argument("--visits", type=int, default=10)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--eager-scanner", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.started, args.taps, args.visits, args.eager_scanner)
        return

    print(f"UI bench, offscreen 1280x800, {os.cpu_count()} CPUs")
    firsts, interactive = [], []
    for _ in range(args.starts):
        r = run_child("start", 0, 0)
        firsts.append(r["first_frame_s"])
        interactive.append(r["interactive_s"])
        print(f"  start: imports {r['import_s']:.2f} s, demo services {r['services_s']:.2f} s, "
              f"first frame {r['first_frame_s']:.2f} s, sign-in screen ready "
              f"{r['interactive_s']:.2f} s; RSS at first frame {r['rss_first_frame_mb']:.0f} MB, "
              f"with demo services up {r['rss_ready_mb']:.0f} MB")
    print(f"process start -> first frame: median {statistics.median(firsts):.2f} s "
          f"(target < 1.5 s); -> interactive sign-in: median "
          f"{statistics.median(interactive):.2f} s")

    r = run_child("taps", args.taps, 0)
    taps = r.get("tap_to_frame_ms") or []
    if taps:
        print(f"PIN-pad tap -> frame showing it: n={len(taps)} median "
              f"{statistics.median(taps):.2f} ms, p95 {percentile(taps, 95):.2f} ms, "
              f"max {max(taps):.2f} ms (target p95 < 20 ms)")
    else:
        print(f"PIN-pad tap -> frame: no samples ({r.get('error')})")

    r = run_child("visits", 0, args.visits, args.eager_scanner)
    rss = r.get("rss_mb") or []
    rested = r.get("rss_rested_mb") or []
    if r.get("error"):
        print(f"visits stopped early: {r['error']}")
    if r.get("first_scan_s") is not None:
        how = "loaded with the services" if args.eager_scanner else "loaded on first use"
        print(f"document check opened -> first scan result (visit 1, scanner {how}): "
              f"{r['first_scan_s']:.2f} s; scanner engine loads: {r.get('scanner_loads')}"
              + (f"; RSS after the eager load {r['rss_scanner_loaded_mb']:.0f} MB"
                 if r.get("rss_scanner_loaded_mb") else ""))
    for key, what in (("switch_ms", "in show()"), ("switch_frame_ms", "show() -> its frame")):
        times = r.get(key) or []
        if times:
            print(f"screen switches over the visits, {what}: n={len(times)} median "
                  f"{statistics.median(times):.1f} ms, p95 {percentile(times, 95):.1f} ms, "
                  f"max {max(times):.1f} ms")
    if r.get("switch_slowest"):
        print("  slowest switches in show(): " + ", ".join(
            f"{name} {ms:.0f} ms" for ms, name in r["switch_slowest"]))
    if rss:
        print("kiosk RSS right after each visit (MB): " + ", ".join(f"{v:.0f}" for v in rss))
    if rested:
        print(f"kiosk RSS {SETTLE_S:.0f} s after each visit (MB): "
              + ", ".join(f"{v:.0f}" for v in rested))
        growth = rested[-1] - rested[1] if len(rested) > 1 else float("nan")
        print(f"kiosk RSS after visit 1: {rested[0]:.0f} MB; after visit {len(rested)}: "
              f"{rested[-1]:.0f} MB (target < 200 MB); growth visits 2->{len(rested)}: "
              f"{growth:+.1f} MB")
    if r.get("pytest_loaded"):
        print("  (pytest was loaded into the measured process: its ~14 MB are in the figures)")
    for key, when in (("portal_rss_ready_mb", "services up"), ("portal_rss_end_mb", "the end")):
        if r.get(key) is not None:
            print(f"demo portal process RSS at {when}: {r[key]:.0f} MB (not the kiosk's; "
                  "production portals are remote)")


if __name__ == "__main__":
    main()
