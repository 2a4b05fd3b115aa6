"""Operations around the App: systemd notify and watchdog, background sync, deadline banner,
and SIGHUP (finish the visit, exit 75 so systemd restarts on new settings) / SIGTERM.

Signal handlers only schedule work on Kivy's Clock; the outbox is read on a worker thread.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from kivy.clock import Clock
from kivy.core.window import Window

from kiosk.visit.contract import HOLDER_VIEWS
from kiosk.watchdog import Watchdog
from screens.texts import tr
from screens.widgets.ops_banner import OpsBanner

log = logging.getLogger(__name__)

RESTART_EXIT_CODE = 75  # systemd/kiosk.service: RestartForceExitStatus=SIGHUP 75
BANNER_POLL_S = 30.0
TICK_S = 0.5


def banner_text(alerts: list[Any], lang: str) -> str:
    """The banner for the outbox's deadline alerts (empty when there are none)."""
    if not alerts:
        return ""
    hours_left = min(alert.hours_left for alert in alerts)
    if hours_left <= 0:
        return tr("ops.banner.overdue", lang)
    return tr("sync.banner.deadline", lang, hours=max(1, math.floor(hours_left)))


class Operations:
    """What the App does for the fleet while it runs; one per App."""

    def __init__(self, app: Any, watchdog: Watchdog | None = None,
                 banner_poll_s: float = BANNER_POLL_S) -> None:
        self.app = app
        self.watchdog = watchdog or Watchdog.from_env()
        self.banner_poll_s = banner_poll_s
        self.banner = OpsBanner()
        self.alerts: list[Any] = []
        self.restart_requested = False
        self._status = ""
        self._outbox_status = ""
        self._awaiting_first_frame = False
        self._polling = threading.Lock()
        self._previous_handlers: dict[int, Any] = {}
        self._events: list[Any] = []
        self._stopped = False
        self._ready_sent = False

    # --- start and stop ----------------------------------------------------------------

    def install(self, root: Any) -> None:
        """Banner under the top bar, signal handlers, the tick and the watchdog pings."""
        root.add_widget(self.banner, index=len(root.children) - 1)
        # Only a kiosk run by screens.launch owns the process's signals (not a test harness).
        signals = ((signal.SIGHUP, self._on_sighup), (signal.SIGTERM, self._on_sigterm))
        for signum, handler in signals if self.app.handle_signals else ():
            try:
                self._previous_handlers[signum] = signal.signal(signum, handler)
            except ValueError:  # not the main thread: the embedding process owns signals
                log.warning("signal handlers not installed (not on the main thread)")
        self._events.append(Clock.schedule_interval(self._tick, TICK_S))
        interval = self.watchdog.interval_s
        if interval is not None:
            # On the main loop on purpose: a hung loop stops the pings and systemd restarts us.
            self._events.append(Clock.schedule_interval(self._ping, min(1.0, interval / 2)))
        self.set_status("starting")

    def services_ready(self, services: Any) -> None:
        """Start the background sync and the banner poll; READY once the next frame is drawn."""
        sync = getattr(services, "sync", None)
        if sync is not None:
            sync.start()  # its own daemon thread: retries queued results, sends heartbeats
        self._awaiting_first_frame = True
        Window.bind(on_flip=self._first_frame)
        self._events.append(Clock.schedule_interval(lambda _dt: self.poll_outbox(),
                                                    self.banner_poll_s))
        self.poll_outbox()

    def services_failed(self, exc: BaseException) -> None:
        """The services did not start: say so in `systemctl status` (no READY: systemd retries)."""
        self.set_status(f"services did not start: {type(exc).__name__}")

    def stop(self) -> None:
        """STOPPING=1, no more ticks, the previous signal handlers back."""
        if self._stopped:
            return
        self._stopped = True
        self.watchdog.stopping()
        for event in self._events:
            event.cancel()
        self._events.clear()
        Window.unbind(on_flip=self._first_frame)
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers.clear()

    # --- systemd ------------------------------------------------------------------------

    def set_status(self, text: str) -> None:
        """STATUS= for `systemctl status`, sent only when it changes."""
        if text != self._status:
            self._status = text
            self.watchdog.status(text)

    def _first_frame(self, *_args: Any) -> None:
        if not self._awaiting_first_frame:
            return
        self._awaiting_first_frame = False
        Window.unbind(on_flip=self._first_frame)
        self.watchdog.ready("ready")
        self._status = "ready"
        self._ready_sent = True
        log.info("kiosk ready")

    def _ping(self, _dt: float) -> None:
        self.watchdog.ping()

    # --- visits and restarts -----------------------------------------------------------

    def visit_in_progress(self) -> bool:
        """A visit is open, or an effect (card, portal) is still running."""
        session = self.app.session
        if session is None:
            return False
        # imported here: admin_session brings every visit flow (kiosk.pki, cryptography),
        # which the first frame does not need; a session exists only once they are loaded
        from kiosk.visit.admin_session import SessionStage

        stage = getattr(session.flow, "stage", None)
        return stage is SessionStage.IN_VISIT or session.busy > 0

    def _tick(self, _dt: float) -> None:
        in_visit = self.visit_in_progress()
        if self.restart_requested and not in_visit:
            log.info("restarting on request (exit %d)", RESTART_EXIT_CODE)
            self.app.exit_code = RESTART_EXIT_CODE
            self.app.stop()
            return
        if not self._ready_sent:  # starting, or the services failed: that status stays
            return
        if self.restart_requested:
            self.set_status("restart requested: waiting for the visit to end")
        elif in_visit:
            self.set_status("visit in progress")
        else:
            self.set_status(self._outbox_status or "ready")

    def _on_sighup(self, _signum: int, _frame: FrameType | None) -> None:
        Clock.schedule_once(lambda _dt: self._restart_requested(), 0)

    def _restart_requested(self) -> None:
        log.info("SIGHUP: restart once no visit is in progress")
        self.restart_requested = True
        self._tick(0)

    def _on_sigterm(self, _signum: int, _frame: FrameType | None) -> None:
        Clock.schedule_once(lambda _dt: self._terminate(), 0)

    def _terminate(self) -> None:
        log.info("SIGTERM: wiping the visit and stopping")
        self.app.exit_code = 0
        self.app.stop()  # on_stop wipes the flow's secrets and closes the services

    # --- the outbox banner ---------------------------------------------------------------

    def poll_outbox(self, done: Callable[[], None] | None = None) -> None:
        """Read the outbox's deadline alerts on a worker; the banner follows on the UI thread."""
        outbox = getattr(self.app.services, "outbox", None)
        if outbox is None or not self._polling.acquire(blocking=False):
            return

        def work() -> None:
            try:
                status = outbox.status()
            except Exception:  # a broken outbox is logged; the banner keeps its last state
                log.exception("outbox status failed")
                return
            finally:
                self._polling.release()
            Clock.schedule_once(lambda _dt: self._outbox_read(status, done), 0)

        threading.Thread(target=work, name="kiosk-outbox-poll", daemon=True).start()

    def _outbox_read(self, status: Any, done: Callable[[], None] | None) -> None:
        self.alerts = list(status.alerts)
        if status.depth and status.last_error:
            self._outbox_status = (f"{status.depth} results queued for the portal"
                                   f" (portal unreachable? {status.last_error})")
        elif status.depth:
            self._outbox_status = f"{status.depth} results queued for the portal"
        else:
            self._outbox_status = ""
        self.refresh_banner()
        if done is not None:
            done()

    def refresh_banner(self) -> None:
        """Show the alerts on administrator screens; hide them on the holder's PIN screens."""
        name = self.app.current_name
        holder_screen = name in {view.value for view in HOLDER_VIEWS}
        self.banner.text = "" if holder_screen else banner_text(self.alerts, self.app.lang)
