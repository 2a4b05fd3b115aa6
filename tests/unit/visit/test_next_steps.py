"""Wrong next steps fixed (issue 12.7): what the screen tells the person to do next."""

from __future__ import annotations

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
