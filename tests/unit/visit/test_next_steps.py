"""Wrong next steps fixed (issue 12.7): what the screen tells the person to do next."""

from __future__ import annotations

import pytest

from kiosk.i18n import translate
from kiosk.model import VisitKind
from kiosk.visit.contract import ViewName
from tests.unit.visit.drive import NEW_PIN, happy_script, pin_keys, visit


def test_a_too_short_pin_keeps_its_digits_and_asks_for_the_missing_ones() -> None:
    """Before: the digits stayed on the pad while the screen asked for another code."""
    d = visit(VisitKind.ACTIVATION)
    d.inputs(happy_script(VisitKind.ACTIVATION, d.rig)[:4])
    assert d.view.name is ViewName.PIN_CHOOSE
    d.inputs(pin_keys(NEW_PIN[:4]))  # OK after four digits
    assert d.view.name is ViewName.PIN_CHOOSE and d.view.pin_length == 4
    assert d.view.error is not None and d.view.error.message == "pin.rule.length"
    assert d.view.error.next_step == "pin.rule.length.next"
    assert "fattas" in translate(d.view.error.next_step, "sv")
    d.inputs(pin_keys(NEW_PIN[4:]))  # the two missing digits, then OK
    assert d.view.name is ViewName.PIN_CONFIRM


@pytest.mark.parametrize("kind", list(VisitKind))
def test_every_visit_screen_says_step_n_of_m(kind: VisitKind) -> None:
    """ "Steg n av m" (issue 12.3): on every screen of the visit, never backwards, and the
    last step on DONE."""
    d = visit(kind)
    d.inputs(happy_script(kind, d.rig))
    assert d.step.finished
    shown = [s.view for s in d.steps if s.view.name not in (ViewName.ERROR,)]
    steps = [(v.params.get("step"), v.params.get("steps")) for v in shown]
    assert all(n is not None for n, _ in steps), [(v.name, v.params) for v in shown]
    numbers = [n for n, _ in steps]
    assert numbers == sorted(numbers) and numbers[0] == 1
    total = steps[0][1]
    assert {m for _, m in steps} == {total} and numbers[-1] == total
