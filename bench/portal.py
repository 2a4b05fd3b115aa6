"""Requests per second of the reference portal on loopback: card lookups, start and
complete activation (the receipt signature verified each time).

The portal runs as a separate process (`python -m portal.server`) on a fresh SQLite file
with N extra Skickad cards; the kiosk's PortalClient drives it from 1 or more threads.

Run: .venv/bin/python bench/portal.py [--cards 500] [--lookups 2000] [--threads 1] [--tls]
     [--synchronous FULL|NORMAL] [--in-process] [--json] [--smoke] [--keep]
Prints requests/s, median and p95 latency per kind of request; `--json` prints the same
figures as one JSON object with the run's parameters.
"""

# ruff: noqa: E402 -- the imports follow the sys.path fix below
from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the portal package; keep its folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, for tests.receipt_ca

import argparse
import atexit
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from kiosk.demo_cast import demo_admins
from kiosk.model import CardKind, CardStatus, DocumentEvidence, DocumentType, TrustLevel
from kiosk.portal_client import PortalClient
from portal import db
from portal.clock import PortalClock
from portal.devpki import generate_dev_pki
from portal.seed import insert_card
from portal.server import prepare_database, start_in_thread
from tests.receipt_ca import admin_cards, issue, receipt_trust

BENCH_PREFIX = "97522199"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def holder_cert(key: ed25519.Ed25519PrivateKey, hsa_id: str) -> bytes:
    """A holder certificate from the test holder CA (the portal validates the chain)."""
    cert = issue(key.public_key(), "Bench Holder", hsa_id, valid_days=365)
    return cert.public_bytes(serialization.Encoding.DER)


def populate(db_path: Path, cards: int, kiosk_cert: Path | None = None) -> list[str]:
    clock = PortalClock()
    prepare_database(db_path, clock, seed_demo=True, demo_kiosk_cert=kiosk_cert)
    numbers = [f"{BENCH_PREFIX}{i:08d}" for i in range(cards)]
    conn = db.connect(db_path)
    with db.transaction(conn):
        for number in numbers:
            insert_card(
                conn, card_number=number, status=CardStatus.SENT, kind=CardKind.ORDINARY,
                issuer="SITHS", holder_name="Bench Holder", personnummer="199003152387",
                hsa_id=f"SE2321000016-B{number[-6:]}", trust_level=TrustLevel.LOA3,
                manufactured=clock.today() - timedelta(days=10),
            )
    conn.close()
    return numbers


def rate(label: str, count: int, threads: int, work: Callable[[int], None],
         say: Callable[[str], None] = print) -> dict[str, Any]:
    """Run ``work(i)`` for i in range(count) spread over threads; print requests/s.

    Returns the printed figures.
    """
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(indices: Sequence[int]) -> None:
        mine = []
        for i in indices:
            start = time.perf_counter()
            work(i)
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    chunks = [range(t, count, threads) for t in range(threads)]
    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95) - 1] if latencies else 0.0
    median = statistics.median(latencies)
    say(f"{label:<22} {count:>6} requests in {elapsed:6.2f} s = {count / elapsed:8.1f} req/s"
        f"   median {median * 1000:6.2f} ms  p95 {p95 * 1000:6.2f} ms")
    return {"requests": count, "elapsed_s": round(elapsed, 4),
            "requests_per_s": round(count / elapsed, 1),
            "median_ms": round(median * 1000, 3), "p95_ms": round(p95 * 1000, 3)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=500, help="activations to run")
    parser.add_argument("--lookups", type=int, default=2000, help="card lookups to run")
    parser.add_argument("--threads", type=int, default=1, help="client threads")
    parser.add_argument("--tls", action="store_true", help="HTTPS with client certificates")
    parser.add_argument("--synchronous", default="FULL", choices=("FULL", "NORMAL"))
    parser.add_argument(
        "--in-process", action="store_true",
        help="run the portal in a thread of this process (as the demo and tests do)",
    )
    parser.add_argument("--smoke", action="store_true",
                        help="a few iterations only: proves the bench still runs (tests)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if args.smoke:
        args.cards, args.lookups = 5, 10
    say: Callable[[str], None] = (lambda _line: None) if args.json else print
    figures: dict[str, Any] = {
        "cards": args.cards, "lookups": args.lookups, "threads": args.threads, "tls": args.tls,
        "synchronous": args.synchronous, "in_process": args.in_process, "smoke": args.smoke,
        "python": sys.version.split()[0], "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0],
    }

    work = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    if not args.keep:  # the portal database (and the TLS files)
        atexit.register(shutil.rmtree, work, ignore_errors=True)
    db_path = work / "portal.db"
    options: dict[str, str] = {}
    pki = generate_dev_pki(work / "tls") if args.tls else None
    numbers = populate(db_path, args.cards, pki.client_cert if pki is not None else None)
    if pki is not None:
        options = {"ca_file": str(pki.ca_cert), "client_cert": str(pki.client_cert),
                   "client_key": str(pki.client_key)}
    stop: Callable[[], object]
    if args.in_process:
        running = start_in_thread(db_path, tls_dir=work / "tls" if args.tls else None,
                                  synchronous=args.synchronous, receipt_trust=receipt_trust())
        url, stop, where = running.url, running.stop, "in this process"
    else:
        port = free_port()
        command = [sys.executable, "-m", "portal.server", "--port", str(port),
                   "--db", str(db_path), "--log-level", "warning",
                   "--synchronous", args.synchronous]
        for trust in receipt_trust():
            command += ["--receipt-trust", str(trust)]
        if args.tls:
            command += ["--tls-dir", str(work / "tls")]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                  env={**os.environ, "PYTHONUNBUFFERED": "1"})
        url = f"{'https' if args.tls else 'http'}://127.0.0.1:{port}"
        where = "separate process"

        def stop() -> None:
            server.terminate()
            server.wait(timeout=10)

    # every start carries the administrator's statement (signed with a test CA's card)
    clients = [PortalClient(url, retries=0, signer=admin_cards(), **options)
               for _ in range(args.threads)]
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                clients[0].health()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        figures["portal_url"], figures["portal_runs"] = url, where
        say(f"portal {url} ({where}), SQLite WAL synchronous={args.synchronous}, "
            f"{args.threads} client thread(s), python {sys.version.split()[0]}")

        def client_for(i: int) -> PortalClient:
            return clients[i % args.threads]

        def lookup(i: int) -> None:
            client_for(i).card(numbers[i % len(numbers)])

        figures["card_lookup"] = rate("card lookup", args.lookups, args.threads, lookup, say)

        admin = demo_admins(PortalClock().today())[0].hsa_id
        evidence = DocumentEvidence(
            doc_type=DocumentType.PASSPORT, expiry=PortalClock().today() + timedelta(days=400),
            birth_date=None, personnummer=None, photo_confirmed=True, age_confirmed=True,
        )
        tickets: dict[int, str] = {}

        def start(i: int) -> None:
            ticket = client_for(i).start_activation(numbers[i], admin, evidence, str(uuid.uuid4()))
            tickets[i] = ticket.activation_id

        figures["start_activation"] = rate("start activation", len(numbers), args.threads,
                                           start, say)

        keys = [ed25519.Ed25519PrivateKey.generate() for _ in numbers]
        certs = [holder_cert(k, f"SE2321000016-B{n[-6:]}") for k, n in zip(keys, numbers,
                                                                            strict=True)]
        receipts = [f"Kvittens {n} {tickets[i]}".encode() for i, n in enumerate(numbers)]
        signatures = [k.sign(r) for k, r in zip(keys, receipts, strict=True)]

        def complete(i: int) -> None:
            record = client_for(i).complete_activation(
                tickets[i], receipts[i], signatures[i], certs[i], str(uuid.uuid4())
            )
            assert record.status is CardStatus.ACTIVE

        figures["complete_activation"] = rate("complete activation", len(numbers),
                                              args.threads, complete, say)
    finally:
        for client in clients:
            client.close()
        stop()
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
