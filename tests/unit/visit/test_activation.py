"""The activation visit end to end on the rig (hardware/sim's memory cards, the portal
double), and each of its failure paths."""

from __future__ import annotations

from base64 import b64decode
from dataclasses import replace
from datetime import timedelta

import pytest

from kiosk.demo_cast import demo_so_pin
from kiosk.errors import CardRemoved, PinLocked, TokenError
from kiosk.model import CardStatus, DocumentType, VisitKind
from kiosk.pki import signature_verifies
from kiosk.rules.card import add_months
from kiosk.visit.contract import ViewName
from kiosk.visit.effects import EffectKind, FetchRecord
from kiosk.visit.events import CardInserted, PinDigit, RecordFetched, Retry
from tests.unit.visit.drive import INSERT, Driver, pin_keys, visit
from tests.unit.visit.rig import READER, T0, evidence_of, holder, record_of

PIN = "480159"
ANNA = holder("anna")


def to_pin_choice(d: Driver) -> None:
    d.rig.insert(ANNA)
    d.inputs([INSERT, "continue", ("document_scanned", {"evidence": evidence_of(ANNA)})])
    d.send("document_confirmed")
    assert d.view.name is ViewName.PIN_CHOOSE, d.view


def to_receipt(d: Driver, pin: str = PIN) -> None:
    to_pin_choice(d)
    d.inputs(pin_keys(pin) + pin_keys(pin))
    assert d.view.name is ViewName.SIGN_RECEIPT, d.view


def test_happy_path_shows_each_screen_and_activates_the_card() -> None:
    d = visit(VisitKind.ACTIVATION)
    to_receipt(d)
    d.inputs(pin_keys(PIN))
    names = [s.view.name for s in d.steps]
    for expected in (
        ViewName.INSERT_CARD, ViewName.WORKING, ViewName.CARD_RECORD, ViewName.DOCUMENT_CHECK,
        ViewName.DOCUMENT_CONFIRM, ViewName.PIN_CHOOSE, ViewName.PIN_CONFIRM,
        ViewName.WRITING_PIN, ViewName.SIGN_RECEIPT, ViewName.DONE,
    ):
        assert expected in names
    assert d.step.finished and d.view.message == "visit.done.activation"
    assert d.effects_run == [
        "identify_card", "fetch_record", "start_activation", "write_pin", "sign_receipt",
        "record_result", "sync_result",
    ]
    assert d.rig.portal.records[ANNA.card_number].status is CardStatus.ACTIVE
    assert d.rig.pin_is(ANNA, PIN) and not d.rig.pin_is(ANNA, "480158")
    assert d.rig.portal.calls == [
        ("start_activation", "v1:start_activation"), ("complete_activation", "v1:complete")
    ]
    result = d.rig.results()["v1:complete"]
    assert result.kind is VisitKind.ACTIVATION and result.admin_hsa_id.endswith("ADM1")
    assert PIN not in repr(result) and demo_so_pin(ANNA.card_number) not in repr(result)
    assert result.payload["activation_id"] == "ACT-" + ANNA.card_number
    assert result.deadline is not None
    # the receipt is signed on the card, by the key of the certificate sent with it, which
    # is the card's own authentication certificate (a two-PIN card: its user PIN's key)
    receipt, signature, certificate = (
        b64decode(result.payload[k]) for k in ("receipt", "signature", "certificate")
    )
    assert signature_verifies(certificate, signature, receipt)
    assert certificate in [c.der for c in d.rig.certificates(ANNA) if c.usage == "authentication"]


def test_the_card_record_screen_shows_deadlines() -> None:
    d = visit(VisitKind.ACTIVATION)
    d.rig.insert(ANNA)
    d.send(*INSERT[:1], **INSERT[1])
    params = d.view.params
    assert d.view.name is ViewName.CARD_RECORD and d.view.error is None
    assert params["status"] == "Skickad" and params["personnummer"].endswith("-****")
    assert params["activation_deadline"] == add_months(ANNA.manufactured, 3).isoformat()
    assert params["completion_deadline"] is None
    assert params["hours_left"] > 24 * 60 and params["deadline_alert"] is False
    assert d.view.actions == ("continue", "cancel")


def test_result_is_durable_before_done_and_a_storage_failure_never_shows_done() -> None:
    d = visit(VisitKind.ACTIVATION)
    to_receipt(d)
    d.rig.fail_store(True)
    d.inputs(pin_keys(PIN))
    assert d.view.name is ViewName.ERROR and not d.step.finished
    assert d.view.error is not None and d.view.error.code == "storage_error"
    assert d.view.actions == ("retry", "cancel")
    assert all(s.view.name is not ViewName.DONE for s in d.steps)
    d.rig.fail_store(False)
    d.send("retry")
    assert d.view.name is ViewName.DONE
    done_index = next(i for i, s in enumerate(d.steps) if s.view.name is ViewName.DONE)
    record_index = max(
        i
        for i, s in enumerate(d.steps[:done_index])
        if any(e.kind == "record_result" for e in s.effects)
    )
    assert record_index < done_index
    assert "v1:complete" in d.rig.results()


def test_cancelling_after_a_storage_failure_gives_the_reference_to_report_by_hand() -> None:
    d = visit(VisitKind.ACTIVATION)
    to_receipt(d)
    d.rig.fail_store(True)
    d.inputs(pin_keys(PIN))
    d.send("cancel")
    assert d.step.finished and d.view.message == "visit.ended.complete"
    assert d.view.params["reference"] == "v1:complete"


def test_portal_down_at_sync_is_done_and_queued_not_an_error() -> None:
    d = visit(VisitKind.ACTIVATION)
    to_receipt(d)
    d.rig.portal.down = True
    d.inputs(pin_keys(PIN))
    assert d.view.name is ViewName.DONE and d.step.finished
    assert d.view.message == "visit.done.activation.queued" and d.view.error is None
    assert "v1:complete" in d.rig.results()


def test_portal_refusing_at_sync_is_done_with_the_error_and_reference() -> None:
    d = visit(VisitKind.ACTIVATION)
    to_receipt(d)
    d.rig.portal.rejects["complete_activation"] = "deadline_passed"
    d.inputs(pin_keys(PIN))
    assert d.view.message == "visit.done.activation.rejected"
    assert d.view.error is not None and d.view.error.code == "portal_rejected"


def test_portal_down_at_fetch_offers_retry_then_continues() -> None:
    d = visit(VisitKind.ACTIVATION)
    d.rig.insert(ANNA)
    d.rig.portal.down = True
    d.send(*INSERT[:1], **INSERT[1])
    assert d.view.name is ViewName.ERROR and d.view.actions == ("retry", "cancel")
    assert d.view.error is not None and d.view.error.next_step == "next.portal_unreachable"
    assert d.view.message == "visit.failed.fetching"
    d.rig.portal.down = False
    d.send("retry")
    assert d.view.name is ViewName.CARD_RECORD


def test_portal_down_at_start_retries_with_the_same_idempotency_key() -> None:
    d = visit(VisitKind.ACTIVATION)
    d.rig.insert(ANNA)
    d.inputs([INSERT, "continue", ("document_scanned", {"evidence": evidence_of(ANNA)})])
    d.rig.portal.down = True
    d.send("document_confirmed")
    assert d.view.name is ViewName.ERROR
    d.rig.portal.down = False
    d.send("retry")
    assert d.view.name is ViewName.PIN_CHOOSE
    assert d.rig.portal.calls == [("start_activation", "v1:start_activation")]


def test_unknown_card_number_at_the_portal_ends_the_visit() -> None:
    d = visit(VisitKind.ACTIVATION)
    d.rig.insert(ANNA)
    del d.rig.portal.records[ANNA.card_number]
    d.send(*INSERT[:1], **INSERT[1])
    assert d.step.finished and d.view.error is not None
    assert d.view.error.code == "card_not_found"
    assert d.view.message == "visit.ended.nothing"


@pytest.mark.parametrize(
    ("key", "rule"),
    [("cecilia", "reserve_card"), ("david", "activation_window_passed"), ("eva", "already_active")],
)
def test_ineligible_cards_are_refused_on_the_record_screen(key: str, rule: str) -> None:
    d = visit(VisitKind.ACTIVATION)
    d.rig.insert(holder(key))
    d.send(*INSERT[:1], **INSERT[1])
    assert d.step.finished and d.view.name is ViewName.CARD_RECORD
    assert d.view.error is not None and d.view.error.message == f"rules.card.{rule}"
    assert d.view.error.next_step == f"rules.card.{rule}.next"
    assert d.view.actions == ("home",)
    assert d.effects_run == ["identify_card", "fetch_record"]
    assert (d.view.params["step"], d.view.params["steps"]) == (2, 6)  # refused at the record


def test_foreign_card_is_refused_before_the_portal_is_asked() -> None:
    d = visit(VisitKind.ACTIVATION)
    d.rig.insert_foreign()
    d.send(*INSERT[:1], **INSERT[1])
    assert d.view.error is not None and d.view.error.message == "rules.card.foreign_issuer"
    assert d.effects_run == ["identify_card"]


def test_card_number_typed_when_the_card_does_not_expose_it() -> None:
    d = visit(VisitKind.ACTIVATION)
    d.rig.insert(ANNA, number_on_chip=False)
    d.send(*INSERT[:1], **INSERT[1])
    assert d.view.name is ViewName.INSERT_CARD and d.view.params["need_card_number"] is True
    d.send("card_number_typed", card_number="12ab")
    assert d.view.error is not None and d.view.error.code == "invalid_input"
    d.send("card_number_typed", card_number="9752 2100 0000 0001")
    assert d.view.name is ViewName.CARD_RECORD


def test_typed_number_is_ignored_before_a_card_is_in() -> None:
    d = visit(VisitKind.ACTIVATION)
    d.send("card_number_typed", card_number=ANNA.card_number)
    assert d.view.name is ViewName.INSERT_CARD and d.effects_run == []


def test_rejected_document_shows_every_check_then_another_document_is_accepted() -> None:
    farid = holder("farid")  # LoA2, passport expired
    d = visit(VisitKind.ACTIVATION)
    d.rig.insert(farid)
    d.inputs([INSERT, "continue", ("document_scanned", {"evidence": evidence_of(farid)})])
    assert d.view.name is ViewName.DOCUMENT_CHECK
    assert d.view.error is not None and d.view.error.message == "rules.document.document_expired"
    checks = {c["name"]: c for c in d.view.params["checks"]}
    assert checks["not_expired"]["ok"] is False
    assert checks["personnummer_match"]["ok"] is True
    d.send("document_manual")
    assert d.view.name is ViewName.DOCUMENT_MANUAL
    typed = evidence_of(farid, expiry=d.rig.clock.current.date() + timedelta(days=30), how={})
    d.send("document_typed", evidence=typed)
    assert d.view.name is ViewName.DOCUMENT_CONFIRM
    assert d.view.params["document"]["how"] == "typed"


def test_the_eye_check_is_never_taken_from_the_scan() -> None:
    d = visit(VisitKind.ACTIVATION)
    d.rig.insert(ANNA)
    claimed = evidence_of(ANNA, photo_confirmed=True, age_confirmed=True)
    d.inputs([INSERT, "continue", ("document_scanned", {"evidence": claimed})])
    assert d.view.name is ViewName.DOCUMENT_CONFIRM  # the admin still has to look
    d.send("document_confirmed", photo=False, age=True)
    assert d.view.name is ViewName.DOCUMENT_CHECK
    assert d.view.error is not None
    assert d.view.error.message == "rules.document.photo_not_confirmed"


def test_the_confirm_screen_shows_the_name_read_beside_the_card_records() -> None:
    d = visit(VisitKind.ACTIVATION)
    d.rig.insert(ANNA)
    read = replace(evidence_of(ANNA), name="HARTIN, ANNA")  # no check digit covers a name
    d.inputs([INSERT, "continue", ("document_scanned", {"evidence": read})])
    assert d.view.name is ViewName.DOCUMENT_CONFIRM
    assert d.view.params["document"]["name_read"] == "HARTIN, ANNA"
    assert d.view.params["holder_name"] == record_of(ANNA).holder_name


def test_wrong_document_type_for_loa3() -> None:
    d = visit(VisitKind.ACTIVATION)
    d.rig.insert(ANNA)
    other = evidence_of(ANNA, doc_type=DocumentType.OTHER)
    d.inputs([INSERT, "continue", ("document_scanned", {"evidence": other})])
    assert d.view.error is not None
    assert d.view.error.message == "rules.document.document_type_not_accepted"


def test_scan_failure_shows_the_error_and_keeps_the_scan_screen() -> None:
    from kiosk.errors import NothingRead

    d = visit(VisitKind.ACTIVATION)
    d.rig.insert(ANNA)
    d.inputs([INSERT, "continue"])
    d.send("scan_failed", error=NothingRead())
    assert d.view.name is ViewName.DOCUMENT_CHECK
    assert d.view.error is not None and d.view.error.next_step == "next.hold_still_or_type"


@pytest.mark.parametrize(
    ("pin", "rule"),
    [("123456", "sequence"), ("111111", "repeated"), ("900315", "birth_date"),
     ("152387", "personnummer_tail"), ("123123", "repeated"), ("696969", "repeated")],
)
def test_a_pin_breaking_a_rule_shows_the_rule_key_not_the_pin(pin: str, rule: str) -> None:
    d = visit(VisitKind.ACTIVATION)
    to_pin_choice(d)
    d.inputs(pin_keys(pin))
    assert d.view.name is ViewName.PIN_CHOOSE
    assert d.view.error is not None and d.view.error.code == "pin_rule"
    assert d.view.error.message == f"pin.rule.{rule}"
    assert d.view.pin_length == 0
    assert pin not in repr(d.view)
    assert d.effects_run.count("write_pin") == 0


def test_short_pin_is_refused_with_the_length_rule() -> None:
    d = visit(VisitKind.ACTIVATION)
    to_pin_choice(d)
    d.inputs(pin_keys("4801"))
    assert d.view.error is not None and d.view.error.message == "pin.rule.length"
    assert d.view.error.params["length"] == 6


def test_pin_pad_keys() -> None:
    d = visit(VisitKind.ACTIVATION)
    to_pin_choice(d)
    for digit in "4801599":  # the seventh digit does not fit
        d.send("pin_digit", digit=digit)
    assert d.view.pin_length == 6
    d.send("pin_back")
    assert d.view.pin_length == 5
    for junk in ("x", "12", None, True, -1, 10):
        d.send("pin_digit", digit=junk)
    assert d.view.pin_length == 5
    d.send("pin_digit", digit=9)
    assert d.view.pin_length == 6
    d.send("pin_clear")
    assert d.view.pin_length == 0


def test_confirmation_mismatch_goes_back_to_choosing() -> None:
    d = visit(VisitKind.ACTIVATION)
    to_pin_choice(d)
    d.inputs(pin_keys(PIN) + pin_keys("480158"))
    assert d.view.name is ViewName.PIN_CHOOSE and d.view.pin_length == 0
    assert d.view.error is not None and d.view.error.code == "pin_mismatch"
    assert d.view.error.next_step == "next.choose_pin_again"
    d.inputs(pin_keys(PIN) + pin_keys(PIN))
    assert d.view.name is ViewName.SIGN_RECEIPT


def test_wrong_pin_at_the_receipt_shows_tries_left_then_succeeds() -> None:
    d = visit(VisitKind.ACTIVATION)
    to_receipt(d)
    d.inputs(pin_keys("480158"))
    assert d.view.name is ViewName.SIGN_RECEIPT and d.view.pin_length == 0
    assert d.view.error is not None and d.view.error.code == "wrong_pin"
    assert d.view.error.params["tries_left"] == 2
    d.inputs(pin_keys(PIN))
    assert d.view.name is ViewName.DONE


def test_pin_locked_at_the_receipt_explains_the_card_is_not_active() -> None:
    d = visit(VisitKind.ACTIVATION)
    to_receipt(d)
    d.rig.deck.fail_next("sign_receipt", PinLocked())
    d.inputs(pin_keys(PIN))
    assert d.step.finished and d.view.message == "visit.ended.pin_set"
    assert "deadline" in d.view.params


def test_token_error_while_writing_offers_retry_with_fresh_secrets() -> None:
    d = visit(VisitKind.ACTIVATION)
    to_pin_choice(d)
    d.rig.deck.fail_next("set_initial_pin", TokenError())
    d.inputs(pin_keys(PIN) + pin_keys(PIN))
    assert d.view.name is ViewName.ERROR and d.view.actions == ("retry", "cancel")
    d.send("retry")
    assert d.view.name is ViewName.SIGN_RECEIPT
    assert d.rig.pin_is(ANNA, PIN)


def test_card_removed_during_the_write_explains_the_unknown_state() -> None:
    d = visit(VisitKind.ACTIVATION)
    to_pin_choice(d)
    d.inputs(pin_keys(PIN))
    for digit in PIN:
        d.send("pin_digit", digit=digit)
    d.send("pin_submit", hold=True)
    assert d.view.name is ViewName.WRITING_PIN and d.held[0].kind == EffectKind.WRITE_PIN
    d.send("idle_timeout")  # the write is in flight: the timeout waits for it
    assert not d.step.finished
    d.send("card_removed")
    assert d.step.finished and d.view.message == "visit.ended.writing"
    assert d.view.error is not None and d.view.error.code == "card_removed"
    d.fail_held(CardRemoved())  # the late outcome changes nothing
    assert d.view.message == "visit.ended.writing" and d.step.effects == ()


def test_secrets_are_wiped_when_the_visit_ends() -> None:
    d = visit(VisitKind.ACTIVATION)
    to_pin_choice(d)
    d.inputs(pin_keys(PIN))
    d.send("pin_digit", digit="4")
    flow = d.flow
    assert flow.ticket.credential is not None and len(flow.pins.new) == 6
    d.send("cancel")
    assert d.step.finished
    assert flow.ticket.credential is None
    buffers = (flow.pins.new, flow.pins.confirmation, flow.pins.current, flow.pins.receipt)
    assert all(len(b) == 0 for b in buffers)


def test_events_after_the_end_return_the_final_view_without_effects() -> None:
    d = visit(VisitKind.ACTIVATION)
    d.send("cancel")
    final = d.view
    late = RecordFetched(FetchRecord(ANNA.card_number), record_of(ANNA))
    for event in (CardInserted(READER), Retry(), PinDigit("1"), late):
        step = d.flow.handle(event, T0)
        assert step.view == final and step.effects == () and step.finished


def test_portal_rejects_the_start() -> None:
    d = visit(VisitKind.ACTIVATION)
    d.rig.insert(ANNA)
    d.rig.portal.rejects["start_activation"] = "card_blocked"
    d.inputs([INSERT, "continue", ("document_scanned", {"evidence": evidence_of(ANNA)})])
    d.send("document_confirmed")
    assert d.step.finished and d.view.error is not None
    assert d.view.error.code == "portal_rejected" and d.view.message == "visit.ended.nothing"


def test_completion_window_from_the_record() -> None:
    d = visit(VisitKind.ACTIVATION)
    d.rig.insert(ANNA)
    rec = d.rig.portal.records[ANNA.card_number]
    started = d.rig.clock.current - timedelta(days=6)
    d.rig.portal.records[ANNA.card_number] = replace(rec, activation_started=started)
    d.send(*INSERT[:1], **INSERT[1])
    assert d.view.error is not None
    assert d.view.error.message == "rules.card.completion_window_passed"


def test_card_pulled_before_signing_can_be_put_back_to_sign() -> None:
    d = visit(VisitKind.ACTIVATION)
    to_receipt(d)
    d.send("pin_digit", digit="4")
    d.send("card_removed")
    assert d.view.name is ViewName.INSERT_CARD and not d.step.finished
    assert d.view.message == "visit.insert.reinsert_to_sign" and d.view.pin_length == 0
    d.send("card_inserted", reader=READER)
    assert d.view.name is ViewName.SIGN_RECEIPT and d.view.pin_length == 0
    d.inputs(pin_keys(PIN))
    assert d.view.name is ViewName.DONE


def test_another_card_put_back_is_refused_and_the_right_one_accepted() -> None:
    d = visit(VisitKind.ACTIVATION)
    to_receipt(d)
    d.send("card_removed")
    d.rig.insert(holder("bertil"))
    d.send("card_inserted", reader=READER)
    assert d.view.name is ViewName.INSERT_CARD and d.view.error is not None
    assert d.view.error.message == "rules.card.card_number_mismatch"
    d.send("card_removed")
    d.send("card_inserted", reader=READER)  # bertil's card is still in: refused again
    assert d.view.error is not None
    d.rig.insert(ANNA)
    d.send("card_inserted", reader=READER)
    assert d.view.name is ViewName.SIGN_RECEIPT


def test_card_pulled_while_signing_comes_back_to_sign_again() -> None:
    d = visit(VisitKind.ACTIVATION)
    to_receipt(d)
    for digit in PIN:
        d.send("pin_digit", digit=digit)
    d.send("pin_submit", hold=True)
    d.send("card_removed")
    assert d.view.message == "visit.insert.reinsert_to_sign"
    d.fail_held(CardRemoved())  # the interrupted signing reports late: ignored
    assert d.view.message == "visit.insert.reinsert_to_sign"
    d.settle()
    d.send("card_inserted", reader=READER)
    d.inputs(pin_keys(PIN))
    assert d.view.name is ViewName.DONE
