"""The app's operations: sd_notify READY and watchdog pings, SIGHUP exit 75, SIGTERM exit 0,
background sync of queued results, and the deadline banner (real app, real outbox, demo portal).
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hardware.sim.adminsigner import CastStatementSigner
from hardware.sim.democa import DemoCA
from kiosk.demo_cast import demo_admins, demo_holder, demo_holders
from kiosk.devicekey import load_or_create
from kiosk.handout import Holder
from kiosk.model import VisitKind, VisitResult
from kiosk.outbox import DATABASE_FILE, Outbox, SystemClock
from kiosk.visit.contract import ViewName
from screens.scripts import Walk, sign_in, to_card_record
from tests.ui.conftest import Harness

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("idle_kiosk.py")


class RunningKiosk:
    """The app in a subprocess, and a thread collecting what it sends to NOTIFY_SOCKET."""

    def __init__(self, process: subprocess.Popen[str], notify: socket.socket,
                 state: Path) -> None:
        self.process = process
        self.notify = notify
        self.state = state
        self.messages: list[str] = []
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()

    def _collect(self) -> None:
        while True:
            try:
                self.messages.append(self.notify.recv(4096).decode())
            except TimeoutError:
                continue
            except OSError:  # closed at the end of the test
                return

    def wait_for_message(self, wanted: str, timeout_s: float = 60.0, since: int = 0) -> int:
        """Wait until a datagram from index ``since`` holds the line ``wanted``; its index."""
        deadline = time.monotonic() + timeout_s
        while True:
            for index, message in enumerate(self.messages[since:], since):
                if wanted in message.splitlines():
                    return index
            if self.process.poll() is not None:  # what it sent before exiting is read by now
                deadline = min(deadline, time.monotonic() + 1.0)
            assert time.monotonic() < deadline, f"no {wanted!r} in {self.messages}"
            time.sleep(0.05)

    def read_line(self, timeout_s: float = 60.0) -> str:
        """The app's next line on stdout ('' if none came in time)."""
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout_s)
        return self.process.stdout.readline().strip() if ready else ""


def record_queued_block(state_dir: Path) -> tuple[str, str]:
    """A block result left queued by an earlier run (portal unreachable then)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    today = date.today()
    holder = next(h for h in demo_holders(today) if h.key == "bertil")
    admin = demo_admins(today)[0]
    outbox = Outbox(state_dir, load_or_create(state_dir), SystemClock())
    key = uuid.uuid4().hex
    # the statement the administrator's card made when they blocked it (docs/portal.md),
    # with a card of the demo CA the app will use in this state directory
    ca = DemoCA.load_or_create(state_dir / "democa", today)
    statement = CastStatementSigner(ca, today).statement(
        "block", holder.card_number, admin.hsa_id, datetime.now(UTC),
        Holder(holder.name, holder.hsa_id), None, "lost")
    try:
        outbox.record(VisitResult(VisitKind.BLOCK, holder.card_number, admin.hsa_id, key,
                                  datetime.now(UTC), {"reason": "lost",
                                                      "admin_statement": json.dumps(statement)}))
    finally:
        outbox.close()
    return key, holder.card_number


def outbox_row(state_dir: Path, key: str) -> tuple[str, str | None]:
    """State and stored answer of one outbox row, read straight from the database."""
    path = state_dir / DATABASE_FILE
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
        row = conn.execute("SELECT state, answer FROM outbox WHERE idempotency_key = ?",
                           (key,)).fetchone()
    assert row is not None
    return str(row[0]), row[1]


@pytest.fixture
def start_kiosk(tmp_path: Path) -> Iterator[Callable[..., RunningKiosk]]:
    """Starts the app with NOTIFY_SOCKET and a 0.6 s watchdog (pings every 0.2 s)."""
    started: list[RunningKiosk] = []

    def start(*args: str) -> RunningKiosk:
        address = tmp_path / "notify.sock"
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(address))
        notify.settimeout(0.5)
        env = {**os.environ, "NOTIFY_SOCKET": str(address), "WATCHDOG_USEC": "600000",
               "PYTHONPATH": str(REPO)}
        for name in ("DISPLAY", "WAYLAND_DISPLAY", "WATCHDOG_PID"):
            env.pop(name, None)
        state = tmp_path / "state"
        state.mkdir(exist_ok=True)
        with (tmp_path / "stderr.txt").open("w") as stderr:  # Kivy's log, when debugging
            process = subprocess.Popen(
                [sys.executable, str(SCRIPT), str(state), *args], cwd=REPO, env=env,
                stdout=subprocess.PIPE, stderr=stderr, text=True,
            )
        started.append(RunningKiosk(process, notify, state))
        return started[-1]

    yield start
    for kiosk in started:
        if kiosk.process.poll() is None:
            kiosk.process.kill()
            kiosk.process.wait(10)
        kiosk.notify.close()


@pytest.fixture
def queued(tmp_path: Path) -> tuple[str, str]:
    """The key and card of a result queued before the app starts."""
    return record_queued_block(tmp_path / "state" / "services")


def test_ready_pings_background_sync_and_sighup_restart(
    queued: tuple[str, str], start_kiosk: Callable[..., RunningKiosk]
) -> None:
    key, card = queued
    kiosk = start_kiosk()
    ready = kiosk.wait_for_message("READY=1")
    ping = kiosk.wait_for_message("WATCHDOG=1", timeout_s=10, since=ready + 1)
    assert ping > ready  # the main loop keeps pinging once the first screen is drawn

    deadline = time.monotonic() + 30
    state, answer = outbox_row(kiosk.state / "services", key)
    while state != "sent" and time.monotonic() < deadline:
        time.sleep(0.2)
        state, answer = outbox_row(kiosk.state / "services", key)
    assert state == "sent", "the background sync did not send the queued result"
    assert answer is not None
    assert json.loads(answer) == {"card_number": card, "status": "Spärrad"}  # the portal's

    kiosk.process.send_signal(signal.SIGHUP)
    assert kiosk.process.wait(30) == 75
    kiosk.wait_for_message("STOPPING=1")


def test_sigterm_stops_cleanly_with_exit_0(start_kiosk: Callable[..., RunningKiosk]) -> None:
    kiosk = start_kiosk()
    kiosk.wait_for_message("READY=1")
    kiosk.process.send_signal(signal.SIGTERM)
    assert kiosk.process.wait(30) == 0
    kiosk.wait_for_message("STOPPING=1")


def test_sighup_in_a_visit_waits_for_the_idle_timeout_to_end_it(
    start_kiosk: Callable[..., RunningKiosk]
) -> None:
    kiosk = start_kiosk("visit")
    assert kiosk.read_line() == "in visit"
    kiosk.process.send_signal(signal.SIGHUP)
    waiting = kiosk.wait_for_message("STATUS=restart requested: waiting for the visit to end",
                                     timeout_s=10)
    assert kiosk.process.poll() is None  # the visit goes on
    assert kiosk.process.wait(30) == 75  # the 8 s idle timeout ended the visit, then exit 75
    kiosk.wait_for_message("STOPPING=1", since=waiting)


def near_deadline_result(card_number: str, hours: float) -> VisitResult:
    """An activation-like result whose 5-day deadline ends in ``hours``."""
    now = datetime.now(UTC)
    return VisitResult(VisitKind.UNLOCK, card_number, demo_admins(date.today())[0].hsa_id,
                       uuid.uuid4().hex, now, {}, deadline=now + timedelta(hours=hours))


def test_banner_shows_results_near_their_deadline(kiosk: Harness) -> None:
    app: Any = kiosk.app
    ops = app.ops
    services = app.services
    kiosk.pump(lambda: ops.banner.text == "")
    services.sync.stop()  # the portal is "unreachable": nothing sends the row meanwhile
    result = near_deadline_result(demo_holders(date.today())[0].card_number, 5.5)
    services.outbox.record(result)
    try:
        polled: list[bool] = []
        ops.poll_outbox(lambda: polled.append(True))  # what the 30 s Clock interval calls
        kiosk.pump(lambda: bool(polled))
        assert app.current_name == "admin_sign_in"
        assert ops.banner.text == ("Ett resultat måste nå portalen inom 5 timmar."
                                   " Kontakta supporten.")
        assert ops.banner.height > 0
        app.switch_language()
        assert ops.banner.text == "A result must reach the portal within 5 hours. Contact support."
        seen: dict[str, str] = {}

        def script(driver: Any) -> Any:
            walk = Walk(driver, app.effect_gate, None)
            yield from sign_in(walk, shots=False)
            yield from to_card_record(walk, "change_pin", demo_holder("eva", walk.today))
            seen["card_record"] = ops.banner.text
            yield walk.act("continue")
            yield walk.wait(ViewName.PIN_CURRENT)
            seen["pin_current"] = ops.banner.text
            yield driver.remove_card()

        kiosk.run(script)
        assert seen["card_record"].startswith("A result must reach the portal")
        assert seen["pin_current"] == ""  # the holder's PIN screen shows no admin banner
    finally:
        claimed = services.outbox.claim_key("test-ops", result.idempotency_key, 60)
        assert claimed is not None
        services.outbox.release("test-ops", claimed, "test done", rejected=True)
        services.sync.start()
    polled.clear()
    ops.poll_outbox(lambda: polled.append(True))
    kiosk.pump(lambda: bool(polled))
    assert ops.banner.text == ""
