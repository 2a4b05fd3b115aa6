"""One real Kivy window per test session, rendered offscreen, on the demo's simulated devices.

Kivy allows one window per process, so the app is session-scoped; each test starts a
fresh flow (signed out, no card) and drives it with real touches through screens.driver.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kiosk.settings import Settings, UiSettings

STATE = Path(tempfile.mkdtemp(prefix="kiosk-ui-tests-"))
SETTINGS = Settings(ui=replace(UiSettings(), fullscreen=False, idle_timeout_s=90,
                               idle_warning_s=15))


def _prepare_kivy() -> None:
    from screens.kivy_env import plan_display, prepare_kivy

    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        os.environ.pop(name, None)
    prepare_kivy(plan_display(SETTINGS.ui, force_headless=True), SETTINGS.ui, STATE)


_prepare_kivy()  # before any test module imports screens (and so kivy)


class Harness:
    """The running app, pumped by hand: run driver scripts and wait for conditions."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def pump(self, until: Callable[[], bool], timeout_s: float = 30.0) -> None:
        """Turn the event loop until ``until()`` holds."""
        from kivy.base import EventLoop

        deadline = time.monotonic() + timeout_s
        while not until():
            if time.monotonic() > deadline:
                raise TimeoutError("the app did not get there in time")
            EventLoop.idle()

    def run(self, script: Callable[[Any], Generator[Any, None, None]],
            timeout_s: float = 60.0, shots_only: bool = False) -> None:
        """Run a driver script to its end; its failure fails the test."""
        from screens.driver import Driver

        driver = Driver(self.app, timeout_s=timeout_s, shots_only=shots_only)
        outcome: list[BaseException | None] = []
        driver.run(script(driver), outcome.append)
        self.pump(lambda: bool(outcome), timeout_s + 10)
        if outcome[0] is not None:
            raise outcome[0]

    def fresh_start(self) -> None:
        """A new flow at sign-in, no card in the reader, Swedish, the cast's cards as seeded."""
        app = self.app
        app.services.deck.remove()
        portal = app.services.running_portal
        if portal is not None:  # started without waiting: its database is made as it starts
            portal.wait_until_ready()
        restore_cast(STATE / "services" / "demo-portal" / "portal.db")
        app.demo_card = None
        if app.lang != "sv":
            app.switch_language()
        app.session.begin()
        self.pump(lambda: app.current_screen().name == "admin_sign_in")
        from kivy.clock import Clock

        laid_out = Clock.frames + 3  # the chrome a language switch rebuilt is laid out
        self.pump(lambda: Clock.frames >= laid_out)

    def texts(self) -> list[str]:
        """Every text on the current screen."""
        return self.app.current_screen().texts()


def restore_cast(db_path: Path) -> None:
    """Put the holders' cards back as the demo seed has them.

    One app (and demo portal) serves every test of a worker, in any order: a test that
    activates Anna's card must not leave it refused for the next one.
    """
    from kiosk.demo_cast import demo_holders
    from portal.seed import seed_demo

    today = date.today()
    cards = [(holder.card_number,) for holder in demo_holders(today)]
    # read-write, never create: fresh_start waited for the portal, so its database is there
    conn = sqlite3.connect(f"{db_path.as_uri()}?mode=rw", uri=True, timeout=30)
    with closing(conn), conn:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.executemany("DELETE FROM activations WHERE card_number = ?", cards)
        conn.executemany("DELETE FROM certificates WHERE card_number = ?", cards)
        conn.executemany("DELETE FROM pin_letters WHERE card_number = ?", cards)
        conn.executemany("DELETE FROM cards WHERE card_number = ?", cards)
        seed_demo(conn, today)


@pytest.fixture(scope="session")
def harness() -> Iterator[Harness]:
    """The app on simulated devices and a demo portal, in one offscreen window."""
    from screens.launch import build_app

    app = build_app(SETTINGS, STATE / "services", demo=True)
    app._run_prepare()  # window, build(), on_start(): what App.run() does before its loop
    harness = Harness(app)
    harness.pump(lambda: app.composition is not None, timeout_s=60)  # services on a worker
    from screens.driver import draw_every_frame, skip_unseen_frames

    # Nobody sees this window: it draws only the frames a test photographs. Drawing the
    # others was two thirds of the UI tests' CPU (680 frames, 13.5 of 19.2 s in three
    # files); the tour and the headless demo draw every screen they photograph.
    skip_unseen_frames()
    try:
        yield harness
    finally:
        from kivy.base import EventLoop

        draw_every_frame()
        EventLoop.idle()  # what is scheduled runs while the app is still there
        app.stop()  # as App.run() ends: no frame after it (kv rules read the running app)


@pytest.fixture
def kiosk(harness: Harness) -> Harness:
    """The harness at a fresh sign-in screen."""
    harness.fresh_start()
    return harness
