"""UI bench: start to first frame, tap-to-frame on the PIN pad, resident memory over visits.

Runs the real app offscreen (SDL offscreen, Mesa llvmpipe) on the demo's simulated devices
in a child process per measurement and PRINTS the figures; it asserts nothing. The demo's
reference portal runs in its own process: its RSS is printed beside the kiosk's.

    .venv/bin/python bench/ui.py [--taps 200] [--visits 10] [--starts 3] [--json] [--smoke]

A bare Kivy app (one Label, the same settings and renderer) is started in the same run,
interleaved with the kiosk's starts, and its figures are printed beside the kiosk's.

The kiosk children have their own config directory (a site file naming the kiosk, as an
installed kiosk has) and state directory. The first start after a config change validates
the files with pydantic and records them (kiosk/fleet/settings_record.py); it is started
once before the others and printed on its own line; the measured starts are restarts on
unchanged files, built from that record.

``--eager-scanner`` loads the document scanner when the services are up (as the kiosk
did before it loaded at the first document check), to compare the first-scan delay.

Targets (issue 16): first frame at most 1.3x bare Kivy's; sign-in ready at most 1.0 s after
the first frame; RSS after 10 visits at most bare Kivy + 80 MB, flat over 50 visits.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# the large libraries whose presence in the kiosk's process after the visits is printed
LIBRARIES = ("pydantic", "cryptography", "asn1crypto", "pyhanko_certvalidator", "requests",
             "numpy", "cv2", "fastapi", "uvicorn")
SETTLE_S = 1.0  # RSS is read again this long after a visit: the kiosk at rest
TAP_LOST_S = 2.0  # a tap with no frame showing it by then is counted as lost


def rss_mb() -> float:
    """This process's resident memory in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class RssPeak:
    """The highest resident memory of this process while it runs (sampled every 20 ms)."""

    def __init__(self) -> None:
        import threading

        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def start(self) -> RssPeak:
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mb())

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def pid_rss_mb(pid: int | None) -> float | None:
    """Another process's resident memory in MB (the scanner's worker), if it runs."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def portal_rss_mb(app: Any) -> float | None:
    """The demo portal process's resident memory (None if it runs in this process)."""
    running = getattr(app.services, "running_portal", None)
    rss = getattr(running, "rss_mb", None)
    return rss() if callable(rss) else None


def child(mode: str, started_at: float, taps: int, visits: int, eager_scanner: bool) -> None:
    """Run inside the measured process; print one JSON line of results."""
    from kiosk.config_files import discover_paths
    from kiosk.fleet.effective import load_effective_config
    from screens.kivy_env import plan_display, prepare_kivy

    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        os.environ.pop(name, None)
    # the settings as the kiosk itself loads them (screens.main.run_app): the packaged and
    # site files, validated or built from the record of their last validation
    config = load_effective_config(discover_paths(), None, remember=True)
    settings = config.settings
    state = Path(tempfile.mkdtemp(prefix="kiosk-bench-ui-"))
    prepare_kivy(plan_display(settings.ui, force_headless=True), settings.ui, state)
    t_env = time.time()
    from kivy.clock import Clock
    from kivy.core.window import Window

    from screens.launch import build_app, run_script

    t_import = time.time()
    app = build_app(settings, state / "services", demo=True)
    t_services = time.time()
    result: dict[str, Any] = {
        "config_validated_now": config.validated_now,
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
        # the bench's own scripts (demo cast, visit walks) load after the first frame: the
        # kiosk does not import them
        from screens.scripts import Walk, activation, change_pin, sign_in

        walk = Walk(driver, app.effect_gate, None)
        yield driver.until_view_named("admin_sign_in")
        result["interactive_s"] = time.time() - started_at
        result["rss_ready_mb"] = rss_mb()
        result["portal_rss_ready_mb"] = portal_rss_mb(app)
        scanner = getattr(app.services, "scanner", None)
        if eager_scanner and scanner is not None:
            load = getattr(scanner, "acquire", None) or scanner.check  # in-process or worker
            load()
            result["rss_scanner_loaded_mb"] = rss_mb()
        if mode == "start":
            return
        if mode == "taps":
            yield from tap_to_frame(driver, taps, result)
            return
        yield from sign_in(walk, shots=False)
        peak = RssPeak().start()  # the document check of visit 1 is in here
        yield from activation(walk, "anna", shots=False, mistakes=False)
        result["rss_peak_visit1_mb"] = peak.stop()
        result["first_scan_s"] = app.scan.first_update_s
        result["scanner_loads"] = getattr(scanner, "loads", None)
        rss, rested = [rss_mb()], []
        yield driver.pause(SETTLE_S)
        rested.append(rss_mb())
        pins = ["462951", "914273"]  # kiosk.demo_cast.DEMO_ACTIVE_PIN and back
        for number in range(1, visits):
            old, new = pins[(number - 1) % 2], pins[number % 2]
            yield from change_pin(walk, old, new)
            rss.append(rss_mb())
            yield driver.pause(SETTLE_S)
            rested.append(rss_mb())
        result["rss_mb"] = rss
        result["rss_rested_mb"] = rested
        result["scanner_in_process"] = "cv2" in sys.modules
        result["scanner_worker_rss_mb"] = pid_rss_mb(getattr(scanner, "pid", None))
        result["portal_rss_end_mb"] = portal_rss_mb(app)
        result["pytest_loaded"] = "pytest" in sys.modules
        result["libraries_loaded"] = sorted(name for name in LIBRARIES if name in sys.modules)

    outcome = run_script(app, script, timeout_s=120)
    Clock.schedule_once(lambda _dt: None, 0)
    app.run()
    result["error"] = repr(outcome[0]) if outcome and outcome[0] else None
    result["switch_ms"], result["switch_frame_ms"] = switches
    result["switch_slowest"] = app.slowest_switches
    shutil.rmtree(state, ignore_errors=True)  # the demo's state and Kivy's logs (~1.5 MB)
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
    lost = 0

    def flipped(*_args: Any) -> None:
        # every tap counts: its time runs to the first frame that shows its dot count,
        # however many frames that takes (a slow tap is what p95 is for)
        if "t" in pending and pad.typed == pending["want"]:
            samples.append(time.perf_counter() - pending.pop("t"))

    Window.bind(on_flip=flipped)
    for index in range(taps):
        key = pad.digit_keys()["5"] if index % 2 == 0 else pad.key("back")
        want = pad.typed + (1 if index % 2 == 0 else -1)
        x, y = key.to_window(*key.center)
        touch = ScriptedTouch(x, y)
        pending["want"] = want
        pending["t"] = time.perf_counter()
        EventLoop.post_dispatch_input("begin", touch)
        EventLoop.post_dispatch_input("end", touch)
        deadline = time.monotonic() + TAP_LOST_S
        yield driver.until(lambda d=deadline: "t" not in pending or time.monotonic() > d)
        if pending.pop("t", None) is not None:
            lost += 1
            yield driver.until(lambda w=want: pad.typed == w)  # let the count catch up
    Window.unbind(on_flip=flipped)
    result["tap_to_frame_ms"] = [s * 1000 for s in samples]
    result["taps_lost"] = lost
    result["taps"] = taps


SITE_TOML = '[kiosk]\nkiosk_id = "bench-kiosk"\ncard_office = "bench-office"\n'


def kiosk_dirs(home: Path) -> dict[str, str]:
    """The kiosk children's own config (a site file, as an installed kiosk has) and state."""
    (home / "etc").mkdir(parents=True, exist_ok=True)
    (home / "etc" / "kiosk.toml").write_text(SITE_TOML, encoding="utf-8")
    return {"KIOSK_CONFIG_DIR": str(home / "etc"), "KIOSK_STATE_DIR": str(home / "state"),
            "KIOSK_LOG_DIR": str(home / "log")}


def run_child(mode: str, taps: int, visits: int, eager_scanner: bool = False,
              dirs: dict[str, str] | None = None) -> dict[str, Any]:
    started = time.time()
    command = [sys.executable, __file__, "--child", mode, "--started", repr(started),
               "--taps", str(taps), "--visits", str(visits)]
    if eager_scanner:
        command.append("--eager-scanner")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(dirs or {})
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900,
                         check=False, cwd=ROOT)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH "):
            return dict(json.loads(line[6:]))
    raise SystemExit(f"bench child {mode} failed:\n{out.stderr[-3000:]}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def bare_child(started_at: float) -> None:
    """A bare Kivy app with the kiosk's settings and renderer: one label, first frame, RSS."""
    from kiosk.settings import Settings
    from screens.kivy_env import plan_display, prepare_kivy

    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        os.environ.pop(name, None)
    settings = Settings()
    state = Path(tempfile.mkdtemp(prefix="kiosk-bench-bare-"))
    prepare_kivy(plan_display(settings.ui, force_headless=True), settings.ui, state)
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.core.window import Window
    from kivy.uix.label import Label

    result: dict[str, Any] = {}

    class Bare(App):  # type: ignore[misc]
        def build(self) -> Any:
            return Label(text="bare Kivy")

    def first_flip(*_args: Any) -> None:
        Window.unbind(on_flip=first_flip)
        result["first_frame_s"] = time.time() - started_at
        result["rss_first_frame_mb"] = rss_mb()
        Clock.schedule_once(lambda _dt: App.get_running_app().stop(), 0.3)

    Window.bind(on_flip=first_flip)
    Bare().run()
    result["rss_end_mb"] = rss_mb()
    shutil.rmtree(state, ignore_errors=True)
    print("BENCH " + json.dumps(result), flush=True)


def run_bare() -> dict[str, Any]:
    """One start of the bare Kivy app in its own process."""
    started = time.time()
    command = [sys.executable, __file__, "--child", "bare", "--started", repr(started)]
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300,
                         check=False, cwd=ROOT)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH "):
            return dict(json.loads(line[6:]))
    raise SystemExit(f"bare Kivy child failed:\n{out.stderr[-3000:]}")


def summary(values: list[float]) -> dict[str, float]:
    """Median, p95 and max of a list (empty: {})."""
    if not values:
        return {}
    return {"n": len(values), "median": statistics.median(values),
            "p95": percentile(values, 95), "max": max(values)}


def measure(starts: int, taps: int, visits: int, eager_scanner: bool) -> dict[str, Any]:
    """Every figure, the bare Kivy app's beside the kiosk's (starts interleaved)."""
    home = Path(tempfile.mkdtemp(prefix="kiosk-bench-ui-home-"))
    try:
        return measure_in(kiosk_dirs(home), starts, taps, visits, eager_scanner)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def measure_in(dirs: dict[str, str], starts: int, taps: int, visits: int,
               eager_scanner: bool) -> dict[str, Any]:
    """``measure`` with the kiosk's directories made."""
    # the first start after a config change validates it (and records it); the others
    # start as a kiosk restarted on unchanged files does
    cold = run_child("start", 0, 0, dirs=dirs)
    bare, kiosk = [], []
    for _ in range(starts):
        bare.append(run_bare())
        kiosk.append(run_child("start", 0, 0, dirs=dirs))
    bare_first = statistics.median(r["first_frame_s"] for r in bare)
    kiosk_first = statistics.median(r["first_frame_s"] for r in kiosk)
    bare_rss = statistics.median(r["rss_first_frame_mb"] for r in bare)
    ready_after_frame = [r["interactive_s"] - r["first_frame_s"] for r in kiosk]
    out: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "bare_kivy": {"first_frame_s": bare_first, "rss_first_frame_mb": bare_rss,
                      "runs": bare},
        "kiosk_start": {
            "first_frame_s": kiosk_first,
            "first_frame_ratio": kiosk_first / bare_first,
            "rss_first_frame_mb": statistics.median(r["rss_first_frame_mb"] for r in kiosk),
            "sign_in_ready_s": statistics.median(r["interactive_s"] for r in kiosk),
            "sign_in_ready_after_first_frame_s": statistics.median(ready_after_frame),
            "rss_ready_mb": statistics.median(r["rss_ready_mb"] for r in kiosk),
            "config_validated_now": [r["config_validated_now"] for r in kiosk],
            "runs": kiosk,
        },
        "kiosk_start_config_changed": {
            "first_frame_s": cold["first_frame_s"],
            "first_frame_ratio": cold["first_frame_s"] / bare_first,
            "rss_first_frame_mb": cold["rss_first_frame_mb"],
            "config_validated_now": cold["config_validated_now"],
        },
    }
    if taps:
        r = run_child("taps", taps, 0, dirs=dirs)
        out["taps"] = {"asked": taps, "lost": r.get("taps_lost"), "error": r.get("error"),
                       "tap_to_frame_ms": summary(r.get("tap_to_frame_ms") or [])}
    if visits:
        r = run_child("visits", 0, visits, eager_scanner, dirs=dirs)
        rested = r.get("rss_rested_mb") or []
        out["visits"] = {
            "asked": visits, "error": r.get("error"),
            "rss_after_each_mb": r.get("rss_mb") or [],
            "rss_rested_mb": rested,
            "rss_after_last_minus_bare_mb": (rested[-1] - bare_rss) if rested else None,
            "growth_visit2_to_last_mb": (rested[-1] - rested[1]) if len(rested) > 1 else None,
            "first_scan_s": r.get("first_scan_s"), "scanner_loads": r.get("scanner_loads"),
            "switch_ms": summary(r.get("switch_ms") or []),
            "switch_frame_ms": summary(r.get("switch_frame_ms") or []),
            "switch_slowest": r.get("switch_slowest"),
            "portal_rss_end_mb": r.get("portal_rss_end_mb"),
            "pytest_loaded": r.get("pytest_loaded"),
            "libraries_loaded": r.get("libraries_loaded"),
            "scanner_in_process": r.get("scanner_in_process"),
            "rss_peak_visit1_mb": r.get("rss_peak_visit1_mb"),
            "scanner_worker_rss_mb": r.get("scanner_worker_rss_mb"),
        }
    return out


def report(out: dict[str, Any]) -> None:
    """The figures as text."""
    bare, start = out["bare_kivy"], out["kiosk_start"]
    print(f"UI bench, offscreen 1280x800, {out['cpus']} CPUs; bare Kivy = one Label, same "
          "settings and renderer, starts interleaved with the kiosk's")
    print(f"first frame: kiosk {start['first_frame_s']:.3f} s, bare Kivy "
          f"{bare['first_frame_s']:.3f} s, ratio {start['first_frame_ratio']:.2f}x "
          "(target <= 1.3x)")
    print(f"RSS at first frame: kiosk {start['rss_first_frame_mb']:.0f} MB, bare Kivy "
          f"{bare['rss_first_frame_mb']:.0f} MB")
    changed = out["kiosk_start_config_changed"]
    print(f"first start after a config change (its files validated with pydantic, then "
          f"recorded): first frame {changed['first_frame_s']:.3f} s, "
          f"{changed['first_frame_ratio']:.2f}x bare, RSS {changed['rss_first_frame_mb']:.0f} MB")
    print(f"sign-in ready: {start['sign_in_ready_s']:.2f} s after process start, "
          f"{start['sign_in_ready_after_first_frame_s']:.2f} s after the first frame "
          f"(target <= 1.0 s); RSS then {start['rss_ready_mb']:.0f} MB")
    taps = out.get("taps")
    if taps:
        t = taps["tap_to_frame_ms"]
        if t:
            print(f"PIN-pad tap -> frame showing it: {t['n']} of {taps['asked']} taps "
                  f"({taps['lost']} lost), median {t['median']:.2f} ms, p95 {t['p95']:.2f} ms, "
                  f"max {t['max']:.2f} ms")
        else:
            print(f"PIN-pad taps: no samples ({taps['error']})")
    visits = out.get("visits")
    if visits:
        if visits["error"]:
            print(f"visits stopped early: {visits['error']}")
        rested = visits["rss_rested_mb"]
        if rested:
            print(f"kiosk RSS {SETTLE_S:.0f} s after each visit (MB): "
                  + ", ".join(f"{v:.0f}" for v in rested))
            print(f"after visit {len(rested)}: {rested[-1]:.0f} MB = bare Kivy + "
                  f"{visits['rss_after_last_minus_bare_mb']:.0f} MB (target <= +80 MB); "
                  f"growth visits 2->{len(rested)}: {visits['growth_visit2_to_last_mb']:+.1f} MB")
        for key, what in (("switch_ms", "in show()"), ("switch_frame_ms", "show() -> frame")):
            s = visits[key]
            if s:
                print(f"screen switches, {what}: n={s['n']} median {s['median']:.1f} ms, "
                      f"p95 {s['p95']:.1f} ms, max {s['max']:.1f} ms")
        if visits.get("first_scan_s") is not None:
            print(f"document check -> first scan result: {visits['first_scan_s']:.2f} s")
        if visits.get("portal_rss_end_mb") is not None:
            print(f"demo portal process RSS at the end: {visits['portal_rss_end_mb']:.0f} MB "
                  "(its own process; not the kiosk's)")
        if visits.get("scanner_in_process") is not None:
            where = ("in the kiosk's process" if visits["scanner_in_process"]
                     else "in its own worker process")
            worker = visits.get("scanner_worker_rss_mb")
            peak = visits.get("rss_peak_visit1_mb")
            if peak:
                print(f"kiosk RSS peak during visit 1 (with its document check): {peak:.0f} MB")
            print(f"document scanner: {where}"
                  + (f", worker RSS at the end {worker:.0f} MB" if worker else ""))
        if visits.get("libraries_loaded") is not None:
            print("large libraries in the kiosk's process after the visits: "
                  + (", ".join(visits["libraries_loaded"]) or "none of " + ", ".join(LIBRARIES)))
        if visits.get("pytest_loaded"):
            print("  (pytest was loaded into the measured process: its ~14 MB are in the figures)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--started", type=float, default=0.0)
    parser.add_argument("--taps", type=int, default=200)
    parser.add_argument("--visits", type=int, default=10)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--eager-scanner", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--smoke", action="store_true", help="one start, 4 taps, 2 visits")
    args = parser.parse_args()
    if args.child == "bare":
        bare_child(args.started)
        return
    if args.child:
        child(args.child, args.started, args.taps, args.visits, args.eager_scanner)
        return
    if args.smoke:
        args.starts, args.taps, args.visits = 1, 4, 2
    out = measure(args.starts, args.taps, args.visits, args.eager_scanner)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        report(out)


if __name__ == "__main__":
    main()
