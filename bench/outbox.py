"""Bench: flush a 10,000-result backlog to the reference portal on loopback.

Target: at least 300 results/s with flat memory. The portal runs as its own process
(`kiosk-portal`, real SQLite on disk, synchronous=FULL); the flusher is the kiosk's own
SyncWorker with its own settings (claims of 200 rows, batches of up to 50 completions a
request, 4 in flight; `--claim N` changes the claim), so each result is one item of a
real batch of completions with an ECDSA receipt the portal verifies against the test
holder CA (tests/receipt_ca.py: the holder's certificate chains to it, the CRLs are
checked). The requests made (batches and single calls) are counted and printed. Every
result has its own key and certificate, as a real backlog has (one per card), so no
cache of a holder's certificate can flatter the rate. Prints the rate beside
the target and the earlier figure, the CPU per result of flusher and portal, and the
flusher's RSS at the start, the middle and the end; the work directory is removed at exit
(--keep keeps it).

The backlog is made once and each flush gets a copy of it, flushed by a child process
running one checkout's own code, flusher and portal alike: `--rounds N` flushes it N
times, `--vs CHECKOUT` flushes it also with another checkout's flusher to its portal (in
turns with this one's) and prints the paired ratio of the rates, so that both sides are
measured in one run on a shared machine. The flusher's CPU and RSS are the child's.

Usage: .venv/bin/python bench/outbox.py [--count N] [--rounds N] [--vs CHECKOUT] [--claim N]
       [--json] [--smoke] [--keep]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# A flush runs in its own process on one checkout's code, flusher and portal alike (this
# file's, or --vs's): BENCH_OUTBOX_CODE names that checkout.
CODE = Path(os.environ.get("BENCH_OUTBOX_CODE") or ROOT)
# The receipt trust files the backlog was signed for (the test holder CA is made once per
# process, so a flush's child gets its parent's).
TRUST = tuple(Path(p) for p in os.environ.get("BENCH_OUTBOX_TRUST", "").split(os.pathsep) if p)
sys.path.insert(0, str(CODE))

from kiosk import demo_cast  # noqa: E402
from kiosk.devicekey import load_or_create  # noqa: E402
from kiosk.document.evidence import evidence_summary  # noqa: E402
from kiosk.handout import Holder  # noqa: E402
from kiosk.model import VisitKind, VisitResult  # noqa: E402
from kiosk.outbox import Claimed, Outbox, SystemClock  # noqa: E402
from kiosk.portal_client import PortalClient  # noqa: E402
from kiosk.sync import SyncWorker  # noqa: E402
from portal import db, kiosks, service  # noqa: E402
from portal.clock import PortalClock  # noqa: E402
from portal.seed import seed_demo  # noqa: E402
from tests.integration.outbox.portalkit import (  # noqa: E402
    BENCH_HSA_ID,
    BENCH_PERSONNUMMER,
    add_cards,
    evidence_for,
    holder_key,
)
from tests.receipt_ca import admin_cards, receipt_trust  # noqa: E402


def rss_mib() -> float:
    """This process's resident set size in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int | None = None) -> float:
    """User+system CPU seconds of a process (this one if None)."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare_portal(db_path: Path, count: int, today: date) -> list[tuple[str, str]]:
    """Cards and started activations straight in the portal's database: (card, activation)."""
    db.initialise(db_path)
    conn = db.connect(db_path)
    with db.transaction(conn):
        seed_demo(conn, today)
        # plain HTTP on loopback: the portal takes the caller for the demo kiosk
        kiosks.ensure_kiosk(conn, demo_cast.DEMO_KIOSK_ID, demo_cast.DEMO_OFFICE, datetime.now(UTC))
    conn.close()
    cards = add_cards(db_path, count, today)
    admin = demo_cast.demo_admins(today)[0].hsa_id
    evidence = evidence_summary(evidence_for(BENCH_PERSONNUMMER, today), suffixes=True)
    clock = PortalClock()
    kiosk = kiosks.Kiosk(demo_cast.DEMO_KIOSK_ID, demo_cast.DEMO_OFFICE)  # the loopback caller
    conn = db.connect(db_path)
    started = []
    holder = Holder("Test Holder", BENCH_HSA_ID)
    with db.transaction(conn):
        for number in cards:
            statement = admin_cards().statement(
                "activation", number, admin, datetime.now(UTC), holder,
                evidence_for(BENCH_PERSONNUMMER, today),
            )
            body = {"admin_hsa_id": admin, "evidence": evidence, "admin_statement": statement}
            ticket = service.start_activation(conn, clock, number, body, kiosk, receipt_trust())
            started.append((number, str(ticket["activation_id"])))
    conn.close()
    return started


TARGET_RATE = 300.0  # results/s (issue 16: no regression)
# docs/sync.md, 2026-11-25: 10,000 results at load average 1.3-2.3
EARLIER_RATE = 318.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--smoke", action="store_true",
                        help="a few iterations only: proves the bench still runs (tests)")
    parser.add_argument("--vs", type=Path, metavar="CHECKOUT",
                        help="also flush the same backlog to the portal of another checkout "
                             "(e.g. `git archive COMMIT | tar -x -C DIR`), in turns with this "
                             "one's: the paired ratio is printed")
    parser.add_argument("--claim", type=int, metavar="N",
                        help="rows the flusher claims at a time (default: the kiosk's own, "
                             "kiosk.sync.SyncWorker)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="flushes of the same backlog per portal (medians are printed)")
    parser.add_argument("--flush-only", type=Path, metavar="WORK", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flush_only is not None:  # one flush, in this process, on CODE's checkout
        print(json.dumps(flush_here(args.count, args.flush_only, CODE, args.claim)))
        return 0
    if args.smoke:
        args.count = 20
    work = Path(tempfile.mkdtemp(prefix="bench-outbox-"))
    try:
        figures = run(args.count, work, args.vs, max(1, args.rounds), args.claim)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        show(figures)
    other = figures.get("vs")
    flushes = [figures, *([other] if isinstance(other, dict) else [])]
    return 0 if all(f["sent"] == args.count and f["pending_after"] == 0 for f in flushes) else 1


def run(count: int, work: Path, vs: Path | None = None, rounds: int = 1,
        claim: int | None = None) -> dict[str, object]:
    """Set up ``count`` results and a portal that expects them, then flush copies of them
    (``rounds`` times, to this checkout's portal and, with ``vs``, in turns to that
    checkout's), measure; the figures of this checkout's median flush, the other's under
    "vs" with the paired ratio of their rates."""
    today = date.today()
    load_before = os.getloadavg()[0]
    t = time.perf_counter()
    ready = work / "ready"
    started = prepare_portal(ready / "portal.db", count, today)
    box = Outbox(ready / "state", load_or_create(ready / "state"), SystemClock())
    admin = demo_cast.demo_admins(today)[0].hsa_id
    for number, activation_id in started:
        # a real backlog: each card's receipt signed with its own key and certificate
        signer = holder_key(BENCH_HSA_ID)
        cert = base64.b64encode(signer.der).decode()
        receipt = f"Kvittens: kort {number}".encode()
        box.record(VisitResult(
            kind=VisitKind.ACTIVATION, card_number=number, admin_hsa_id=admin,
            idempotency_key=str(uuid.uuid4()), finished_at=datetime.now(UTC),
            payload={
                "activation_id": activation_id,
                "receipt": base64.b64encode(receipt).decode(),
                "signature": base64.b64encode(signer.sign(receipt)).decode(),
                "certificate": cert,
            },
        ))
    box.close()
    setup_s = time.perf_counter() - t
    sides = {"this": ROOT, **({"vs": vs.resolve()} if vs is not None else {})}
    flushes: dict[str, list[dict[str, object]]] = {side: [] for side in sides}
    for turn in range(rounds):
        order = list(sides) if turn % 2 == 0 else list(reversed(sides))
        for side in order:
            copy = work / f"{side}-{turn}"
            shutil.copytree(ready, copy)
            flushes[side].append(flush(count, copy, sides[side], claim))
            shutil.rmtree(copy, ignore_errors=True)
    figures = median_flush(flushes["this"])
    figures.update(setup_s=round(setup_s, 2), rounds=rounds)
    if vs is not None:
        other = median_flush(flushes["vs"])
        other["checkout"] = str(vs)
        figures["vs"] = other
        ratios = sorted(
            float(str(a["results_per_s"])) / max(float(str(b["results_per_s"])), 1e-9)
            for a, b in zip(flushes["this"], flushes["vs"], strict=True)
        )
        figures["paired_rate_ratio_this_to_vs"] = {
            "median": round(statistics.median(ratios), 2),
            "min": round(ratios[0], 2), "max": round(ratios[-1], 2),
        }
    figures["machine"] = {"cores": os.cpu_count(), "load_average_before": round(load_before, 2),
                          "load_average_after": round(os.getloadavg()[0], 2)}
    return figures


def median_flush(runs: list[dict[str, object]]) -> dict[str, object]:
    """The flush with the median rate (all of them under "rates")."""
    ranked = sorted(runs, key=lambda f: float(str(f["results_per_s"])))
    middle = dict(ranked[(len(ranked) - 1) // 2])
    middle["rates"] = [f["results_per_s"] for f in runs]
    return middle


def portal_command(checkout: Path, port: int, db_path: Path) -> list[str]:
    """The checkout's kiosk-portal, run with this bench's interpreter."""
    return [
        sys.executable, "-c", "import sys; from portal.server import main; sys.exit(main())",
        "--port", str(port), "--db", str(db_path), "--log-level", "warning",
        *[arg for trust in TRUST or receipt_trust() for arg in ("--receipt-trust", str(trust))],
    ]


def flush(count: int, work: Path, checkout: Path, claim: int | None = None
          ) -> dict[str, object]:
    """Flush the outbox in ``work`` with ``checkout``'s own flusher (a child process on its
    code) to its portal, on the database there; the child's figures."""
    command = [sys.executable, str(Path(__file__).resolve()), "--flush-only", str(work),
               "--count", str(count), *(["--claim", str(claim)] if claim else [])]
    env = {**os.environ, "BENCH_OUTBOX_CODE": str(checkout), "PYTHONPATH": str(checkout),
           "BENCH_OUTBOX_TRUST": os.pathsep.join(str(p) for p in receipt_trust())}
    child = subprocess.run(command, env=env, cwd=checkout, capture_output=True, text=True,
                           timeout=3600, check=False)
    if child.returncode != 0:
        raise RuntimeError(f"the flush on {checkout} failed: {child.stderr[-2000:]}")
    figures: dict[str, object] = json.loads(child.stdout.strip().splitlines()[-1])
    return figures


def flush_here(count: int, work: Path, checkout: Path, claim: int | None = None
               ) -> dict[str, object]:
    """Flush the outbox in ``work`` to the portal of ``checkout`` on its database there."""
    box = Outbox(work / "state", load_or_create(work / "state"), SystemClock())
    port = free_port()
    portal = subprocess.Popen(
        portal_command(checkout, port, work / "portal.db"), stdout=subprocess.DEVNULL,
        cwd=checkout, env={**os.environ, "PYTHONPATH": str(checkout)},
    )
    client = PortalClient(f"http://127.0.0.1:{port}", retries=0)
    requests_made = {"batch": 0, "single": 0, "other": 0}

    def note(response: Any, *_args: Any, **_kwargs: Any) -> None:
        path = str(response.request.path_url)
        kind = "batch" if path.endswith("/complete-batch") else (
            "single" if path.endswith("/complete") else "other")
        requests_made[kind] += 1

    client.session.hooks["response"].append(note)
    for _ in range(100):
        try:
            client.health()
            break
        except Exception:
            time.sleep(0.1)
    samples: list[tuple[int, float]] = []
    progress = {"n": 0}
    lock = threading.Lock()

    def sample(_claimed: Claimed) -> None:
        with lock:
            progress["n"] += 1
            if progress["n"] in (1, count // 2, count):
                samples.append((progress["n"], rss_mib()))

    load_before = os.getloadavg()[0]
    try:
        rss_start = rss_mib()
        worker = SyncWorker(box, client, on_sending=sample)  # the kiosk's own settings
        worker.batch = claim or worker.batch
        cpu_portal, cpu_self = cpu_seconds(portal.pid), cpu_seconds()
        t = time.perf_counter()
        report = worker.flush()
        elapsed = time.perf_counter() - t
        cpu_portal, cpu_self = cpu_seconds(portal.pid) - cpu_portal, cpu_seconds() - cpu_self
        rss_end = rss_mib()
    finally:
        client.close()
        portal.terminate()
        portal.wait(timeout=10)
    counts = box.counts()
    audit_ok = box.audit.verify().ok
    box.close()
    rate = report.sent / elapsed if elapsed else 0.0
    per = max(report.sent, 1)
    return {
        "bench": "outbox",
        "results": count,
        "sent": report.sent,
        "deferred": report.deferred,
        "rejected": report.rejected,
        "pending_after": sum(n for state, n in counts.items() if state != "sent"),
        "outbox_after": counts,
        "audit_ok": audit_ok,
        "flush_s": round(elapsed, 3),
        "claim": worker.batch,
        "requests": {k: v for k, v in requests_made.items() if k != "other"},
        "results_per_request": round(report.sent / max(1, requests_made["batch"]
                                                       + requests_made["single"]), 1),
        "results_per_s": round(rate, 1),
        "baseline": {"target_results_per_s": TARGET_RATE,
                     "earlier_results_per_s": EARLIER_RATE},
        "ratio_to_target": round(rate / TARGET_RATE, 2),
        "cpu_ms_per_result": {"flusher": round(1000 * cpu_self / per, 2),
                              "portal": round(1000 * cpu_portal / per, 2)},
        "rss_mib": {"start": round(rss_start, 1),
                    **{f"after_{n}": round(m, 1) for n, m in samples},
                    "end": round(rss_end, 1)},
        "rss_growth_mib": round(rss_end - rss_start, 1),
        # the start is before the flusher's first request (connections, threads, first
        # use); a backlog that grew memory would show over the second half
        "rss_growth_second_half_mib": round(
            rss_end - dict(samples).get(count // 2, rss_start), 1),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def show(f: dict[str, object]) -> None:
    machine = f["machine"]
    assert isinstance(machine, dict)
    print(f"bench/outbox.py: {f['results']} results, {f['rounds']} flush(es) per portal; "
          f"{machine['cores']} cores, load average {machine['load_average_before']} before, "
          f"{machine['load_average_after']} after (other work on the machine lowers the rate)")
    print(f"setup (portal cards + durable outbox records, one key per result): {f['setup_s']} s")
    show_flush("this checkout", f)
    other = f.get("vs")
    if isinstance(other, dict):
        show_flush(f"vs {other['checkout']}", other)
        print(f"paired rate ratio this/vs: {f['paired_rate_ratio_this_to_vs']}")


def show_flush(name: str, f: dict[str, object]) -> None:
    cpu, rss = f["cpu_ms_per_result"], f["rss_mib"]
    assert isinstance(cpu, dict) and isinstance(rss, dict)
    print(f"{name}: flushed {f['sent']} results in {f['flush_s']} s: {f['results_per_s']:.0f} "
          f"results/s (median of {f['rates']}) | target >= {TARGET_RATE:.0f} | earlier "
          f"{EARLIER_RATE:.0f} (docs/sync.md) | ratio to target {f['ratio_to_target']}")
    print(f"  deferred={f['deferred']} rejected={f['rejected']} pending after="
          f"{f['pending_after']} outbox {f['outbox_after']} audit verifies: {f['audit_ok']}")
    print(f"  requests {f['requests']} ({f['results_per_request']} results each; claims of "
          f"{f['claim']})")
    print(f"  CPU per result: flusher {cpu['flusher']} ms, portal {cpu['portal']} ms; "
          f"load average {f['load_average']}")
    print("  RSS MiB: " + ", ".join(f"{k} {v}" for k, v in rss.items())
          + f" (growth {f['rss_growth_mib']} MiB from the start, "
          f"{f['rss_growth_second_half_mib']} MiB over the second half)")


if __name__ == "__main__":
    sys.exit(main())
