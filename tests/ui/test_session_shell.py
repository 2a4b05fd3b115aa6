"""The shell around the flow, without Kivy: events in, effects on workers, stale results out."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from kiosk.model import VisitKind
from kiosk.settings import UiSettings
from kiosk.visit.contract import Step, View, ViewName
from kiosk.visit.effects import Effect, EffectKind
from kiosk.visit.events import ChooseVisit, Continue, Event, Outcome
from screens.shell import DeskSession, Shown


@dataclass(frozen=True)
class Work(Event):
    """Input that makes the flow double ask for one effect."""

    kind = "work"


@dataclass(frozen=True)
class Slow(Effect):
    kind = EffectKind.FETCH_RECORD


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class RecordingFlow:
    """A flow double at the shell's boundary: asks for one effect per 'work' event."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.wiped = False

    def start(self, at: datetime) -> Step:
        return Step(View(ViewName.INSERT_CARD, "t"))

    def handle(self, event: Event, at: datetime) -> Step:
        self.events.append(event)
        if isinstance(event, Work):
            return Step(View(ViewName.WORKING, "t"), (Slow(),))
        return Step(View(ViewName.CARD_RECORD, "t"))

    def wipe(self) -> None:
        self.wiped = True


class Shell:
    def __init__(self, ui: UiSettings | None = None) -> None:
        self.flows: list[RecordingFlow] = []
        self.shown: list[Shown] = []
        self.posted: list[Callable[[], None]] = []
        self.release = threading.Event()
        self.ran = threading.Event()
        self.now = 1000.0

        def make_flow() -> RecordingFlow:
            self.flows.append(RecordingFlow())
            return self.flows[-1]

        def run_effect(effect: Effect) -> Outcome:
            self.ran.set()
            self.release.wait(5)
            return Outcome(effect)

        self.session = DeskSession(
            make_flow=make_flow, clock=Clock(), run_effect=run_effect,
            post=self.posted.append, show=self.shown.append,
            ui=ui or UiSettings(idle_timeout_s=90, idle_warning_s=15),
            monotonic=lambda: self.now,
        )

    def settle(self) -> None:
        """Let the worker finish and run what it posted to the 'UI thread'."""
        self.release.set()
        for _ in range(100):
            if self.posted:
                break
            threading.Event().wait(0.01)
        while self.posted:
            self.posted.pop(0)()


def test_effect_outcome_goes_back_into_the_same_flow() -> None:
    shell = Shell()
    shell.session.begin()
    shell.session.send(Work())
    assert shell.ran.wait(5)
    assert shell.session.busy == 1
    shell.settle()
    flow = shell.flows[0]
    assert [e.kind for e in flow.events] == ["work", "effect_done"]
    assert shell.session.busy == 0


def test_outcome_of_a_replaced_flow_is_dropped_and_the_old_flow_wiped() -> None:
    shell = Shell()
    shell.session.begin()
    shell.session.send(Work())
    assert shell.ran.wait(5)
    shell.session.begin()  # e.g. after a flow failure: a new flow
    shell.settle()
    old, new = shell.flows
    assert old.wiped
    assert [e.kind for e in old.events] == ["work"]
    assert new.events == []


def test_idle_timeout_never_cuts_off_a_running_effect_then_ends_the_visit() -> None:
    shell = Shell()
    shell.session.begin()
    shell.session.send(Continue())  # a CARD_RECORD view: idle applies
    shell.now += 80
    assert shell.session.idle_seconds_left() == 10
    shell.session.send(Work())
    shell.now += 200
    assert shell.session.idle_seconds_left() is None  # busy
    shell.session.tick()
    assert shell.flows[0].events[-1].kind == "work"
    shell.settle()  # the effect ends; the idle clock restarts from its outcome
    shell.session.tick()
    assert shell.flows[0].events[-1].kind == "effect_done"
    shell.now += 91
    shell.session.tick()
    assert shell.flows[0].events[-1].kind == "idle_timeout"
    assert shell.session.notice == "ui.idle.ended"


def test_visit_buttons_become_choose_visit_events() -> None:
    shell = Shell()
    shell.session.begin()
    shell.session.action("visit:block")
    assert shell.flows[0].events[-1] == ChooseVisit(VisitKind.BLOCK)


def test_a_button_no_flow_knows_sends_nothing() -> None:
    shell = Shell()
    shell.session.begin()
    shell.session.action("teleport")
    assert shell.flows[0].events == []


def test_shutdown_wipes_the_flow() -> None:
    shell = Shell()
    shell.session.begin()
    shell.session.shutdown()
    assert shell.flows[0].wiped
    assert shell.session.flow is None


class HomeFlow(RecordingFlow):
    def start(self, at: datetime) -> Step:
        return Step(View(ViewName.HOME, "t"))

    def handle(self, event: Event, at: datetime) -> Step:
        self.events.append(event)
        return Step(View(ViewName.HOME, "t"))


def test_home_gets_clock_events_so_the_sign_in_can_expire_untouched() -> None:
    shell = Shell()
    flow = HomeFlow()
    shell.session._make_flow = lambda: flow
    shell.session.begin()
    shell.now += 5
    shell.session.tick()
    assert flow.events == []
    shell.now += 6
    shell.session.tick()
    assert [e.kind for e in flow.events] == ["clock"]
    assert shell.session.idle_seconds_left() is None  # HOME has nothing to lose
