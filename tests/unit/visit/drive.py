"""A step-by-step driver for flow unit tests: inputs in, effects run through the rig's ports
(hardware/sim's deck and memory cards, the portal double, the outbox)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from kiosk.errors import KioskError
from kiosk.model import VisitKind
from kiosk.visit import events
from kiosk.visit.admin_session import VISIT_FLOWS
from kiosk.visit.contract import Step
from kiosk.visit.effects import Effect
from kiosk.visit.events import EffectFailed, Event
from kiosk.visit.flow import VisitFlow
from kiosk.visit.runner import EffectRunner
from tests.unit.visit.rig import READER, SETTINGS, Rig, admin_auth, rig


@dataclass(frozen=True)
class Stray(Event):
    """An event no flow knows (a name the contract has no event for)."""

    kind = "stray"
    name: str = ""


INPUTS: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in vars(events).values()
    if isinstance(cls, type) and issubclass(cls, Event) and not issubclass(cls, events.Outcome)
    and cls is not Event
}


def event(kind: str, /, **data: Any) -> Event:
    """The typed input event for a test's shorthand (its kind and fields); Stray if unknown."""
    if kind == "choose_visit":
        return events.ChooseVisit(VisitKind(data["kind"]))
    cls = INPUTS.get(kind)
    return cls(**data) if cls is not None else Stray(kind)


def pin_keys(pin: str) -> list[tuple[str, dict[str, Any]]]:
    return [("pin_digit", {"digit": d}) for d in pin] + [("pin_submit", {})]


class Driver:
    """Feeds inputs to a flow; runs its effects at once, or holds them (``hold=True``)."""

    def __init__(self, flow: Any, the_rig: Rig | None = None) -> None:
        self.flow = flow
        self.rig = the_rig or rig()
        r = self.rig
        self.runner = EffectRunner(r.reader, r.tokens, r.portal, r.store, r.clock)
        self.held: deque[Effect] = deque()
        self.holding = False
        self.steps: list[Step] = []
        self.effects_run: list[str] = []
        self.step = self.record(flow.start(r.clock.now()))
        self.settle()

    def record(self, step: Step) -> Step:
        self.steps.append(step)
        self.step = step
        return step

    def send(self, item: str | Event, /, hold: bool = False, **data: Any) -> Step:
        """Handle one input (an event, or its kind and fields); effects run at once unless
        held (then until ``settle``)."""
        self.holding = self.holding or hold
        typed = item if isinstance(item, Event) else event(item, **data)
        self.record(self.flow.handle(typed, self.rig.clock.now()))
        self.held.extend(self.step.effects)
        if not self.holding:
            self.settle()
        return self.step

    def inputs(self, items: list[tuple[str, dict[str, Any]]] | list[str]) -> Step:
        for item in items:
            if isinstance(item, str):
                self.send(item)
            else:
                self.send(item[0], **item[1])
        return self.step

    def settle(self) -> Step:
        self.holding = False
        self.held.extend(e for e in self.step.effects if e not in self.held)
        while self.held:
            effect = self.held.popleft()
            self.effects_run.append(effect.kind)
            self.record(self.flow.handle(self.runner.run(effect), self.rig.clock.now()))
            self.held.extend(self.step.effects)
        return self.step

    def fail_held(self, error: KioskError) -> Step:
        effect = self.held.popleft()
        self.record(self.flow.handle(EffectFailed(effect, error), self.rig.clock.now()))
        self.held.extend(self.step.effects)
        return self.step

    @property
    def view(self) -> Any:
        return self.step.view


def visit(kind: VisitKind, the_rig: Rig | None = None, visit_id: str = "v1") -> Driver:
    flow: VisitFlow = VISIT_FLOWS[kind](admin_auth(), SETTINGS, visit_id)
    return Driver(flow, the_rig)


INSERT = ("card_inserted", {"reader": READER})


def run_until(d: Driver, kind: str) -> Driver:
    """Run held effects until the next one is ``kind`` (which stays held, in flight)."""
    while d.held and d.held[0].kind != kind:
        effect = d.held.popleft()
        d.effects_run.append(effect.kind)
        d.record(d.flow.handle(d.runner.run(effect), d.rig.clock.now()))
        d.held.extend(d.step.effects)
    assert d.held and d.held[0].kind == kind, f"{kind} never asked for"
    return d


CURRENT_PIN = "583920"
NEW_PIN = "480159"
SIGNATURE_PIN = "730284"


def happy_script(kind: VisitKind, the_rig: Rig) -> list[tuple[str, dict[str, Any]]]:
    """Inputs that take a visit of ``kind`` from start to DONE, with the rig prepared for it."""
    from tests.unit.visit.rig import evidence_of, holder

    anna, eva = holder("anna"), holder("eva")
    if kind is VisitKind.ACTIVATION:
        the_rig.insert(anna)
        return [
            INSERT, ("continue", {}), ("document_scanned", {"evidence": evidence_of(anna)}),
            ("document_confirmed", {}), *pin_keys(NEW_PIN), *pin_keys(NEW_PIN), *pin_keys(NEW_PIN),
        ]
    if kind is VisitKind.UNLOCK:
        the_rig.insert(eva, CURRENT_PIN)
        the_rig.lock(eva)
        return [
            INSERT, ("continue", {}), ("document_scanned", {"evidence": evidence_of(eva)}),
            ("document_confirmed", {}), *pin_keys(NEW_PIN), *pin_keys(NEW_PIN),
        ]
    if kind is VisitKind.CHANGE_PIN:
        the_rig.insert(eva, CURRENT_PIN)
        return [
            INSERT, ("continue", {}), *pin_keys(CURRENT_PIN), *pin_keys(NEW_PIN),
            *pin_keys(NEW_PIN),
        ]
    if kind is VisitKind.CARD_CHECK:
        the_rig.insert(eva, CURRENT_PIN)
        return [INSERT, ("done", {})]
    if kind is VisitKind.PIN_LETTER:
        the_rig.insert(eva, CURRENT_PIN)
        return [
            INSERT, ("continue", {}), ("document_scanned", {"evidence": evidence_of(eva)}),
            ("document_confirmed", {}),
        ]
    if kind is VisitKind.SIGNATURE_CERTIFICATE:
        the_rig.card(eva, CURRENT_PIN, signature_days=None)
        the_rig.insert(eva)
        return [
            INSERT, ("continue", {}), ("document_scanned", {"evidence": evidence_of(eva)}),
            ("document_confirmed", {}), *pin_keys(CURRENT_PIN), *pin_keys(NEW_PIN),
            *pin_keys(NEW_PIN),
        ]
    if kind is VisitKind.RENEW_CERTIFICATES:
        the_rig.card(eva, CURRENT_PIN, signature_pin=SIGNATURE_PIN, signature_days=60,
                     authentication_days=60)
        the_rig.insert(eva)
        return [INSERT, ("continue", {}), *pin_keys(CURRENT_PIN), *pin_keys(SIGNATURE_PIN)]
    if kind is VisitKind.ADDITIONAL_CERTIFICATE:
        the_rig.card(eva, CURRENT_PIN, signature_days=None)
        the_rig.insert(eva)
        return [
            INSERT, ("continue", {}), ("document_scanned", {"evidence": evidence_of(eva)}),
            ("document_confirmed", {}), ("chosen", {"choice": "Region Norrland (demo)"}),
            *pin_keys(CURRENT_PIN),
        ]
    return [
        ("card_number_typed", {"card_number": eva.card_number}), ("continue", {}),
        ("block_reason", {"reason": "lost"}), ("confirm", {}),
    ]
