"""Visits and sign-in when the reader's own PIN pad takes the PINs (ON_READER_PAD).

The flows pass no PIN: each PIN stage starts its card effect at once, the screen shows
what to type on the reader, and the reader's refusals come back to be typed again there.
"""

from __future__ import annotations

from hardware.sim.pinpad import SimulatedPinPad
from kiosk.demo_cast import demo_admins
from kiosk.errors import PinEntryCancelled
from kiosk.model import CardStatus, VisitKind
from kiosk.visit.admin_session import KioskSession
from kiosk.visit.contract import ViewName
from kiosk.visit.effects import EffectKind
from kiosk.visit.stages import Progress
from tests.unit.visit.drive import INSERT, Driver, run_until, visit
from tests.unit.visit.rig import SETTINGS, TODAY, Rig, evidence_of, holder, rig

PIN = "480159"
OTHER = "730264"
ANNA, EVA = holder("anna"), holder("eva")


def pad_rig() -> tuple[Rig, SimulatedPinPad]:
    r = rig()
    return r, r.reader_pad()


def to_document_confirmed(d: Driver, who=ANNA, pin: str | None = None) -> None:  # type: ignore[no-untyped-def]
    d.rig.insert(who, pin)
    d.inputs([INSERT, "continue", ("document_scanned", {"evidence": evidence_of(who)})])
    assert d.flow.pins.on_reader_pad, "the identify effect should report the reader's pad"


def test_activation_on_the_reader_pad_reaches_aktiv_without_the_pin_in_the_kiosk() -> None:
    r, pad = pad_rig()
    pad.type_ahead(PIN, PIN, PIN)  # new, confirm, then the receipt signature
    d = visit(VisitKind.ACTIVATION, r)
    to_document_confirmed(d)
    d.send("document_confirmed")
    assert d.step.finished and d.view.message == "visit.done.activation", d.view
    assert pad.asked == ["new_pin", "confirm_pin", "pin"]
    assert r.pin_is(ANNA, PIN)
    assert r.portal.records[ANNA.card_number].status is CardStatus.ACTIVE
    pad_views = [s.view for s in d.steps if s.view.params.get("pin_pad")]
    assert {v.name for v in pad_views} == {ViewName.PIN_CHOOSE, ViewName.SIGN_RECEIPT}
    assert {v.message for v in pad_views} == {
        "visit.pin.pad.write_pin", "visit.pin.pad.sign_receipt"
    }
    assert all(v.actions == () and v.params["waiting"] for v in pad_views)
    assert PIN not in repr(d.steps) and PIN not in repr(r.results())


def test_the_screen_pad_is_dead_while_the_reader_asks() -> None:
    r, _pad = pad_rig()
    d = visit(VisitKind.ACTIVATION, r)
    to_document_confirmed(d)
    d.send("document_confirmed", hold=True)
    run_until(d, EffectKind.WRITE_PIN)
    assert d.view.name is ViewName.PIN_CHOOSE and d.view.params["waiting"]
    for event in ("pin_digit", "pin_submit", "cancel"):
        d.send(event, hold=True, **({"digit": "4"} if event == "pin_digit" else {}))
        assert d.view.name is ViewName.PIN_CHOOSE and not d.step.finished
    assert len(d.flow.pins.new) == 0  # nothing typed on the screen reached a buffer
    assert d.flow.progress is Progress.WRITING  # the reader may be writing: never "nothing"


def test_a_mismatch_on_the_reader_is_typed_again_there() -> None:
    r, pad = pad_rig()
    pad.type_ahead(PIN, OTHER)
    d = visit(VisitKind.ACTIVATION, r)
    to_document_confirmed(d)
    d.send("document_confirmed")
    assert d.view.name is ViewName.PIN_CHOOSE and d.view.error is not None
    assert d.view.error.code == "pin_mismatch"
    assert d.view.actions == ("pad_start", "cancel") and not d.view.params["waiting"]
    assert d.flow.progress is Progress.STARTED  # the card refused nothing: no PIN written
    assert not r.pin_set(ANNA)
    pad.type_ahead(PIN, PIN, PIN)
    d.send("pad_start")
    assert d.step.finished and d.view.message == "visit.done.activation"


def test_a_short_pin_and_a_cancel_on_the_reader_each_get_their_message() -> None:
    r, pad = pad_rig()
    pad.type_ahead("48015")
    d = visit(VisitKind.ACTIVATION, r)
    to_document_confirmed(d)
    d.send("document_confirmed")
    assert d.view.error is not None and d.view.error.code == "pin_rule"
    pad.type_ahead(None)
    d.send("pad_start")
    assert d.view.error is not None and d.view.error.code == "pin_entry_cancelled"
    assert d.view.error.next_step == "next.pin_entry_cancelled"
    d.send("cancel")  # nothing waits on the reader now: the administrator may end the visit
    assert d.step.finished and d.view.name is ViewName.ERROR


def test_a_wrong_receipt_pin_on_the_reader_counts_and_asks_again() -> None:
    r, pad = pad_rig()
    pad.type_ahead(PIN, PIN, OTHER)
    d = visit(VisitKind.ACTIVATION, r)
    to_document_confirmed(d)
    d.send("document_confirmed")
    assert d.view.name is ViewName.SIGN_RECEIPT and d.view.error is not None
    assert d.view.error.code == "wrong_pin" and d.view.error.params["tries_left"] == 2
    pad.type_ahead(PIN)
    d.send("pad_start")
    assert d.step.finished and r.portal.records[ANNA.card_number].status is CardStatus.ACTIVE


def test_change_pin_on_the_reader_checks_the_current_pin_then_asks_old_new_and_again() -> None:
    r, pad = pad_rig()
    pad.type_ahead("583920", "583920", PIN, PIN)
    d = visit(VisitKind.CHANGE_PIN, r)
    d.rig.insert(EVA, "583920")
    d.inputs([INSERT, "continue"])
    assert d.step.finished and d.view.name is ViewName.DONE, d.view
    assert pad.asked == ["pin", "old_pin", "new_pin", "confirm_pin"]
    assert r.pin_is(EVA, PIN) and not r.pin_is(EVA, "583920")
    pad_views = [s.view for s in d.steps if s.view.params.get("pin_pad")]
    assert [v.message for v in pad_views] == [
        "visit.pin.pad.verify_pin", "visit.pin.pad.change_pin"
    ]
    assert d.effects_run.index(EffectKind.VERIFY_PIN) < d.effects_run.index(EffectKind.CHANGE_PIN)


def test_a_wrong_current_pin_on_the_reader_is_told_before_a_new_one_is_asked() -> None:
    r, pad = pad_rig()
    pad.type_ahead("111222")
    d = visit(VisitKind.CHANGE_PIN, r)
    d.rig.insert(EVA, "583920")
    d.inputs([INSERT, "continue"])
    assert d.view.name is ViewName.PIN_CURRENT and d.view.error is not None
    assert d.view.error.code == "wrong_pin" and d.view.error.params["tries_left"] == 2
    assert d.view.actions == ("pad_start", "cancel") and not d.view.params["waiting"]
    assert pad.asked == ["pin"]  # never a new PIN on a wrong current one
    assert EffectKind.CHANGE_PIN not in d.effects_run
    assert d.flow.progress is Progress.NOTHING
    pad.type_ahead("583920", "583920", PIN, PIN)
    d.send("pad_start")
    assert d.step.finished and d.view.name is ViewName.DONE, d.view
    assert r.pin_is(EVA, PIN)


def test_unlock_on_the_reader_sets_the_new_pin() -> None:
    r, pad = pad_rig()
    pad.type_ahead(PIN, PIN)
    d = visit(VisitKind.UNLOCK, r)
    r.insert(EVA, "583920")
    r.lock(EVA)
    d.inputs([INSERT, "continue", ("document_scanned", {"evidence": evidence_of(EVA)})])
    d.send("document_confirmed")
    assert d.step.finished and d.view.name is ViewName.DONE, d.view
    assert r.pin_is(EVA, PIN) and not r.locked(EVA)


def test_admin_signs_in_on_the_reader_pad() -> None:
    r, pad = pad_rig()
    admin = demo_admins(TODAY)[0]
    admin_pin = admin.pin
    pad.type_ahead(None)
    d = Driver(KioskSession(SETTINGS, "s1"), r)
    r.put(admin.card_number)
    d.send(*INSERT[:1], **INSERT[1])
    assert d.view.name is ViewName.ADMIN_SIGN_IN and d.view.params["pin_pad"]
    assert d.view.error is not None and d.view.error.code == "pin_entry_cancelled"
    assert d.view.actions == ("retry", "cancel")
    pad.type_ahead(admin_pin)
    d.send("retry")
    assert d.view.name is ViewName.HOME, d.view
    assert d.effects_run == [
        "identify_card", "admin_sign_in", "admin_sign_in", "authorise_admin"
    ]
    assert admin_pin not in repr(d.steps)


def test_a_card_without_a_pad_token_keeps_the_screen_pad() -> None:
    d = visit(VisitKind.ACTIVATION)
    to_pin = [INSERT, "continue", ("document_scanned", {"evidence": evidence_of(ANNA)})]
    d.rig.insert(ANNA)
    d.inputs(to_pin)
    d.send("document_confirmed")
    assert d.view.name is ViewName.PIN_CHOOSE and not d.view.params.get("pin_pad")
    assert d.view.actions == ("cancel",)
    d.send("pad_start")  # a pad event without a pad changes nothing
    assert d.view.name is ViewName.PIN_CHOOSE and d.effects_run[-1] == "start_activation"


def test_pad_errors_are_translated_with_a_next_step() -> None:
    from kiosk.i18n import describe_error

    for lang in ("sv", "en"):
        message, next_step = describe_error(PinEntryCancelled(), lang)
        assert message and next_step and "{" not in message + next_step
