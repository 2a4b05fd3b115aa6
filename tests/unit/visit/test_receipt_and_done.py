"""The receipt's words shown before the holder signs, and the DONE screen's outcome (issue 12.3)."""

from __future__ import annotations

from base64 import b64decode

import pytest

from kiosk.i18n import LANGUAGES
from kiosk.model import VisitKind
from kiosk.pki import signature_verifies
from kiosk.visit.contract import ViewName
from kiosk.visit.result import receipt_bytes, receipt_fields, receipt_text
from tests.unit.visit.drive import INSERT, happy_script, pin_keys, visit
from tests.unit.visit.rig import evidence_of, holder
from tests.unit.visit.test_activation import ANNA, PIN, to_receipt


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_receipt_shown_names_card_and_holder_and_is_the_text_signed(lang: str) -> None:
    d = visit(VisitKind.ACTIVATION)
    to_receipt(d)
    shown = receipt_text(d.view.mapping("receipt"), lang)  # what the screen shows
    assert ANNA.card_number in shown and ANNA.name in shown
    d.inputs(pin_keys(PIN))
    assert d.view.name is ViewName.DONE
    assert d.effects_run.count("sign_receipt") == 1
    payload = d.rig.results()["v1:complete"].payload
    signed, signature, certificate = (
        b64decode(payload[k]) for k in ("receipt", "signature", "certificate")
    )
    # the bytes sent are the bytes the card signed, with a key of its own certificates
    assert signature_verifies(certificate, signature, signed)
    assert certificate in [c.der for c in d.rig.certificates(ANNA)]
    text = signed.decode("utf-8")
    assert shown in text.splitlines()  # word for word, on its own line
    assert f"card={ANNA.card_number}" in text.splitlines()


def test_a_field_with_a_newline_cannot_add_a_line_to_the_receipt() -> None:
    fields = receipt_fields("9752210000000001", "ACT-1", "Anna\nadmin=SE-EVIL\r\tX",
                            "SE-H\ncard=1", "Karin", "SE-ADM", None)
    lines = receipt_bytes(fields).decode("utf-8").splitlines()
    assert [line for line in lines if line.startswith("admin=")] == ["admin=SE-ADM"]
    assert [line for line in lines if line.startswith("card=")] == ["card=9752210000000001"]
    assert "holder=SE-H card=1" in lines
    assert all(line.isprintable() for line in lines)
    assert "Anna admin=SE-EVIL X" in receipt_text(fields, "sv")


def test_a_receipt_names_no_one_it_was_not_given() -> None:
    """A record not known yet (never on a receipt screen) still gives a readable receipt."""
    fields = receipt_fields(None, None, "", "", "Karin", "SE-ADM", None)
    assert receipt_bytes(fields).decode("utf-8").count("\n") == 2 + len(LANGUAGES) + 5 - 1


@pytest.mark.parametrize("kind", [VisitKind.ACTIVATION, VisitKind.UNLOCK, VisitKind.CHANGE_PIN,
                                  VisitKind.BLOCK, VisitKind.PIN_LETTER,
                                  VisitKind.SIGNATURE_CERTIFICATE, VisitKind.RENEW_CERTIFICATES])
def test_a_visit_done_well_says_the_cards_new_status_and_to_take_the_card(
    kind: VisitKind,
) -> None:
    d = visit(kind)
    d.inputs(happy_script(kind, d.rig))
    assert d.view.name is ViewName.DONE and d.step.finished, d.view
    assert d.view.params["card_status"] == f"visit.done.status.{kind.value}"
    # the block script types the number of a lost card: no card in the reader to take out
    assert d.view.params["take_card"] is (kind is not VisitKind.BLOCK)


def test_a_queued_or_refused_outcome_claims_no_new_status() -> None:
    queued = visit(VisitKind.ACTIVATION)
    to_receipt(queued)
    queued.rig.portal.down = True
    queued.inputs(pin_keys(PIN))
    assert queued.view.message == "visit.done.activation.queued"
    assert "card_status" not in queued.view.params
    refused = visit(VisitKind.ACTIVATION)
    to_receipt(refused)
    refused.rig.portal.rejects["complete_activation"] = "deadline_passed"
    refused.inputs(pin_keys(PIN))
    assert refused.view.error is not None and "card_status" not in refused.view.params
    block = visit(VisitKind.BLOCK)  # a block the portal has not taken yet: "Kortet är spärrat" lies
    script = happy_script(VisitKind.BLOCK, block.rig)
    block.inputs(script[:-1])
    block.rig.portal.down = True  # from the confirming tap on
    block.inputs(script[-1:])
    assert block.view.message == "visit.done.block.queued"
    assert "card_status" not in block.view.params


def test_a_card_taken_out_before_done_is_not_asked_for_again() -> None:
    eva = holder("eva")
    d = visit(VisitKind.PIN_LETTER)
    d.rig.insert(eva)
    d.inputs([INSERT, "continue", ("document_scanned", {"evidence": evidence_of(eva)})])
    d.send("document_confirmed", hold=True)  # the order is being sent and recorded
    d.send("card_removed", reader="x")
    d.settle()
    assert d.view.name is ViewName.DONE and d.view.params["take_card"] is False
    assert d.view.params["card_status"] == "visit.done.status.pin_letter"
