"""The shell around the kiosk's top-level flow: input to events, effects on workers, timers.

No Kivy here: the App passes ``post`` (run a callable on the UI thread, i.e.
Clock.schedule_once) and ``show`` (render a view). Every rule lives in the flow
(kiosk.visit.admin_session.KioskSession: sign-in, home, one visit at a time); this class
only turns taps, card events and time into events and runs the effects the flow asks for.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from kiosk.settings import UiSettings
from kiosk.visit.contract import Flow, Step, View, ViewName

if TYPE_CHECKING:  # the event classes are imported where they are sent, after the first frame
    from kiosk.ports import CardEvent, Clock
    from kiosk.visit.effects import Effect
    from kiosk.visit.events import Event, Outcome

log = logging.getLogger(__name__)

EffectRunner: TypeAlias = "Callable[[Effect], Outcome]"
Post = Callable[[Callable[[], None]], None]

CLOCK_EVENT_EVERY_S = 10.0  # lets the flow notice its sign-in timeout while nobody taps


@dataclass(frozen=True)
class Shown:
    """What the screen shows now: the view, and whether it ended a visit."""

    view: View
    finished: bool


class DeskSession:
    """Routes input to the flow, runs effects off the UI thread, keeps idle time."""

    def __init__(
        self,
        *,
        make_flow: Callable[[], Flow],
        clock: Clock,
        run_effect: EffectRunner | None,
        post: Post,
        show: Callable[[Shown], None],
        ui: UiSettings,
        monotonic: Callable[[], float] = time.monotonic,
        executor: Executor | None = None,
        on_signed_out: Callable[[], None] | None = None,
    ) -> None:
        self._make_flow = make_flow
        self._clock = clock
        self._run_effect = run_effect
        self._post = post
        self._show = show
        self._ui = ui
        self._monotonic = monotonic
        self._executor = executor or ThreadPoolExecutor(2, thread_name_prefix="kiosk-effect")
        self.flow: Flow | None = None
        self._generation = 0
        self.busy = 0
        self._last_input = monotonic()
        self._last_clock_event = monotonic()
        self.notice: str | None = None
        self.shown: Shown | None = None
        self.effects_run = 0
        # called whenever no administrator is signed in (the session key is dropped)
        self._on_signed_out = on_signed_out

    # --- starting and ending --------------------------------------------------------

    def begin(self) -> None:
        """A fresh flow at the administrator's sign-in."""
        self._drop_flow()
        flow = self._make_flow()
        self.flow = flow
        self._last_input = self._monotonic()
        self._apply(flow.start(self._clock.now()))

    def shutdown(self) -> None:
        """Wipe the flow's secrets and stop the workers."""
        self._drop_flow()
        self._executor.shutdown(wait=False, cancel_futures=True)

    @property
    def admin(self) -> Any:
        """The signed-in administrator, if any (for the top bar)."""
        return getattr(self.flow, "admin", None)

    # --- input ----------------------------------------------------------------------

    def touched(self) -> None:
        """Someone touched the screen: the idle clock restarts."""
        self._last_input = self._monotonic()
        self.notice = None

    def action(self, name: str, /) -> None:
        """A button of the view's ``actions``: the event it stands for (kiosk.visit.events)."""
        from kiosk.visit.events import action_event

        self.touched()
        event = action_event(name)
        if event is None:
            log.warning("no event for the button %r", name)
            return
        self.send(event)

    def send(self, event: Event, /) -> None:
        """Give the flow an event now (UI thread) and show its answer."""
        flow = self.flow
        if flow is None:
            return
        try:
            step = flow.handle(event, self._clock.now())
        except Exception as exc:  # a flow bug must not take the kiosk down
            log.exception("flow failed on %s", event.kind)
            self._show_failure(exc)
            return
        self._apply(step)

    def card_event(self, event: CardEvent) -> None:
        """A presence change from the reader watcher (UI thread)."""
        from kiosk.ports import CardEventKind
        from kiosk.visit.events import CardInserted, CardTakenOut, ReaderChanged

        if event.kind == CardEventKind.INSERTED:
            self.send(CardInserted(event.reader))
        elif event.kind == CardEventKind.REMOVED:
            self.send(CardTakenOut(event.reader))
        else:
            self.send(ReaderChanged(event.reader))

    # --- time -------------------------------------------------------------------------

    def wind_idle_clock(self, seconds: float) -> None:
        """Count as if nobody had touched the screen for ``seconds`` (tour and tests): the
        clock events those seconds would have brought are due too."""
        self._last_input = self._monotonic() - seconds
        self._last_clock_event -= seconds

    def idle_seconds_left(self) -> float | None:
        """Seconds until the idle timeout (or the session lock) while the warning should
        show, else None."""
        idle = self._monotonic() - self._last_input
        if self._lock_applies():
            left = self._ui.admin_idle_lock_s - idle
        elif self._idle_applies():
            left = self._ui.idle_timeout_s - idle
        else:
            return None
        return left if left <= self._ui.idle_warning_s else None

    @property
    def idle_kind(self) -> str:
        """What the idle countdown leads to: "lock" (the session) or "idle" (the visit)."""
        return "lock" if self._lock_applies() else "idle"

    def tick(self) -> None:
        """About twice a second: the idle timeout, the session lock, and clock events for
        the sign-in timeout."""
        from kiosk.visit.events import ClockTick, Home, IdleTimeout, SessionLock

        now = self._monotonic()
        if self._lock_applies() and now - self._last_input >= self._ui.admin_idle_lock_s:
            log.info("session locked: nobody touched the screen")
            self.send(SessionLock())
            self._last_input = now
            return
        if self._idle_applies() and now - self._last_input >= self._ui.idle_timeout_s:
            log.info("idle timeout")
            finished = self.shown is not None and self.shown.finished
            self.send(Home() if finished else IdleTimeout())
            if not finished:  # an ended visit's screen goes HOME; the lock counts on
                self._last_input = now
            self.notice = "ui.idle.ended"
            return
        if self.busy == 0 and now - self._last_clock_event >= CLOCK_EVENT_EVERY_S:
            self._last_clock_event = now
            shown = self.shown
            if shown is not None and (shown.view.name is ViewName.HOME or shown.finished):
                self.send(ClockTick())

    def _lock_applies(self) -> bool:
        """HOME and an ended visit's screen lock the session after ui.admin_idle_lock_s."""
        shown = self.shown
        if self.busy or shown is None or self.admin is None:
            return False
        return shown.view.name is ViewName.HOME or shown.finished

    def _idle_applies(self) -> bool:
        shown = self.shown
        if self.busy or shown is None:
            return False  # a card write or portal call is running: never cut it off
        view = shown.view
        if view.name is ViewName.HOME:
            return False
        return not (view.name is ViewName.ADMIN_SIGN_IN and view.params.get("stage") == "insert"
                    and view.error is None)

    # --- internals --------------------------------------------------------------------

    def _apply(self, step: Step) -> None:
        self.shown = Shown(step.view, step.finished)
        at_rest = step.view.name is ViewName.ADMIN_SIGN_IN and step.view.params.get(
            "stage") == "insert"
        if self.admin is None and at_rest and self._on_signed_out is not None:
            self._on_signed_out()  # signed out or locked: nothing signs in their name now
        self._show(self.shown)
        for effect in step.effects:
            self._submit(effect)

    def _submit(self, effect: Effect) -> None:
        runner = self._run_effect
        if runner is None:
            log.warning("no effect runner for %s", effect.kind)
            return
        generation = self._generation
        self.busy += 1

        def work() -> None:
            outcome = runner(effect)  # EffectRunner.run never raises for a port failure
            self._post(lambda: self._deliver(generation, outcome))

        self._executor.submit(work)

    def _deliver(self, generation: int, outcome: Outcome) -> None:
        self.busy = max(0, self.busy - 1)
        self.effects_run += 1
        self._last_input = self._monotonic()
        if generation != self._generation or self.flow is None:
            return  # the flow this answers is gone; its outcome is dropped
        try:
            step = self.flow.handle(outcome, self._clock.now())
        except Exception as exc:
            log.exception("flow failed on %s", outcome.kind)
            self._show_failure(exc)
            return
        self._apply(step)

    def _show_failure(self, exc: BaseException) -> None:
        from screens.texts import error_view_for

        self._drop_flow()
        self.flow = self._make_flow()
        self.flow.start(self._clock.now())
        view = View(ViewName.ERROR, "ui.error.heading", error=error_view_for(exc),
                    actions=("home",))
        self.shown = Shown(view, True)
        self._show(self.shown)

    def _drop_flow(self) -> None:
        flow, self.flow = self.flow, None
        self._generation += 1
        self.busy = 0
        if flow is not None:
            wipe_flow(flow)


def wipe_flow(flow: Any) -> None:
    """Wipe every secret a flow holds: its own, its running visit's, its PIN buffer's."""
    for part in (flow, getattr(flow, "visit", None), getattr(flow, "pin", None)):
        wipe = getattr(part, "wipe", None)
        if callable(wipe):
            wipe()
