"""The session locks (issue 12.2): two readers (the administrator's card pulled from its
reader), one reader (idle lock, the administrator's own card where the holder's goes)."""

from __future__ import annotations

from dataclasses import replace

from kiosk.demo_cast import demo_admins
from kiosk.model import VisitKind
from kiosk.visit.admin_session import KioskSession, SessionStage
from kiosk.visit.contract import ViewName
from kiosk.visit.events import CardInserted, CardTakenOut, SessionLock
from tests.unit.visit.drive import NEW_PIN, Driver, happy_script, pin_keys, run_until
from tests.unit.visit.rig import READER, SETTINGS, TODAY, holder, rig

ADMIN = demo_admins(TODAY)[0]
ADMIN_READER = "Admin Reader 01"
TWO_READERS = replace(SETTINGS, hardware=replace(SETTINGS.hardware, admin_reader="Admin"))


def signed_in(settings=SETTINGS, reader: str = READER) -> Driver:  # type: ignore[no-untyped-def]
    d = Driver(KioskSession(settings, "s1"), rig())
    d.rig.put(ADMIN.card_number)
    d.send(CardInserted(reader))
    d.inputs(pin_keys(ADMIN.pin))
    assert d.view.name is ViewName.HOME, d.view
    return d


def error_code(d: Driver) -> str | None:
    return d.view.error.code if d.view.error is not None else None


# --- one reader ------------------------------------------------------------------------


def test_one_reader_the_admin_card_left_in_the_reader_is_asked_out() -> None:
    """Before: "Aktivera kort" waited forever for a card that was already in."""
    d = signed_in()
    d.send("choose_visit", kind="activation")
    assert d.view.name is ViewName.INSERT_CARD
    assert error_code(d) == "admin_card_inserted"
    assert d.view.error is not None and d.view.error.next_step == "next.take_out_own_card"
    d.send(CardTakenOut(READER))
    assert d.view.name is ViewName.INSERT_CARD and d.view.error is None


def test_one_reader_the_admin_card_inserted_as_the_holders_is_recognised() -> None:
    d = signed_in()
    d.send(CardTakenOut(READER))
    d.send("choose_visit", kind="activation")
    assert error_code(d) is None
    d.rig.put(ADMIN.card_number)  # the administrator puts their own card back
    d.send(CardInserted(READER))
    assert d.view.name is ViewName.INSERT_CARD
    assert error_code(d) == "admin_card_inserted"
    assert "fetch_record" not in d.effects_run
    d.send(CardTakenOut(READER))
    assert error_code(d) is None
    script = happy_script(VisitKind.ACTIVATION, d.rig)
    d.inputs(script)
    assert d.view.name is ViewName.DONE and d.step.finished


def test_one_reader_idle_lock_at_home_and_after_a_visit() -> None:
    d = signed_in()
    d.send(SessionLock())
    assert d.view.name is ViewName.ADMIN_SIGN_IN
    assert d.view.message == "visit.session.locked.idle"
    assert d.flow.admin is None
    d.send("choose_visit", kind="activation")
    assert d.view.name is ViewName.ADMIN_SIGN_IN
    d = signed_in()
    d.send(CardTakenOut(READER))
    d.send("choose_visit", kind="card_check")
    d.inputs(happy_script(VisitKind.CARD_CHECK, d.rig))
    assert d.step.finished
    d.send(SessionLock())
    assert d.view.message == "visit.session.locked.idle" and d.flow.admin is None


def test_the_idle_lock_does_not_cut_a_running_visit() -> None:
    """Mid-visit the visit's own idle timeout applies (the shell sends no lock then)."""
    d = signed_in()
    d.send(CardTakenOut(READER))
    d.send("choose_visit", kind="activation")
    d.send(SessionLock())
    assert d.flow.stage is SessionStage.IN_VISIT and d.flow.admin is not None


# --- two readers -----------------------------------------------------------------------


def test_two_readers_pulling_the_admin_card_at_home_locks_at_once() -> None:
    d = signed_in(TWO_READERS, ADMIN_READER)
    d.send(CardTakenOut(READER))  # the holder's reader: nothing to do with the session
    assert d.view.name is ViewName.HOME
    d.send(CardTakenOut(ADMIN_READER))
    assert d.view.name is ViewName.ADMIN_SIGN_IN
    assert d.view.message == "visit.session.locked.card"
    assert d.flow.admin is None


def test_two_readers_the_holders_reader_signs_nobody_in() -> None:
    d = Driver(KioskSession(TWO_READERS, "s1"), rig())
    d.rig.put(ADMIN.card_number)
    d.send(CardInserted(READER))
    assert d.view.params["stage"] == "insert"
    assert d.view.message == "visit.session.own_card_reader"
    assert d.effects_run == []


def test_two_readers_the_admin_card_stays_in_during_a_visit() -> None:
    d = signed_in(TWO_READERS, ADMIN_READER)
    d.send("choose_visit", kind="activation")
    assert error_code(d) is None  # its own reader: no "take out your own card"
    d.inputs(happy_script(VisitKind.ACTIVATION, d.rig))
    assert d.view.name is ViewName.DONE


def test_two_readers_pulled_mid_visit_before_the_card_is_touched_ends_the_visit() -> None:
    d = signed_in(TWO_READERS, ADMIN_READER)
    d.send("choose_visit", kind="activation")
    script = happy_script(VisitKind.ACTIVATION, d.rig)
    d.inputs(script[:4])  # the document is confirmed; the holder is to choose a PIN
    assert d.view.name is ViewName.PIN_CHOOSE
    d.send(CardTakenOut(ADMIN_READER))
    assert d.view.name is ViewName.ADMIN_SIGN_IN
    assert d.view.message == "visit.session.locked.visit"
    assert d.flow.admin is None and d.flow.visit is None
    d.send("pin_digit", digit="1")
    assert d.view.name is ViewName.ADMIN_SIGN_IN


def test_two_readers_pulled_while_the_pin_is_written_finishes_the_write_then_locks() -> None:
    """Nothing lost: the write in flight completes (the card's PIN is known to be set),
    then the visit ends the way an idle one does and the kiosk is locked."""
    d = signed_in(TWO_READERS, ADMIN_READER)
    d.send("choose_visit", kind="activation")
    script = happy_script(VisitKind.ACTIVATION, d.rig)
    d.inputs(script[:4])
    d.inputs(pin_keys(NEW_PIN))  # chosen
    d.inputs(pin_keys(NEW_PIN)[:-1])  # confirmed, OK not yet pressed
    d.send("pin_submit", hold=True)
    run_until(d, "write_pin")
    d.send(CardTakenOut(ADMIN_READER), hold=True)
    assert d.flow.admin is not None and d.view.name is not ViewName.ADMIN_SIGN_IN
    d.settle()  # the write completes
    anna = holder("anna")
    assert d.rig.pin_is(anna, NEW_PIN)
    assert d.view.name is ViewName.ADMIN_SIGN_IN
    assert d.view.message == "visit.session.locked.visit"
    assert d.flow.admin is None


def test_two_readers_pulled_while_the_result_is_committed_keeps_the_result() -> None:
    d = signed_in(TWO_READERS, ADMIN_READER)
    d.send("choose_visit", kind="activation")
    script = happy_script(VisitKind.ACTIVATION, d.rig)
    d.inputs(script[:-1])
    d.send(script[-1][0], hold=True, **script[-1][1])  # the receipt's PIN: signing next
    run_until(d, "record_result")
    d.send(CardTakenOut(ADMIN_READER), hold=True)
    d.settle()
    assert "s1-v1:complete" in d.rig.results()  # committed, and synced after it
    assert "sync_result" in d.effects_run
    assert d.view.message == "visit.session.locked.visit" and d.flow.admin is None


# --- a card already in the holder's reader when a visit starts (issue 14) ---------------


def test_two_readers_a_visit_takes_the_holders_card_already_in_never_the_admins() -> None:
    d = signed_in(TWO_READERS, ADMIN_READER)
    d.send("choose_visit", kind="card_check")  # only the administrator's card is in
    assert d.view.name is ViewName.INSERT_CARD and "identify_card" not in d.effects_run[1:]
    d.send(CardTakenOut(ADMIN_READER))  # locks; sign in again, then the holder's card goes in
    d = signed_in(TWO_READERS, ADMIN_READER)
    d.rig.insert(holder("eva"))
    d.send(CardInserted(READER))  # at HOME: nothing starts
    assert d.view.name is ViewName.HOME
    d.send("choose_visit", kind="change_pin")
    assert d.view.name is ViewName.CARD_RECORD, d.view
    assert d.flow.visit.card.reader == READER


def test_one_reader_the_admins_own_card_put_back_at_home_is_not_taken() -> None:
    d = signed_in()
    d.send(CardTakenOut(READER))
    d.send(CardInserted(READER))  # the administrator's own card again, at HOME
    d.send("choose_visit", kind="change_pin")
    assert d.view.name is ViewName.INSERT_CARD
    assert error_code(d) == "admin_card_inserted"
    assert "fetch_record" not in d.effects_run
    d.send(CardTakenOut(READER))
    d.send("home")
    d.rig.insert(holder("eva"))
    d.send(CardInserted(READER))  # the holder's card, at HOME
    d.send("choose_visit", kind="change_pin")
    assert d.view.name is ViewName.CARD_RECORD and error_code(d) is None
