"""PIN unlock, PIN change, card check, block and PIN/PUK letter visits."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kiosk.errors import PinLocked, TokenError, WrongPin
from kiosk.model import CardStatus, UnlockPurpose, VisitKind
from kiosk.sync import deliver
from kiosk.visit.contract import ViewName
from kiosk.visit.stages import Progress
from tests.unit.visit.drive import (
    CURRENT_PIN,
    INSERT,
    NEW_PIN,
    Driver,
    happy_script,
    pin_keys,
    visit,
)
from tests.unit.visit.rig import evidence_of, holder

EVA = holder("eva")
OTHER_PIN = "730264"


@pytest.mark.parametrize(
    ("kind", "effects", "message"),
    [
        (VisitKind.ACTIVATION,
         ["identify_card", "fetch_record", "start_activation", "write_pin", "sign_receipt",
          "record_result", "sync_result"], "visit.done.activation"),
        (VisitKind.UNLOCK,
         ["identify_card", "fetch_record", "start_unlock", "unlock_pin", "record_result"],
         "visit.done.unlock"),
        (VisitKind.CHANGE_PIN,
         ["identify_card", "fetch_record", "verify_pin", "change_pin", "record_result"],
         "visit.done.change_pin"),
        (VisitKind.BLOCK, ["fetch_record", "block_card", "record_result"], "visit.done.block"),
        (VisitKind.PIN_LETTER,
         ["identify_card", "fetch_record", "record_result", "sync_result"],
         "visit.done.pin_letter"),
    ],
)
def test_happy_paths(kind: VisitKind, effects: list[str], message: str) -> None:
    d = visit(kind)
    d.inputs(happy_script(kind, d.rig))
    assert d.step.finished and d.view.name is ViewName.DONE, d.view
    assert d.view.message == message
    assert d.effects_run == effects
    assert len(d.rig.results()) == 1
    result = next(iter(d.rig.results().values()))
    assert result.kind is kind and result.idempotency_key.startswith("v1:")
    assert NEW_PIN not in repr(result) and CURRENT_PIN not in repr(result)


def test_unlock_sets_the_new_pin_and_clears_the_lock() -> None:
    d = visit(VisitKind.UNLOCK)
    d.inputs(happy_script(VisitKind.UNLOCK, d.rig))
    assert d.rig.pin_is(EVA, NEW_PIN) and not d.rig.pin_is(EVA, CURRENT_PIN)
    assert not d.rig.locked(EVA)
    assert d.rig.portal.calls == [("start_unlock", "v1:start_unlock")]
    assert d.rig.portal.unlock_purposes == [UnlockPurpose.UNLOCK]


def test_unlock_needs_an_active_card() -> None:
    d = visit(VisitKind.UNLOCK)
    d.rig.insert(holder("anna"))
    d.send(INSERT[0], **INSERT[1])
    assert d.step.finished and d.view.error is not None
    assert d.view.error.message == "rules.card.not_active"


def test_unlock_requires_the_document_check() -> None:
    d = visit(VisitKind.UNLOCK)
    d.rig.insert(EVA, CURRENT_PIN)
    d.inputs([INSERT, "continue"])
    assert d.view.name is ViewName.DOCUMENT_CHECK
    wrong = evidence_of(EVA, personnummer=holder("anna").personnummer)
    d.send("document_scanned", evidence=wrong)
    assert d.view.error is not None
    assert d.view.error.message == "rules.document.personnummer_mismatch"
    assert "start_unlock" not in d.effects_run


def test_a_wrong_current_pin_is_told_before_a_new_one_is_asked() -> None:
    d = visit(VisitKind.CHANGE_PIN)
    d.rig.insert(EVA, CURRENT_PIN)
    d.inputs([INSERT, "continue", *pin_keys("111222")])
    # the card checked it at once: the holder never chose a new PIN on a wrong current one
    assert d.view.name is ViewName.PIN_CURRENT and d.view.pin_length == 0
    assert d.view.error is not None and d.view.error.code == "wrong_pin"
    assert d.view.error.params["tries_left"] == 2
    assert d.view.error.next_step == "next.wrong_pin"
    assert ViewName.PIN_CHOOSE not in [s.view.name for s in d.steps]
    assert d.effects_run[-1] == "verify_pin" and "change_pin" not in d.effects_run
    assert len(d.flow.pins.current) == 0  # the wrong PIN is not kept
    assert d.rig.pin_is(EVA, CURRENT_PIN)
    d.inputs(pin_keys(CURRENT_PIN))
    assert d.view.name is ViewName.PIN_CHOOSE and d.view.error is None
    assert d.view.message == "visit.pin.pin_choose"
    d.inputs([*pin_keys(NEW_PIN), *pin_keys(NEW_PIN)])
    assert d.view.name is ViewName.DONE
    assert d.rig.pin_is(EVA, NEW_PIN) and not d.rig.pin_is(EVA, CURRENT_PIN)
    assert d.flow.pins.wiped()
    shown = repr(d.steps)
    assert CURRENT_PIN not in shown and NEW_PIN not in shown and "111222" not in shown


def test_the_current_pin_is_checked_while_the_screen_says_so() -> None:
    d = visit(VisitKind.CHANGE_PIN)
    d.rig.insert(EVA, CURRENT_PIN)
    d.inputs([INSERT, "continue", *pin_keys(CURRENT_PIN)[:-1]])
    d.send("pin_submit", hold=True)
    assert [e.kind for e in d.held] == ["verify_pin"]
    assert d.view.name is ViewName.WORKING and d.view.message == "visit.working.logging_in"
    assert d.view.params["step"] == 3  # still the PIN step of "Steg n av m"
    d.send("cancel")  # the card is being asked: nothing to cancel on this screen
    assert not d.step.finished
    d.settle()
    assert d.view.name is ViewName.PIN_CHOOSE


def test_the_last_try_warns_and_a_third_wrong_pin_ends_with_the_unlock_visit() -> None:
    d = visit(VisitKind.CHANGE_PIN)
    d.rig.insert(EVA, CURRENT_PIN)
    d.inputs([INSERT, "continue", *pin_keys("111222"), *pin_keys("111333")])
    assert d.view.name is ViewName.PIN_CURRENT and d.view.error is not None
    assert d.view.error.params["tries_left"] == 1
    assert d.view.error.next_step == "next.wrong_pin.last"
    d.inputs(pin_keys("111444"))
    assert d.step.finished and d.view.name is ViewName.ERROR
    assert d.view.message == "visit.ended.nothing"  # the card refused: nothing changed
    assert d.view.error is not None and d.view.error.code == "pin_locked"
    assert d.view.error.next_step == "next.pin_locked"
    assert d.rig.locked(EVA) and "change_pin" not in d.effects_run
    assert d.flow.pins.wiped()


def test_a_token_that_reports_no_tries_says_so_instead_of_a_count() -> None:
    d = visit(VisitKind.CHANGE_PIN)
    d.rig.insert(EVA, CURRENT_PIN)
    d.rig.deck.fail_next("verify_pin", WrongPin("refused"))  # no counter, as SoftHSM2
    d.inputs([INSERT, "continue", *pin_keys(CURRENT_PIN)])
    assert d.view.name is ViewName.PIN_CURRENT and d.view.error is not None
    assert d.view.error.params["tries_left"] is None
    assert d.view.error.next_step == "next.wrong_pin.untold"


def test_a_pin_changed_between_the_check_and_the_write_is_refused_and_left_unchanged() -> None:
    d = visit(VisitKind.CHANGE_PIN)
    d.rig.insert(EVA, CURRENT_PIN)
    d.inputs([INSERT, "continue", *pin_keys(CURRENT_PIN)])
    assert d.view.name is ViewName.PIN_CHOOSE
    d.rig.tokens.open(None).change_pin(CURRENT_PIN, OTHER_PIN)  # elsewhere, meanwhile
    d.inputs([*pin_keys(NEW_PIN), *pin_keys(NEW_PIN)])
    assert d.view.name is ViewName.PIN_CURRENT and not d.step.finished
    assert d.view.message == "visit.pin.pin_current"
    assert d.view.error is not None and d.view.error.code == "wrong_pin"
    assert d.view.error.message == "error.wrong_pin.at_write"  # the PIN is unchanged
    d.inputs([("pin_digit", {"digit": "1"}), ("pin_back", {})])
    assert d.view.error is None  # typing again: the error goes
    assert d.flow.progress is Progress.NOTHING
    assert not any(len(b) for b in (d.flow.pins.current, d.flow.pins.new))
    assert d.rig.pin_is(EVA, OTHER_PIN)
    d.inputs(pin_keys(OTHER_PIN))
    assert d.view.name is ViewName.PIN_CHOOSE
    d.inputs([*pin_keys(NEW_PIN), *pin_keys(NEW_PIN)])
    assert d.view.name is ViewName.DONE and d.rig.pin_is(EVA, NEW_PIN)


def test_a_check_the_card_could_not_make_is_retried_with_the_pin_kept_until_then() -> None:
    d = visit(VisitKind.CHANGE_PIN)
    d.rig.insert(EVA, CURRENT_PIN)
    d.rig.deck.fail_next("verify_pin", TokenError("the card did not answer"))
    d.inputs([INSERT, "continue", *pin_keys(CURRENT_PIN)])
    assert d.view.name is ViewName.ERROR and not d.step.finished
    assert d.view.message == "visit.failed.logging_in" and d.view.actions == ("retry", "cancel")
    d.send("retry")  # the same check again, with a fresh copy of the PIN typed
    assert d.view.name is ViewName.PIN_CHOOSE and d.effects_run.count("verify_pin") == 2


def test_a_card_pulled_during_the_write_ends_with_what_to_try() -> None:
    d = visit(VisitKind.CHANGE_PIN)
    d.rig.insert(EVA, CURRENT_PIN)
    d.rig.deck.set_fault("remove_mid_write")
    d.inputs([INSERT, "continue", *pin_keys(CURRENT_PIN), *pin_keys(NEW_PIN), *pin_keys(NEW_PIN)])
    assert d.step.finished and d.view.message == "visit.ended.change_pin.writing"
    assert d.view.error is not None and d.view.error.code == "card_removed"
    assert d.flow.pins.wiped()


def test_a_card_pulled_after_the_check_ends_with_nothing_changed() -> None:
    d = visit(VisitKind.CHANGE_PIN)
    d.rig.insert(EVA, CURRENT_PIN)
    d.inputs([INSERT, "continue", *pin_keys(CURRENT_PIN)])
    assert d.view.name is ViewName.PIN_CHOOSE
    d.rig.deck.remove()
    d.send("card_removed")
    assert d.step.finished and d.view.message == "visit.ended.nothing"
    assert d.flow.pins.wiped() and d.rig.pin_is(EVA, CURRENT_PIN)


def test_change_pin_refuses_the_same_pin_again() -> None:
    d = visit(VisitKind.CHANGE_PIN)
    d.rig.insert(EVA, CURRENT_PIN)
    d.inputs([INSERT, "continue", *pin_keys(CURRENT_PIN), *pin_keys(CURRENT_PIN)])
    assert d.view.name is ViewName.PIN_CHOOSE
    assert d.view.error is not None and d.view.error.message == "rules.pin.same_as_current"


def test_change_pin_locked_ends_and_points_to_an_unlock_visit() -> None:
    d = visit(VisitKind.CHANGE_PIN)
    d.rig.insert(EVA, CURRENT_PIN)
    d.rig.deck.fail_next("change_pin", PinLocked())
    d.inputs([INSERT, "continue", *pin_keys(CURRENT_PIN), *pin_keys(NEW_PIN), *pin_keys(NEW_PIN)])
    assert d.step.finished and d.view.error is not None
    assert d.view.error.code == "pin_locked" and d.view.error.next_step == "next.pin_locked"
    assert d.view.message == "visit.ended.nothing"  # refused at the write: nothing written


def test_card_check_shows_certificates_validity_and_status() -> None:
    d = visit(VisitKind.CARD_CHECK)
    d.rig.insert(EVA, CURRENT_PIN)
    d.send(INSERT[0], **INSERT[1])
    assert d.view.name is ViewName.CARD_INFO and not d.step.finished
    params = d.view.params
    assert params["status"] == "Aktiv" and params["hsa_id"] == EVA.hsa_id
    assert params["valid_until"] is not None
    shown = params["certificates"]  # the card's two, read from it
    assert [c["usage"] for c in shown] == ["authentication", "signature"]
    assert all(c["valid_now"] is True and c["days_left"] > 0 for c in shown)
    assert {c["serial"] for c in shown} == {format(c.serial, "x") for c in d.rig.certificates(EVA)}
    assert d.view.actions == ("done",)
    d.send("done")
    assert d.step.finished and d.view.name is ViewName.CARD_INFO
    assert d.rig.results() == {}  # a check changes nothing and records nothing


def test_card_check_with_the_portal_down_shows_certificates_and_offers_retry() -> None:
    d = visit(VisitKind.CARD_CHECK)
    d.rig.insert(EVA, CURRENT_PIN)
    d.rig.portal.down = True
    d.send(INSERT[0], **INSERT[1])
    assert d.view.name is ViewName.CARD_INFO
    assert d.view.error is not None and d.view.error.code == "portal_unreachable"
    assert len(d.view.params["certificates"]) == 2 and d.view.params["record_found"] is False
    assert d.view.params["hsa_id"] == EVA.hsa_id  # HSA-id lookup from the certificate
    assert d.view.actions == ("retry", "done")
    d.rig.portal.down = False
    d.send("retry")
    assert d.view.error is None and d.view.params["record_found"] is True


def test_card_check_of_a_blocked_card_shows_it() -> None:
    d = visit(VisitKind.CARD_CHECK)
    d.rig.insert(EVA, CURRENT_PIN)
    rec = d.rig.portal.records[EVA.card_number]
    d.rig.portal.records[EVA.card_number] = replace(rec, status=CardStatus.BLOCKED)
    d.send(INSERT[0], **INSERT[1])
    assert d.view.params["status"] == "Spärrad" and d.view.error is None


def test_card_check_of_a_foreign_card_says_so() -> None:
    d = visit(VisitKind.CARD_CHECK)
    d.rig.insert_foreign()
    d.send(INSERT[0], **INSERT[1])
    assert d.view.name is ViewName.CARD_INFO
    assert d.view.error is not None and d.view.error.message == "rules.card.foreign_issuer"


def test_block_an_inserted_card() -> None:
    d = visit(VisitKind.BLOCK)
    d.rig.insert(EVA, CURRENT_PIN)
    d.inputs([INSERT, "continue", ("block_reason", {"reason": "stolen"})])
    assert d.view.name is ViewName.BLOCK_CONFIRM and d.view.params["reason"] == "stolen"
    d.send("back")
    assert d.view.name is ViewName.BLOCK_REASON
    d.inputs([("block_reason", {"reason": "damaged"}), "confirm"])
    assert d.view.message == "visit.done.block"
    assert d.rig.portal.records[EVA.card_number].status is CardStatus.BLOCKED
    assert d.rig.results()["v1:block"].payload["reason"] == "damaged"


def test_block_with_the_portal_down_is_queued_and_synced_later_with_the_same_key() -> None:
    d = visit(VisitKind.BLOCK)
    script = happy_script(VisitKind.BLOCK, d.rig)
    d.inputs(script[:3])
    d.rig.portal.down = True
    d.send("confirm")
    assert d.step.finished and d.view.message == "visit.done.block.queued"
    result = d.rig.results()["v1:block"]
    assert result.payload["synced"] == "no"
    d.rig.portal.down = False
    deliver(d.rig.portal, result)
    assert d.rig.portal.calls == [("block", "v1:block")]
    assert d.rig.portal.records[EVA.card_number].status is CardStatus.BLOCKED


def test_block_refuses_an_already_blocked_card_and_unknown_reasons() -> None:
    d = visit(VisitKind.BLOCK)
    rec = d.rig.portal.records[EVA.card_number]
    d.rig.portal.records[EVA.card_number] = replace(rec, status=CardStatus.BLOCKED)
    d.send("card_number_typed", card_number=EVA.card_number)
    assert d.step.finished and d.view.error is not None
    assert d.view.error.message == "rules.card.blocked"

    d2 = visit(VisitKind.BLOCK)
    d2.inputs([("card_number_typed", {"card_number": EVA.card_number}), "continue"])
    d2.send("block_reason", reason="bored")
    assert d2.view.name is ViewName.BLOCK_REASON and d2.view.error is not None


def test_block_card_unknown_to_the_portal() -> None:
    d = visit(VisitKind.BLOCK)
    d.send("card_number_typed", card_number="1234567890")
    assert d.step.finished and d.view.error is not None
    assert d.view.error.code == "card_not_found"


def test_block_with_the_portal_down_at_fetch_offers_retry() -> None:
    d: Driver = visit(VisitKind.BLOCK)
    d.rig.portal.down = True
    d.send("card_number_typed", card_number=EVA.card_number)
    assert d.view.name is ViewName.ERROR and d.view.actions == ("retry", "cancel")
    d.send("cancel")
    assert d.step.finished and d.view.error is not None
    assert d.view.error.code == "visit_cancelled" and d.view.message == "visit.ended.block.nothing"


@pytest.mark.parametrize(
    ("days", "warned"), [(400, False), (95, False), (88, True), (1, True), (-3, True)]
)
def test_card_check_warns_from_three_months_before_a_certificate_ends(
    days: int, warned: bool
) -> None:
    d = visit(VisitKind.CARD_CHECK)
    # the authentication certificate ends in ``days`` days (and some hours), the signature
    # one in 900
    d.rig.card(EVA, CURRENT_PIN, authentication_days=days, signature_days=900)
    d.rig.insert(EVA)
    d.send(INSERT[0], **INSERT[1])
    assert d.view.name is ViewName.CARD_INFO
    first, second = d.view.params["certificates"]
    assert first["expires_soon"] is (warned and days > 0)
    assert first["days_left"] == max(days, 0) and second["expires_soon"] is False
    if warned:
        assert d.view.message == "visit.card_info.certificates_ending"
        assert d.view.params["certificates_ending"] == 1
        assert d.view.params["fewest_days_left"] == max(days, 0)
    else:
        assert d.view.message == "visit.card_info.summary"
        assert d.view.params["certificates_ending"] == 0


def test_pin_letter_is_ordered_after_the_id_check_through_the_outbox() -> None:
    d = visit(VisitKind.PIN_LETTER)
    script = happy_script(VisitKind.PIN_LETTER, d.rig)
    d.inputs(script[:2])
    assert d.view.name is ViewName.DOCUMENT_CHECK
    wrong = evidence_of(EVA, personnummer=holder("anna").personnummer)
    d.send("document_scanned", evidence=wrong)
    assert d.view.error is not None and d.rig.results() == {}
    d.inputs(script[2:])
    assert d.view.name is ViewName.DONE and d.view.message == "visit.done.pin_letter"
    (result,) = d.rig.results().values()
    assert result.kind is VisitKind.PIN_LETTER and result.card_number == EVA.card_number
    (card, evidence) = d.rig.portal.letters[result.idempotency_key]
    assert card == EVA.card_number
    assert evidence["personnummer_suffix"] == EVA.personnummer[-4:]
    assert EVA.personnummer not in repr(result)  # only the suffix leaves the kiosk
    # the outbox sends the same order again with the same key: nothing is ordered twice
    assert deliver(d.rig.portal, result) is None
    assert list(d.rig.portal.letters) == [result.idempotency_key]


def test_pin_letter_with_the_portal_down_is_kept_and_sent_later() -> None:
    d = visit(VisitKind.PIN_LETTER)
    script = happy_script(VisitKind.PIN_LETTER, d.rig)
    d.inputs(script[:3])
    d.rig.portal.down = True  # after the ID check: the order cannot reach the portal now
    d.inputs(script[3:])
    assert d.view.name is ViewName.DONE and d.view.message == "visit.done.pin_letter.queued"
    (result,) = d.rig.results().values()
    assert d.rig.portal.letters == {}
    d.rig.portal.down = False
    deliver(d.rig.portal, result)
    assert list(d.rig.portal.letters) == [result.idempotency_key]


def test_pin_letter_needs_an_active_card() -> None:
    d = visit(VisitKind.PIN_LETTER)
    d.rig.insert(holder("anna"))
    d.send(INSERT[0], **INSERT[1])
    assert d.step.finished and d.view.error is not None
    assert d.view.error.message == "rules.card.not_active"
