"""The additional-certificate visit on the rig (hardware/sim's memory cards): add one,
refuse a second and offer replace or remove, the new one verified before the old one
goes, a card pulled at each card step followed by a visit that continues the work (same
key id, one issuance), and hostile choices."""

from __future__ import annotations

import json

import pytest

from kiosk.errors import CardRemoved
from kiosk.model import VisitKind
from kiosk.pki import signature_verifies
from kiosk.ports import PinRole
from kiosk.visit.contract import ViewName
from kiosk.visit.effects import IssueCertificate
from kiosk.visit.key_jobs import key_id_of
from tests.unit.visit.drive import (
    CURRENT_PIN,
    Driver,
    happy_script,
    pin_keys,
    run_until,
    visit,
)
from tests.unit.visit.rig import Rig, evidence_of, holder

EVA = holder("eva")
D = VisitKind.ADDITIONAL_CERTIFICATE
NORRLAND, SKANE = "Region Norrland (demo)", "Region Skåne (demo)"
UP_TO_CHOICE = 4  # card, record, document scanned and confirmed


def with_additional(d: Driver) -> list[tuple[str, dict[str, object]]]:
    """The happy script's start, on a card that already has an additional certificate."""
    script = happy_script(D, d.rig)
    d.rig.add_additional(EVA, SKANE)
    return script[:UP_TO_CHOICE]


def additional_on(the_rig: Rig) -> list[bytes]:
    """Key ids of the additional certificates on Eva's card (another organisation's),
    each with its key under the authentication PIN."""
    keys = the_rig.key_ids(EVA, CURRENT_PIN, PinRole.AUTHENTICATION)
    found = [c.key_id for c in the_rig.certificates(EVA) if c.organisation in (NORRLAND, SKANE)]
    assert set(found) <= keys
    return found


def test_an_additional_certificate_is_made_issued_installed_and_tested() -> None:
    d = visit(D)
    d.inputs(happy_script(D, d.rig))
    assert d.step.view.name is ViewName.DONE, d.step.view
    assert d.step.view.message == "visit.done.additional_certificate.add"
    assert d.step.view.params["card_status"] == "visit.done.status.additional_certificate.add"
    assert additional_on(d.rig) == [key_id_of("v1", "additional")]
    (issued,) = d.rig.portal.issued.values()
    assert issued.kind == "additional"
    (on_card,) = [c for c in d.rig.certificates(EVA) if c.organisation == NORRLAND]
    assert on_card.der == issued.der and on_card.usage == "authentication"
    # its key works: a signature made with it on the card verifies with the certificate
    signature = d.rig.cards[EVA.card_number].sign(
        PinRole.AUTHENTICATION, CURRENT_PIN, on_card.key_id, b"probe")
    assert signature_verifies(issued.der, signature, b"probe")
    order = [e for e in d.effects_run if e in (
        "generate_key_pair", "sign_request", "issue_certificate", "install_certificate",
        "test_signature", "delete_key_pair")]
    assert order == ["test_signature",  # the login: the authentication PIN checked on the card
                     "generate_key_pair", "sign_request", "issue_certificate",
                     "install_certificate", "test_signature"]
    (result,) = d.rig.results().values()
    assert result.payload["action"] == "add" and result.payload["organisation"] == NORRLAND
    assert json.loads(result.payload["revoke"]) == []
    assert d.rig.store.open_card_work() == []


def test_the_organisation_goes_to_the_portal() -> None:
    d = visit(D)
    script = happy_script(D, d.rig)
    d.inputs(script[:UP_TO_CHOICE])
    d.send("chosen", choice=SKANE)
    d.inputs(pin_keys(CURRENT_PIN))
    assert d.step.view.name is ViewName.DONE
    issues = [e for s in d.steps for e in s.effects if isinstance(e, IssueCertificate)]
    assert [e.organisation for e in issues] == [SKANE]


def test_a_second_one_is_refused_the_choice_is_replace_or_remove() -> None:
    d = visit(D)
    d.inputs(with_additional(d))
    view = d.step.view
    assert view.name is ViewName.CHOOSE and view.message == "visit.additional.present"
    assert view.texts("choices") == ("replace", "remove")  # no way to add a second
    assert view.params["additional_organisation"] == SKANE
    step = d.send("chosen", choice=NORRLAND)  # an organisation here: refused, nothing runs
    assert step.view.name is ViewName.CHOOSE and step.view.error is not None
    assert step.effects == () and d.flow.stage.value == "additional_present"


def test_replace_removes_the_old_one_only_after_the_new_one_verified() -> None:
    d = visit(D)
    d.inputs(with_additional(d))
    old = next(c for c in d.rig.certificates(EVA) if c.organisation == SKANE)
    d.send("chosen", choice="replace")
    assert d.step.view.message == "visit.additional.choose_organisation"
    d.send("chosen", choice=NORRLAND)
    d.inputs(pin_keys(CURRENT_PIN))
    assert d.step.view.message == "visit.done.additional_certificate.replace", d.step.view
    assert d.step.view.params["card_status"] == "visit.done.status.additional_certificate.replace"
    tail = [e for e in d.effects_run if e in ("test_signature", "delete_key_pair")]
    assert tail[-2:] == ["test_signature", "delete_key_pair"]  # verified, then removed
    assert additional_on(d.rig) == [key_id_of("v1", "additional")]  # one, the new one
    (result,) = d.rig.results().values()
    assert json.loads(result.payload["revoke"]) == [format(old.serial, "x")]
    assert result.payload["revoke_reason"] == "replaced"


def test_remove_takes_the_one_off_the_card_and_revokes_it() -> None:
    d = visit(D)
    d.inputs(with_additional(d))
    old = next(c for c in d.rig.certificates(EVA) if c.organisation == SKANE)
    d.send("chosen", choice="remove")
    d.inputs(pin_keys(CURRENT_PIN))
    assert d.step.view.message == "visit.done.additional_certificate.remove", d.step.view
    assert d.step.view.params["card_status"] == "visit.done.status.additional_certificate.remove"
    assert additional_on(d.rig) == []
    assert "issue_certificate" not in d.effects_run and "generate_key_pair" not in d.effects_run
    assert [c.usage for c in d.rig.certificates(EVA)] == ["authentication"]  # its own stays
    assert old.key_id not in d.rig.key_ids(EVA, CURRENT_PIN, PinRole.AUTHENTICATION)
    (result,) = d.rig.results().values()
    assert json.loads(result.payload["revoke"]) == [format(old.serial, "x")]
    assert result.payload["revoke_reason"] == "removed"


@pytest.mark.parametrize("choice", ["", "Region Ingenstans", "replace", "x" * 5000, "\u0000"])
def test_a_hostile_organisation_is_refused(choice: str) -> None:
    d = visit(D)
    d.inputs(happy_script(D, d.rig)[:UP_TO_CHOICE])
    step = d.send("chosen", choice=choice)
    assert step.view.error is not None and step.effects == ()
    assert step.view.name is ViewName.CHOOSE and not step.finished


CARD_STEPS = ("generate_key_pair", "certificate_request", "write_certificate", "sign",
              "delete_key_pair")


@pytest.mark.parametrize("method", CARD_STEPS)
def test_replace_card_pulled_then_continued_issues_once(method: str) -> None:
    first = visit(D)
    start = with_additional(first)
    first.inputs(start)
    first.send("chosen", choice="replace")
    first.send("chosen", choice=NORRLAND)
    first.inputs(pin_keys(CURRENT_PIN)[:-1])
    first.send("pin_submit", hold=True)
    run_until(first, "generate_key_pair")  # logged in, the work committed
    first.rig.deck.fail_next(method, CardRemoved("pulled"))
    first.settle()
    assert first.step.finished and first.step.view.name is ViewName.ERROR, first.step.view
    assert first.step.view.message == "visit.ended.additional_certificate.writing"
    if method != "delete_key_pair":  # the old one stays until the new one verified
        assert any(c.organisation == SKANE for c in first.rig.certificates(EVA))

    again = visit(D, first.rig, visit_id="v2")  # a new visit on the same card
    again.inputs(start)  # the stopped visit's decision stands: straight to the PIN
    assert again.step.view.name is ViewName.PIN_CURRENT, again.step.view
    again.inputs(pin_keys(CURRENT_PIN))
    assert again.step.view.name is ViewName.DONE, again.step.view
    assert additional_on(first.rig) == [key_id_of("v1", "additional")]  # the first work's key
    assert len(first.rig.portal.issued) == 1  # nothing issued twice
    assert list(first.rig.results()) == ["v1:additional_certificate"]


def test_the_card_check_of_a_pulled_remove_continues_and_removes() -> None:
    first = visit(D)
    start = with_additional(first)
    first.inputs(start)
    first.send("chosen", choice="remove")
    first.inputs(pin_keys(CURRENT_PIN)[:-1])
    first.rig.deck.fail_next("delete_key_pair", CardRemoved("pulled"))
    first.inputs(pin_keys(CURRENT_PIN)[-1:])
    assert first.step.finished
    again = visit(D, first.rig, visit_id="v2")
    again.inputs([*start, *pin_keys(CURRENT_PIN)])
    assert again.step.view.message == "visit.done.additional_certificate.remove", again.step.view
    assert additional_on(again.rig) == []


def test_the_document_evidence_is_in_the_result() -> None:
    d = visit(D)
    d.inputs(happy_script(D, d.rig))
    (result,) = d.rig.results().values()
    assert result.payload["document_type"] == evidence_of(EVA).doc_type.value


def test_reads_failing_side_by_side_show_one_failure_and_a_retry_reads_them_all() -> None:
    """The card and the portal are read side by side: two failures are one FAILED screen
    (not a failure of the failure screen), and the retry reads everything again."""
    from kiosk.errors import PortalUnreachable

    d = visit(D)
    script = happy_script(D, d.rig)
    kind, data = script[0]
    d.send(kind, hold=True, **data)  # the card is in: identify, fetch, then the reads
    run_until(d, "read_card_keys")
    reads = list(d.held)
    assert [e.kind for e in reads] == ["read_card_keys", "find_card_work", "list_issued"]
    d.fail_held(PortalUnreachable("down"))
    d.fail_held(PortalUnreachable("down"))
    assert d.step.view.name is ViewName.ERROR
    assert d.step.view.message == "visit.failed.reading"
    d.settle()  # the third read answers late: still the one failure
    assert d.step.view.message == "visit.failed.reading"
    d.send("retry")
    assert d.step.view.name is ViewName.CARD_RECORD, d.step.view
