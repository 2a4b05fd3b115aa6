"""Bench: wall time of a whole scripted activation visit, no human delays.

Administrator sign-in with their simulated card, the holder's card (SoftHSM2 token),
record fetch, document, PIN written, receipt signed, result committed to the outbox and
synced to the reference portal, which runs as its own process on loopback. Between runs
(untimed) the portal's record of the card is put back to Skickad. Target: median < 1.5 s.

Prints the figures; `--json` prints them as one JSON object with the run's parameters.

Usage: .venv/bin/python bench/visit.py [--runs N] [--json] [--smoke] [--keep]
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from composition.cli.demo import run_activation  # noqa: E402
from composition.wiring import build_services  # noqa: E402
from hardware.sim.democa import trust_files  # noqa: E402
from kiosk import demo_cast  # noqa: E402
from kiosk.settings import Settings  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reset_card(db_path: Path, card_number: str) -> None:
    """Put the portal's record of the card back to Skickad (between timed runs)."""
    conn = sqlite3.connect(db_path, timeout=30)
    with conn:
        conn.execute(
            "UPDATE cards SET status = 'Skickad', activation_started = NULL,"
            " activated_at = NULL WHERE card_number = ?",
            (card_number,),
        )
        conn.execute("DELETE FROM activations WHERE card_number = ?", (card_number,))
    conn.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--smoke", action="store_true",
                        help="a few iterations only: proves the bench still runs (tests)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if args.smoke:
        args.runs = 1
    say = (lambda _line: None) if args.json else print
    work = Path(tempfile.mkdtemp(prefix="bench-visit-"))
    if not args.keep:  # the demo state, tokens and portal database (~1 MB a run)
        atexit.register(shutil.rmtree, work, ignore_errors=True)
    db_path = work / "portal.db"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    load_before = os.getloadavg()[0]
    say(f"bench/visit.py: {args.runs} scripted activation visits, portal {url}")
    say(f"machine: {os.cpu_count()} cores, load average {load_before:.2f} "
        "(other helpers may be loading the cores)")
    t = time.perf_counter()
    services = build_services(Settings(), work / "kiosk", demo=True, portal_url=url,
                              with_camera=False)
    # the portal verifies each receipt up to the demo CA the services just created
    trust = [arg for path in trust_files(work / "kiosk" / "democa")
             for arg in ("--receipt-trust", str(path))]
    portal = subprocess.Popen(
        [str(ROOT / ".venv/bin/kiosk-portal"), "--port", str(port), "--db", str(db_path),
         "--seed-demo", "--log-level", "warning", *trust],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            services.portal.card("9752210000000001")
            break
        except Exception:
            time.sleep(0.1)
    setup_s = time.perf_counter() - t
    say(f"setup (demo CA, SoftHSM2 tokens, outbox): {setup_s:.1f} s; "
        f"token backend: SoftHSM2 via {services.settings.hardware.token}")
    holder = demo_cast.demo_holder("anna", services.clock.now().date())
    walls: list[float] = []
    cpus: list[float] = []
    try:
        for _ in range(args.runs + 1):
            reset_card(db_path, holder.card_number)
            if services.deck is not None:
                services.deck.remove()
            cpu0, t0 = time.process_time(), time.perf_counter()
            final = run_activation(services, holder)
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - cpu0)
            status = services.portal.card(holder.card_number).status.value
            if final.view.message != "visit.done.activation" or status != "Aktiv":
                print(f"run ended on {final.view.name}: {final.view.message}; card {status}",
                      file=sys.stderr if args.json else sys.stdout)
                return 1
    finally:
        services.close()
        portal.terminate()
        portal.wait(timeout=10)
    walls, cpus = walls[1:], cpus[1:]  # the first run warms caches and connections
    walls_sorted = sorted(walls)
    p90 = walls_sorted[int(0.9 * (len(walls) - 1))]
    load_after = os.getloadavg()[0]
    say(f"visit wall time over {len(walls)} runs: median {statistics.median(walls):.3f} s "
        f"(target < 1.5 s), min {walls_sorted[0]:.3f}, "
        f"p90 {p90:.3f}, max {walls_sorted[-1]:.3f}")
    say(f"kiosk process CPU per visit: median {statistics.median(cpus):.3f} s")
    say(f"load average after: {load_after:.2f}")
    if args.json:
        figures: dict[str, Any] = {
            "runs": args.runs, "smoke": args.smoke, "portal_url": url, "cpus": os.cpu_count(),
            "load_average_before": load_before, "load_average_after": load_after,
            "setup_s": round(setup_s, 3), "token_backend": str(services.settings.hardware.token),
            "visit_wall_s": {"median": round(statistics.median(walls), 4),
                             "min": round(walls_sorted[0], 4), "p90": round(p90, 4),
                             "max": round(walls_sorted[-1], 4), "target_median_below": 1.5},
            "kiosk_cpu_per_visit_s": {"median": round(statistics.median(cpus), 4)},
        }
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
