"""The portal in a child process: answers on loopback, is reaped on stop, dies with its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from portal.process import PortalProcessFailed, start_process


def gone(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie waiting for its new parent counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_the_child_serves_the_seeded_demo_cast_and_is_reaped_on_stop(tmp_path: Path) -> None:
    running = start_process(tmp_path / "portal" / "portal.db", seed_demo=True,
                            log_path=tmp_path / "portal" / "portal.log")
    try:
        assert running.alive() and running.pid != os.getpid()
        health = requests.get(f"{running.url}/api/v1/health", timeout=5).json()
        assert health["status"] == "ok"
        card = requests.get(f"{running.url}/api/v1/cards/9752210000000001", timeout=5)
        assert card.status_code == 200
        rss = running.rss_mb()
        assert rss is not None and rss > 0
    finally:
        running.stop()
    assert running.process.returncode is not None  # reaped, not a zombie
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{running.url}/api/v1/health", timeout=5)
    assert "serving http://127.0.0.1" in (tmp_path / "portal" / "portal.log").read_text()


def test_the_child_stops_when_its_parent_is_killed(tmp_path: Path) -> None:
    code = (
        "import os, signal, sys\n"
        "from portal.process import start_process\n"
        f"running = start_process({str(tmp_path / 'portal.db')!r})\n"
        "print(running.pid, running.url, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    parent = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False, timeout=60)
    assert parent.returncode == -signal.SIGKILL
    pid_text, url = parent.stdout.split()
    assert wait_until(lambda: gone(int(pid_text))), "the portal outlived the kiosk"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/api/v1/health", timeout=5)


def test_a_portal_that_cannot_start_says_why(tmp_path: Path) -> None:
    (tmp_path / "portal.db").mkdir()  # a folder where the database file should be
    with pytest.raises(PortalProcessFailed) as caught:
        start_process(tmp_path / "portal.db", log_path=tmp_path / "portal.log")
    assert "exited" in str(caught.value)
    assert str(tmp_path / "portal.log") in str(caught.value)


def test_only_loopback_is_served(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="loopback"):
        start_process(tmp_path / "portal.db", host="192.0.2.10")
