"""Bench: the scanner's own process (hardware/scan/worker.py).

- Preview transport: one preview frame (960x540 BGR) through the socket pair the worker
  talks over (multiprocessing Connection, as pickled updates would go) against the memfd
  the worker writes previews into, per frame: wall time and CPU time.
- Worker start: from ScanWorker() to the scanner loaded (``check``), and the resident
  memory of the worker then.
- Restart: a worker killed with SIGKILL during a session, to the next preview frame from
  its successor.

Prints figures only; ``--json`` prints them as JSON, ``--smoke`` runs a few iterations.
Usage: .venv/bin/python bench/scan_worker.py [--json] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import signal
import socket
import statistics
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hardware.scan.worker import ScanWorker, WorkerCamera  # noqa: E402
from kiosk.settings import CameraSettings, ScannerSettings  # noqa: E402

FRAME_BYTES = 960 * 540 * 3


def transport(frames: int) -> dict[str, Any]:
    """Per-frame cost of a preview frame over the socket pair and through a memfd."""
    data = os.urandom(FRAME_BYTES)
    ours, theirs = socket.socketpair()
    sender, receiver = Connection(ours.detach()), Connection(theirs.detach())

    def drain() -> None:
        for _ in range(frames):
            receiver.recv_bytes()

    reader = threading.Thread(target=drain)
    reader.start()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(frames):
        sender.send_bytes(data)
    reader.join()
    socket_ms = ((time.perf_counter() - wall) / frames * 1000,
                 (time.process_time() - cpu) / frames * 1000)
    sender.close()
    receiver.close()
    fd = os.memfd_create("bench-preview")
    os.ftruncate(fd, FRAME_BYTES)
    with mmap.mmap(fd, FRAME_BYTES) as shared:
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(frames):
            shared[:FRAME_BYTES] = data
            copy = shared[:FRAME_BYTES]
        memfd_ms = ((time.perf_counter() - wall) / frames * 1000,
                    (time.process_time() - cpu) / frames * 1000)
        del copy
    os.close(fd)
    return {"frame_bytes": FRAME_BYTES,
            "socket_ms": {"wall": socket_ms[0], "cpu": socket_ms[1]},
            "memfd_ms": {"wall": memfd_ms[0], "cpu": memfd_ms[1]}}


def rss_mb(pid: int | None) -> float | None:
    """A process's resident memory in MB."""
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def wait_for(condition: Any, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def worker_life(rounds: int) -> dict[str, Any]:
    """Start-to-loaded time, the worker's RSS, and kill-to-next-preview time."""
    starts, restarts, rss = [], [], []
    for _ in range(rounds):
        worker = ScanWorker(ScannerSettings())
        try:
            started = time.perf_counter()
            worker.check()
            starts.append(time.perf_counter() - started)
            rss.append(rss_mb(worker.pid))
            camera = WorkerCamera("folder:builtin", CameraSettings(), fps=15)
            worker.start_session(camera, lambda update: None, stop_after_evidence=False)
            wait_for(lambda c=camera: c.latest() is not None)
            frame = camera.latest()
            before = frame.index if frame is not None else -1
            pid = worker.pid
            if pid is None:
                continue
            killed = time.perf_counter()
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda w=worker, p=pid, c=camera, b=before: w.pid not in (None, p)
                     and (f := c.latest()) is not None and f.index != b)
            restarts.append(time.perf_counter() - killed)
        finally:
            worker.close()
    return {"start_to_loaded_s": statistics.median(starts),
            "worker_rss_loaded_mb": statistics.median(r for r in rss if r is not None),
            "kill_to_next_preview_s": statistics.median(restarts) if restarts else None,
            "rounds": rounds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--smoke", action="store_true", help="a few iterations only")
    args = parser.parse_args()
    out: dict[str, Any] = {"cpus": os.cpu_count(), "load_average": os.getloadavg()[0],
           "transport": transport(20 if args.smoke else 300),
           "worker": worker_life(1 if args.smoke else 3)}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    t, w = out["transport"], out["worker"]
    print(f"bench/scan_worker: {out['cpus']} CPUs, load average {out['load_average']:.2f}")
    print(f"preview frame ({t['frame_bytes'] // 1024} KB): socket pair "
          f"{t['socket_ms']['wall']:.2f} ms wall / {t['socket_ms']['cpu']:.2f} ms CPU, memfd "
          f"{t['memfd_ms']['wall']:.2f} ms wall / {t['memfd_ms']['cpu']:.2f} ms CPU")
    print(f"worker start to scanner loaded: {w['start_to_loaded_s']:.2f} s; worker RSS then "
          f"{w['worker_rss_loaded_mb']:.0f} MB")
    if w["kill_to_next_preview_s"] is not None:
        print(f"worker killed -> next preview from its successor: "
              f"{w['kill_to_next_preview_s']:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
