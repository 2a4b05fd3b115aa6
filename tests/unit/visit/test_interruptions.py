"""Card removal and idle timeout at every step of every visit have a defined outcome."""

from __future__ import annotations

from typing import Any

import pytest

from kiosk.i18n import catalog
from kiosk.model import VisitKind
from kiosk.visit.contract import ViewName
from kiosk.visit.stages import Progress, Stage, ended_message_key
from tests.unit.visit.drive import INSERT, NEW_PIN, Driver, happy_script, pin_keys, run_until, visit
from tests.unit.visit.rig import evidence_of, holder

ANNA = holder("anna")
IGNORED, RESET, REINSERT = "ignored", "reset", "reinsert"


def activation_at(stage: str) -> Driver:
    """An activation driven to ``stage``; names ending in an effect kind hold it in flight."""
    d = visit(VisitKind.ACTIVATION)
    d.rig.insert(ANNA)
    scan = ("document_scanned", {"evidence": evidence_of(ANNA)})
    steps: dict[str, list[Any]] = {
        "insert_card": [],
        "card_record": [INSERT],
        "document_scan": [INSERT, "continue"],
        "document_manual": [INSERT, "continue", "document_manual"],
        "document_confirm": [INSERT, "continue", scan],
        "pin_choose": [INSERT, "continue", scan, "document_confirmed"],
        "pin_confirm": [INSERT, "continue", scan, "document_confirmed", *pin_keys(NEW_PIN)],
        "sign_receipt": [
            INSERT, "continue", scan, "document_confirmed", *pin_keys(NEW_PIN), *pin_keys(NEW_PIN)
        ],
    }
    steps["reinsert"] = [*steps["sign_receipt"], "card_removed"]
    held = {
        "identify_card": ("insert_card", [INSERT]),
        "fetch_record": ("insert_card", [INSERT]),
        "start_activation": ("document_confirm", ["document_confirmed"]),
        "write_pin": ("pin_confirm", pin_keys(NEW_PIN)),
        "sign_receipt!": ("sign_receipt", pin_keys(NEW_PIN)),
        "record_result": ("sign_receipt", pin_keys(NEW_PIN)),
        "sync_result": ("sign_receipt", pin_keys(NEW_PIN)),
    }
    if stage in steps:
        d.inputs(steps[stage])
        return d
    base, tail = held[stage]
    d.inputs(steps[base])
    for item in tail:
        kind, data = (item, {}) if isinstance(item, str) else item
        d.send(kind, hold=True, **data)
    return run_until(d, stage.rstrip("!"))


# stage -> (outcome of card_removed, outcome of idle_timeout); a key = finished with it.
ACTIVATION_TABLE: dict[str, tuple[str, str]] = {
    "insert_card": (IGNORED, "visit.ended.nothing"),
    "identify_card": (RESET, IGNORED),
    "fetch_record": (RESET, IGNORED),
    "card_record": ("visit.ended.nothing", "visit.ended.nothing"),
    "document_scan": ("visit.ended.nothing", "visit.ended.nothing"),
    "document_manual": ("visit.ended.nothing", "visit.ended.nothing"),
    "document_confirm": ("visit.ended.nothing", "visit.ended.nothing"),
    "start_activation": ("visit.ended.nothing", IGNORED),
    "pin_choose": ("visit.ended.started", "visit.ended.started"),
    "pin_confirm": ("visit.ended.started", "visit.ended.started"),
    "write_pin": ("visit.ended.writing", IGNORED),
    "sign_receipt": (REINSERT, "visit.ended.pin_set"),
    "sign_receipt!": (REINSERT, IGNORED),
    "reinsert": (REINSERT, "visit.ended.pin_set"),
    "record_result": (IGNORED, IGNORED),
    "sync_result": (IGNORED, IGNORED),
}


def check_outcome(d: Driver, before: Any, expected: str, error_code: str) -> None:
    step = d.step
    if expected == IGNORED:
        assert not step.finished and step.effects == ()
        assert step.view.name == before.name and step.view.message == before.message
    elif expected == REINSERT:
        assert not step.finished and step.view.name is ViewName.INSERT_CARD
        assert step.view.message == "visit.insert.reinsert_to_sign"
        assert step.view.params["deadline"] and step.view.pin_length == 0
        assert len(d.flow.pins.receipt) == 0 and step.effects == ()
    elif expected == RESET:
        assert not step.finished and step.view.name is ViewName.INSERT_CARD
        assert step.view.error is not None and step.view.error.code == "card_removed"
        assert step.view.error.next_step == "next.reinsert_card"  # the visit goes on
    else:
        assert step.finished and step.view.message == expected
        assert step.view.error is not None and step.view.error.code == error_code
        if error_code == "card_removed":  # the visit is over: a new one, not a retry
            assert step.view.error.next_step == "next.card_removed.ended"
        assert step.view.actions == ("home",)
        assert d.flow.pins.wiped()
        assert d.flow.ticket.credential is None


@pytest.mark.parametrize("stage", list(ACTIVATION_TABLE))
def test_card_removed_during_activation(stage: str) -> None:
    d = activation_at(stage)
    before = d.view
    d.send("card_removed", hold=True)
    check_outcome(d, before, ACTIVATION_TABLE[stage][0], "card_removed")


@pytest.mark.parametrize("stage", list(ACTIVATION_TABLE))
def test_idle_timeout_during_activation(stage: str) -> None:
    d = activation_at(stage)
    before = d.view
    d.send("idle_timeout", hold=True)
    check_outcome(d, before, ACTIVATION_TABLE[stage][1], "visit_timed_out")


def test_explanations_after_the_pin_carry_the_deadline() -> None:
    d = activation_at("sign_receipt")
    d.send("idle_timeout")
    assert d.view.params["deadline"].startswith("2026-")
    assert "{deadline}" in catalog("sv")["visit.ended.pin_set"]


@pytest.mark.parametrize("kind", list(VisitKind))
@pytest.mark.parametrize("interruption", ["card_removed", "idle_timeout"])
def test_interruption_at_every_step_of_every_visit(kind: VisitKind, interruption: str) -> None:
    """Replay the happy path to each step, interrupt, and check the outcome is defined."""
    probe = visit(kind)
    script = happy_script(kind, probe.rig)
    for cut in range(len(script) + 1):
        d = visit(kind)
        happy_script(kind, d.rig)
        d.inputs(script[:cut])
        if d.step.finished:
            break
        before_stage = d.flow.stage
        before_view = d.view
        d.send(interruption)
        view = d.view
        assert view.name in ViewName
        if d.step.finished:
            assert view.actions == ("home",)
            assert view.message in catalog("sv") and view.message in catalog("en")
            assert view.error is not None
            assert view.error.code in ("card_removed", "visit_timed_out")
            assert len(d.flow.pins.new) == 0 and d.flow.ticket.credential is None
        elif view.name is ViewName.INSERT_CARD and before_stage is not Stage.INSERT_CARD:
            assert interruption == "card_removed"
        else:
            assert view.name == before_view.name, (cut, before_stage)


@pytest.mark.parametrize("kind", list(VisitKind))
@pytest.mark.parametrize("progress", list(Progress))
def test_every_ended_explanation_is_translated(kind: VisitKind, progress: Progress) -> None:
    key = ended_message_key(kind, progress)
    assert key in catalog("sv") and key in catalog("en")


def test_block_by_typed_number_ignores_card_removal() -> None:
    d = visit(VisitKind.BLOCK)
    d.send("card_number_typed", card_number=holder("eva").card_number)
    d.send("card_removed")
    assert d.view.name is ViewName.CARD_RECORD and not d.step.finished
