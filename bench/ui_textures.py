"""Where the UI's textures are: GL texture bytes held by each screen, the chrome, Kivy's caches.

Runs the demo app offscreen, signs in, does one activation and some PIN changes, and
after each step PRINTS (asserts nothing) the RSS, the bytes of every distinct texture
held by each screen (labels, images, canvas instructions; on llvmpipe each is malloc'ed
memory in Mesa), which screens are built, and the entries of kivy.cache.Cache. `--json`
prints the same figures, one entry per step, as one JSON object with the run's parameters.

    .venv/bin/python bench/ui_textures.py [--visits 3] [--drop] [--rebuilds N] [--json]
                                          [--smoke] [--keep]
"""

from __future__ import annotations

import argparse
import atexit
import ctypes
import ctypes.util
import gc
import json
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    """This process's resident memory in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _instructions(group: Any) -> list[Any]:
    found = []
    for instruction in getattr(group, "children", None) or []:
        found.append(instruction)
        found.extend(_instructions(instruction))
    return found


def texture_bytes(widget: Any, seen: set[int]) -> tuple[int, int]:
    """(bytes, count) of the distinct GL textures under ``widget`` not counted yet."""
    total = count = 0
    for node in widget.walk(restrict=True):
        textures = [getattr(node, "texture", None)]
        for canvas in (getattr(node, "canvas", None),):
            if canvas is None:
                continue
            for group in (canvas.before, canvas, canvas.after):
                textures.extend(getattr(i, "texture", None) for i in _instructions(group))
        for texture in textures:
            if texture is None or not hasattr(texture, "width"):
                continue
            owner = getattr(texture, "owner", None) or texture
            if id(owner) in seen:
                continue
            seen.add(id(owner))
            total += owner.width * owner.height * 4
            count += 1
    return total, count


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                "usmblks", "fsmblks", "uordblks", "fordblks",
                                                "keepcost")]


def heap_mb() -> tuple[float, float]:
    """(in use, free) MB of glibc's malloc heap (mallinfo2), NaN elsewhere."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return float("nan"), float("nan")
    mb = 1024 * 1024
    return (info.uordblks + info.hblkhd) / mb, info.fordblks / mb


def cache_usage() -> dict[str, tuple[int, int]]:
    """Entries and texture bytes per kivy.cache.Cache category."""
    from kivy.cache import Cache

    usage = {}
    for category, objects in Cache._objects.items():
        size = 0
        for entry in objects.values():
            obj = entry.get("object")
            for texture in (obj, getattr(obj, "texture", None)):
                owner = getattr(texture, "owner", None) or texture
                if owner is not None and hasattr(owner, "width") and hasattr(owner, "bind"):
                    size += owner.width * owner.height * 4
                    break
        usage[category] = (len(objects), size)
    return usage


def report(app: Any, label: str, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Print the figures for the app as it is now; return them."""
    mb = 1024 * 1024
    seen: set[int] = set()
    per_screen = []
    for name, screen in app.screens.items():
        size, count = texture_bytes(screen, seen)
        per_screen.append((size, count, name, screen.parent is not None))
    chrome_size, chrome_count = texture_bytes(app.root, seen)
    panel = app.demo_panel
    panel_size = texture_bytes(panel, set())[0] if panel is not None else 0
    off = sum(s for s, _c, _n, shown in per_screen if not shown)
    used, free = heap_mb()
    rss, threads = rss_mb(), threading.active_count()
    say(f"== {label}: RSS {rss:.0f} MB, malloc in use {used:.0f} MB, free {free:.0f} MB, "
        f"threads {threads}; screens built {len(app.screens)}; "
        f"textures of screens NOT on display {off / mb:.1f} MB, "
        f"on display + chrome {chrome_size / mb:.1f} MB ({chrome_count} textures; "
        f"demo panel {panel_size / mb:.1f} MB)")
    largest = sorted(per_screen, reverse=True)[:8]
    for size, count, name, shown in largest:
        say(f"   {name:16s} {size / mb:5.2f} MB in {count:3d} textures"
            + (" (on display)" if shown else ""))
    usage = cache_usage()
    say("   Cache: " + ", ".join(f"{c} {n} entries/{s / mb:.1f} MB"
                                 for c, (n, s) in sorted(usage.items()) if n))
    return {
        "label": label, "rss_mb": round(rss, 1), "malloc_in_use_mb": round(used, 1),
        "malloc_free_mb": round(free, 1), "threads": threads, "screens_built": len(app.screens),
        "textures_not_on_display_mb": round(off / mb, 2),
        "on_display_and_chrome_mb": round(chrome_size / mb, 2),
        "on_display_and_chrome_textures": chrome_count,
        "demo_panel_mb": round(panel_size / mb, 2),
        "largest_screens": [{"screen": name, "textures_mb": round(size / mb, 3),
                             "textures": count, "on_display": shown}
                            for size, count, name, shown in largest],
        "cache": {c: {"entries": n, "textures_mb": round(s / mb, 2)}
                  for c, (n, s) in sorted(usage.items()) if n},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--visits", type=int, default=3)
    parser.add_argument("--drop", action="store_true",
                        help="at the end, drop the screens not on display and measure again")
    parser.add_argument("--rebuilds", type=int, default=0,
                        help="with --drop: build and drop the screens this many times more")
    parser.add_argument("--smoke", action="store_true",
                        help="a few iterations only: proves the bench still runs (tests)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if args.smoke:
        args.visits, args.drop, args.rebuilds = 1, True, 0
    say: Callable[[str], None] = (lambda _line: None) if args.json else print
    figures: dict[str, Any] = {"visits": args.visits, "drop": args.drop,
                               "rebuilds": args.rebuilds, "smoke": args.smoke,
                               "cpus": os.cpu_count(), "load_average": os.getloadavg()[0],
                               "steps": []}
    steps: list[dict[str, Any]] = figures["steps"]
    from kiosk.settings import Settings
    from screens.kivy_env import plan_display, prepare_kivy

    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        os.environ.pop(name, None)
    settings = Settings()
    state = Path(tempfile.mkdtemp(prefix="kiosk-bench-tex-"))
    if not args.keep:  # the demo's state and Kivy's logs
        atexit.register(shutil.rmtree, state, ignore_errors=True)
    prepare_kivy(plan_display(settings.ui, force_headless=True), settings.ui, state)
    from screens.launch import build_app, run_script
    from screens.scripts import Walk, activation, change_pin, sign_in

    app = build_app(settings, state / "services", demo=True)

    def script(driver: Any) -> Any:
        walk = Walk(driver, app.effect_gate, None)
        yield driver.until_view_named("admin_sign_in")
        steps.append(report(app, "sign-in, services up", say))
        yield from sign_in(walk, shots=False)
        yield from activation(walk, "anna", shots=False, mistakes=False)
        yield driver.pause(1.0)
        steps.append(report(app, "after visit 1 (activation)", say))
        pins = ["462951", "914273"]
        for number in range(1, args.visits):
            yield from change_pin(walk, pins[(number - 1) % 2], pins[number % 2])
            yield driver.pause(1.0)
            steps.append(report(app, f"after visit {number + 1} (PIN change)", say))
        if args.drop:
            from hardware.heap import release_free_memory

            for name in [n for n, screen in app.screens.items() if screen.parent is None]:
                del app.screens[name]
            gc.collect()
            yield driver.frames(3)
            gc.collect()
            release_free_memory()
            steps.append(report(app, "screens not on display dropped, gc, trimmed", say))
            from kivy.cache import Cache

            categories = figures["cache_categories"] = {}
            for category, objects in sorted(Cache._objects.items()):
                limit = Cache._categories[category].get("limit")
                timeout = Cache._categories[category].get("timeout")
                keys = [repr(k)[:70] for k in list(objects)[:3]]
                say(f"   {category}: limit {limit}, timeout {timeout}, keys e.g. "
                    + ", ".join(keys))
                categories[category] = {"limit": limit, "timeout": timeout, "keys_e_g": keys}
            for category in ("kv.texture", "kv.image"):
                Cache.remove(category)
            gc.collect()
            yield driver.frames(3)
            release_free_memory()
            steps.append(report(app, "kv.texture and kv.image emptied, gc, trimmed", say))
            import time

            from screens.views import screen_classes

            classes = screen_classes()
            for round_ in range(args.rebuilds):
                started = time.perf_counter()
                times = []
                for view, cls in classes.items():
                    if view.value in app.screens and app.screens[view.value].parent is not None:
                        continue
                    one = time.perf_counter()
                    app.screens[view.value] = cls(name=view.value, view_name=view.value)
                    times.append((time.perf_counter() - one) * 1000)
                built = time.perf_counter() - started
                for name in [n for n, screen in app.screens.items() if screen.parent is None]:
                    del app.screens[name]
                gc.collect()
                yield driver.frames(3)
                release_free_memory()
                median = sorted(times)[len(times) // 2]
                step = report(app, f"rebuilt {len(times)} screens in {built * 1000:.0f} ms "
                              f"(slowest {max(times):.0f} ms, median {median:.0f}"
                              f" ms) and dropped them again, round {round_ + 1}", say)
                step["rebuild"] = {"round": round_ + 1, "screens": len(times),
                                   "built_ms": round(built * 1000, 1),
                                   "slowest_ms": round(max(times), 1),
                                   "median_ms": round(median, 1)}
                steps.append(step)

    outcome = run_script(app, script, timeout_s=120)
    app.run()
    error = outcome[0] if outcome else "app stopped early"
    if args.json:
        figures["error"] = error if error is None or isinstance(error, str) else repr(error)
        print(json.dumps(figures, indent=2))
    else:
        print("error:", error)


if __name__ == "__main__":
    main()
