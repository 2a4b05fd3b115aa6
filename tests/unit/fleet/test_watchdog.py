"""sd_notify over a real AF_UNIX datagram socket: READY, pings, and pings stopping on a hang."""

from __future__ import annotations

import itertools
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.watchdog import Watchdog

# A main loop like the app's: ready once, ping every frame, hang when told to.
APP_LOOP = textwrap.dedent(
    """
    import os, sys, time
    from kiosk.watchdog import Watchdog

    hang_flag = sys.argv[1]
    watchdog = Watchdog.from_env()
    watchdog.ready("visits: 0")
    while True:
        if os.path.exists(hang_flag):
            time.sleep(3600)  # a stuck main loop: no more frames, no more pings
        watchdog.ping()
        time.sleep(0.01)
    """
)


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    directory = tempfile.mkdtemp(prefix="kn", dir="/tmp")
    path = os.path.join(directory, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    yield sock, path
    sock.close()
    os.unlink(path)
    os.rmdir(directory)


def receive(sock: socket.socket, seconds: float) -> list[tuple[float, str]]:
    """Every datagram that arrives within ``seconds``, with its arrival time."""
    messages = []
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data = sock.recv(4096)
        except TimeoutError:
            break
        messages.append((time.monotonic(), data.decode()))
    return messages


def test_pings_flow_while_the_loop_runs_and_stop_when_it_hangs(
    notify_socket: tuple[socket.socket, str], tmp_path: Path
) -> None:
    sock, path = notify_socket
    hang_flag = tmp_path / "hang"
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "150000"}
    env.pop("WATCHDOG_PID", None)
    app = subprocess.Popen([sys.executable, "-c", APP_LOOP, str(hang_flag)], env=env)
    try:
        running = receive(sock, 3.0)
        texts = [text for _, text in running]
        assert texts[0] == "READY=1\nSTATUS=visits: 0"
        pings = [t for t, text in running if text == "WATCHDOG=1"]
        assert len(pings) >= 10
        gaps = [b - a for a, b in itertools.pairwise(pings)]
        assert statistics.median(gaps) >= 0.04  # rate-limited to a third of WatchdogSec

        hang_flag.touch()
        receive(sock, 0.3)  # pings already on their way
        after_hang = receive(sock, 1.0)  # more than six watchdog intervals
        assert [text for _, text in after_hang] == []
        assert app.poll() is None  # the process lives on: only the loop is stuck
    finally:
        app.kill()
        app.wait()


def test_outside_systemd_every_call_is_a_no_op() -> None:
    watchdog = Watchdog.from_env({})
    assert not watchdog.enabled
    assert (watchdog.ready(), watchdog.ping(), watchdog.status("x")) == (False, False, False)


def test_a_watchdog_meant_for_another_pid_does_not_ping(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, path = notify_socket
    other = Watchdog.from_env({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000",
                               "WATCHDOG_PID": str(os.getpid() + 1)})
    assert other.interval_s is None and not other.ping()
    ours = Watchdog.from_env({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000",
                              "WATCHDOG_PID": str(os.getpid())})
    assert ours.ping()
    assert receive(sock, 0.5) == [(pytest.approx(time.monotonic(), abs=1), "WATCHDOG=1")]


def test_abstract_socket_address() -> None:
    name = f"kiosk-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    try:
        assert Watchdog(f"@{name}").stopping()
        assert sock.recv(100) == b"STOPPING=1"
    finally:
        sock.close()


def test_a_receiver_that_stops_reading_never_blocks_the_sender(tmp_path: Path) -> None:
    path = str(tmp_path / "notify.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(path)  # bound, never read: its queue fills up
    try:
        watchdog = Watchdog(path)
        results: list[bool] = []
        sender = threading.Thread(
            target=lambda: results.extend(watchdog.notify("WATCHDOG=1") for _ in range(500)),
            daemon=True,
        )
        sender.start()
        sender.join(timeout=30)
        assert not sender.is_alive(), "notify blocked on a full notify socket"
        assert results[0] is True
        assert False in results  # the full queue dropped datagrams instead of waiting
    finally:
        receiver.close()
