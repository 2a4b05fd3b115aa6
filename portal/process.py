"""The reference portal in a child process on loopback (the demo's portal, out of the kiosk).

The parent binds a free loopback port, hands the listening socket to
``python -m portal.process`` and waits until ``/api/v1/health`` answers; it imports no
FastAPI, uvicorn or pydantic itself. The child holds its stdin open as a lifeline: when
the parent exits, however it dies, the pipe closes and the child shuts down.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from kiosk.urls import is_loopback

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
LIFELINE_GRACE_S = 5.0  # after the parent is gone, how long a graceful shutdown may take
IDLE_WAIT_S = 0.05  # after the lifeline closes, how long connections may take to be seen closed
HEALTH_PATH = "/api/v1/health"

log = logging.getLogger("portal.process")


class PortalProcessFailed(RuntimeError):
    """The portal's child process exited or did not answer in time."""


@dataclass
class PortalProcess:
    """A portal serving from a child process; ``stop`` ends it and reaps it."""

    url: str
    host: str
    port: int
    db_path: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    receipt_trust: tuple[Path, ...] = ()
    stopped: bool = field(default=False)

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    def alive(self) -> bool:
        """Whether the child still runs."""
        return self.process.poll() is None

    def rss_mb(self) -> float | None:
        """The child's resident memory in MB (None once it has ended)."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return None

    def wait_until_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Return once the portal answers; PortalProcessFailed (and stopped) if it cannot."""
        try:
            _wait_until_answering(self, timeout_s)
        except BaseException:
            self.stop(timeout_s=2)
            raise
        log.info("portal process %d serving %s (log %s)", self.pid, self.url, self.log_path)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Close the lifeline (a graceful stop), then terminate or kill; always reap."""
        if self.stopped:
            return
        self.stopped = True
        _close(self.process.stdin)
        try:
            self.process.wait(timeout=timeout_s)
            return
        except subprocess.TimeoutExpired:
            log.warning("the portal process %d did not stop; terminating it", self.pid)
        self.process.terminate()
        try:
            self.process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> PortalProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_process(
    db_path: str | Path,
    *,
    host: str = "127.0.0.1",
    seed_demo: bool = False,
    today: date | None = None,
    log_path: str | Path | None = None,
    synchronous: str = "FULL",
    wait: bool = True,
    receipt_trust: Sequence[str | Path] = (),
    ca_dir: str | Path | None = None,
) -> PortalProcess:
    """Start the portal in a child process on a free loopback port.

    With ``wait`` it returns once the portal answers; without, the caller does other work
    first and calls ``wait_until_ready`` (the URL is known at once).
    """
    if not is_loopback(host):
        raise ValueError(f"the portal child serves plain HTTP on loopback only, not {host}")
    db = Path(db_path)
    db.parent.mkdir(parents=True, exist_ok=True)
    logfile = Path(log_path) if log_path is not None else db.with_suffix(".log")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP (see portal.server._bind): it keeps TCP_NODELAY on accepted sockets.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, 0))
        sock.listen(128)  # connections queue until the child serves
        port = int(sock.getsockname()[1])
        command = [sys.executable, "-m", "portal.process", "--fd", str(sock.fileno()),
                   "--db", str(db), "--synchronous", synchronous]
        if seed_demo:
            command.append("--seed-demo")
        if today is not None:
            command += ["--today", today.isoformat()]
        for trust in receipt_trust:
            command += ["--receipt-trust", str(trust)]
        if ca_dir is not None:
            command += ["--ca-dir", str(ca_dir)]
        with logfile.open("ab") as out:
            process = subprocess.Popen(  # noqa: S603 -- our own interpreter and module
                command, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT,
                pass_fds=(sock.fileno(),), env=_child_env(),
            )
    finally:
        sock.close()
    shown = f"[{host}]" if ":" in host else host
    running = PortalProcess(f"http://{shown}:{port}", host, port, db, logfile, process,
                            receipt_trust=tuple(Path(p) for p in receipt_trust))
    if wait:
        running.wait_until_ready()
    return running


def _child_env() -> dict[str, str]:
    """The parent's environment, with this checkout importable (also when not installed)."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def _wait_until_answering(running: PortalProcess, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if not running.alive():
            raise PortalProcessFailed(
                f"the portal process exited with {running.process.returncode}; "
                f"see {running.log_path}:\n{_tail(running.log_path)}"
            )
        if _answers(running.host, running.port):
            return
        if time.monotonic() > deadline:
            raise PortalProcessFailed(
                f"the portal process did not answer within {timeout_s:.0f} s; "
                f"see {running.log_path}"
            )
        time.sleep(0.05)


def _answers(host: str, port: int) -> bool:
    connection = http.client.HTTPConnection(host, port, timeout=5)
    try:
        connection.request("GET", HEALTH_PATH)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _close(stream: IO[bytes] | None) -> None:
    if stream is not None:
        try:
            stream.close()
        except OSError:
            pass


# --- the child ------------------------------------------------------------------------------


def _watch_lifeline(server: Any, sweeper: Any) -> None:
    """Stop serving when stdin reaches EOF (the parent closed it or died).

    With no connection open and no request in flight the child exits at once: every
    answered request has committed (synchronous=FULL) and uvicorn's graceful stop would
    only wait (0.1 s for its loop to notice, 0.1 s more in its shutdown: a fifth of every
    `kioskctl demo visit`). Otherwise uvicorn finishes what is in flight first.
    """

    def watch() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        log.info("the parent is gone: stopping")
        server.should_exit = True
        if _idle(server, IDLE_WAIT_S):
            sweeper.stop()  # a sweep under way commits first
            logging.shutdown()
            os._exit(0)
        time.sleep(LIFELINE_GRACE_S)
        os._exit(0)  # the graceful stop hung: leave no orphan behind

    threading.Thread(target=watch, name="portal-lifeline", daemon=True).start()


def _idle(server: Any, within_s: float) -> bool:
    """Whether the server has no open connection and no request in flight, waiting up to
    ``within_s`` for connections its clients just closed to be seen closed."""
    deadline = time.monotonic() + within_s
    while True:
        state = server.server_state
        if not state.connections and not state.tasks:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve on the inherited listening socket until the lifeline closes."""
    parser = argparse.ArgumentParser(prog="python -m portal.process")
    parser.add_argument("--fd", type=int, required=True, help="inherited listening socket")
    parser.add_argument("--db", required=True)
    parser.add_argument("--seed-demo", action="store_true")
    parser.add_argument("--today", type=date.fromisoformat, default=None)
    parser.add_argument("--synchronous", default="FULL", choices=("FULL", "NORMAL"))
    parser.add_argument("--receipt-trust", action="append", default=[])
    parser.add_argument("--ca-dir", default=None, help="the issuing CA's files")
    args = parser.parse_args(argv)
    logging.basicConfig(level="INFO", format="%(asctime)s %(name)s %(message)s")

    import uvicorn

    from kiosk.demo_cast import DEMO_KIOSK_ID
    from portal.app import create_app
    from portal.clock import PortalClock
    from portal.server import SWEEP_INTERVAL_S, Sweeper, prepare_database, uvicorn_config

    sock = socket.socket(fileno=args.fd)
    host = str(sock.getsockname()[0])
    clock = PortalClock(args.today)
    db_path = Path(args.db)
    prepare_database(db_path, clock, args.seed_demo)
    app = create_app(db_path, clock, synchronous=args.synchronous, loopback_kiosk=DEMO_KIOSK_ID,
                     receipt_trust=args.receipt_trust, ca_dir=args.ca_dir)
    server = uvicorn.Server(uvicorn_config(app, host, 0, None))
    sweeper = Sweeper(db_path, clock, SWEEP_INTERVAL_S)
    sweeper.start()
    _watch_lifeline(server, sweeper)
    log.info("serving http://%s:%d (database %s)", host, sock.getsockname()[1], db_path)
    try:
        server.run(sockets=[sock])
    finally:
        sweeper.stop()
        sock.close()
    return 0


if __name__ == "__main__":
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    # served and stopped: every transaction is committed (synchronous=FULL; the next open
    # checkpoints the WAL); tearing down the interpreter's FastAPI/pydantic modules would
    # add ~0.6 s to every demo run's exit
    os._exit(code)
