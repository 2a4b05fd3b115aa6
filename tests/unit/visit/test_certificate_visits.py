"""The signature-certificate and renew-certificates visits on the rig (hardware/sim's
memory cards: software keys made on the card, certificates from the portal double's CA):
happy paths, refusals, PIN checks, and a card pulled at
each card step followed by a new visit that continues the same work (same key ids, one
issuance per certificate, a working authentication certificate at every moment)."""

from __future__ import annotations

import json

import pytest

from kiosk.errors import CardRemoved
from kiosk.model import CertificateInfo, UnlockPurpose, VisitKind
from kiosk.pki import certificate_key
from kiosk.ports import PinRole
from kiosk.visit.contract import ViewName
from kiosk.visit.key_jobs import key_id_of
from tests.unit.visit.drive import (
    CURRENT_PIN,
    INSERT,
    NEW_PIN,
    SIGNATURE_PIN,
    Driver,
    happy_script,
    pin_keys,
    visit,
)
from tests.unit.visit.rig import T0, Rig, evidence_of, holder, rig

EVA = holder("eva")
S, R = VisitKind.SIGNATURE_CERTIFICATE, VisitKind.RENEW_CERTIFICATES


def working_authentication(the_rig: Rig) -> list[CertificateInfo]:
    """Eva's authentication certificates valid now whose key pair is on the card and signs
    what the certificate verifies."""
    return the_rig.working_authentication(EVA, CURRENT_PIN)


def keys_on(the_rig: Rig) -> dict[bytes, PinRole]:
    """The key pairs on Eva's card (found by a login with each PIN) and the PIN of each."""
    found = {k: PinRole.AUTHENTICATION
             for k in the_rig.key_ids(EVA, CURRENT_PIN, PinRole.AUTHENTICATION)}
    for pin in (SIGNATURE_PIN, NEW_PIN):  # the signature PIN, before or after the visit
        if the_rig.pin_is(EVA, pin, PinRole.SIGNATURE):
            found |= {k: PinRole.SIGNATURE
                      for k in the_rig.key_ids(EVA, pin, PinRole.SIGNATURE)}
    return found


def run(kind: VisitKind, the_rig: Rig | None = None, visit_id: str = "v1") -> Driver:
    d = visit(kind, the_rig, visit_id)
    d.inputs(happy_script(kind, d.rig))
    return d


# --- signature certificate ---------------------------------------------------------------


def test_signature_certificate_is_made_on_the_card_issued_installed_and_tested() -> None:
    d = run(S)
    assert d.step.finished and d.step.view.name is ViewName.DONE, d.step.view
    assert d.step.view.message == "visit.done.signature_certificate"
    assert d.rig.pin_is(EVA, NEW_PIN, PinRole.SIGNATURE)  # set with the portal's credential
    assert d.rig.portal.unlock_purposes == [UnlockPurpose.SIGNATURE_PIN]  # logged as such
    assert not d.rig.pin_is(EVA, CURRENT_PIN, PinRole.SIGNATURE)
    signature = [c for c in d.rig.certificates(EVA) if c.usage == "signature"]
    assert len(signature) == 1 and signature[0].key_id == key_id_of("v1", "signature")
    assert keys_on(d.rig)[signature[0].key_id] is PinRole.SIGNATURE
    # the certificate on the card is the one issued, for the key made on the card
    (issued,) = d.rig.portal.issued.values()
    assert signature[0].der == issued.der
    (made,) = [k for k in d.rig.cards[EVA.card_number].card_keys() if k.role is PinRole.SIGNATURE]
    assert certificate_key(issued.der) == made.public_key
    assert [m for m, _ in d.rig.portal.calls].count("issue_certificate") == 1
    (result,) = d.rig.results().values()
    assert result.kind is S and result.idempotency_key == "v1:signature_certificate"
    assert json.loads(result.payload["certificates"])[0]["test_signature"] == "verified"
    assert d.rig.store.open_card_work() == []  # the recorded result ended the work
    assert "issue_certificate" in d.effects_run or d.rig.portal.issued


def test_signature_certificate_refused_when_the_card_has_one() -> None:
    d = visit(S)
    d.rig.insert(EVA, CURRENT_PIN)  # the rig's default card carries a signature certificate
    d.inputs([INSERT])
    assert d.step.finished and d.step.view.name is ViewName.CARD_RECORD
    assert d.step.view.error is not None
    assert d.step.view.error.message == "rules.card.signature_certificate_present"
    assert d.step.view.error.next_step == "rules.card.signature_certificate_present.next"
    assert not d.rig.portal.issued


def test_signature_certificate_refused_when_the_card_is_not_active() -> None:
    d = visit(S)
    d.rig.insert(holder("anna"))  # Skickad
    d.inputs([INSERT])
    assert d.step.finished and d.step.view.error is not None
    assert d.step.view.error.message == "rules.card.not_active"


def test_signature_certificate_refused_on_a_one_pin_card() -> None:
    d = visit(S)
    d.rig.card(EVA, CURRENT_PIN, two_pins=False, signature_days=None)
    d.rig.insert(EVA)
    d.inputs([INSERT])
    assert d.step.view.error is not None
    assert d.step.view.error.message == "rules.card.no_signature_pin"


def test_signature_pin_must_differ_from_the_authentication_pin() -> None:
    d = visit(S)
    script = happy_script(S, d.rig)
    d.inputs(script[:11])  # ... the authentication PIN typed and checked on the card
    assert d.step.view.name is ViewName.PIN_CHOOSE
    d.inputs(pin_keys(CURRENT_PIN))
    assert d.step.view.name is ViewName.PIN_CHOOSE and d.step.view.error is not None
    assert d.step.view.error.code == "pin_rule"
    assert d.step.view.error.params.get("rule") == "same_as_current"
    assert not d.rig.portal.issued


def test_a_wrong_authentication_pin_is_asked_again() -> None:
    d = visit(S)
    script = happy_script(S, d.rig)
    d.inputs(script[:4])
    d.inputs(pin_keys("111111"))
    assert d.step.view.name is ViewName.PIN_CURRENT
    assert d.step.view.error is not None and d.step.view.error.code == "wrong_pin"
    d.inputs(script[4:])
    assert d.step.view.name is ViewName.DONE


CARD_STEPS = ("set_signature_pin", "generate_key_pair", "certificate_request",
              "write_certificate", "sign")


@pytest.mark.parametrize("method", CARD_STEPS)
def test_signature_certificate_card_pulled_then_continued_issues_once(method: str) -> None:
    first = visit(S)
    script = happy_script(S, first.rig)
    first.inputs(script[:11])  # the login (a test signature with the authentication PIN)
    first.rig.deck.fail_next(method, CardRemoved("pulled"))
    first.inputs(script[11:])
    assert first.step.finished and first.step.view.name is ViewName.ERROR
    assert first.step.view.message == "visit.ended.signature_certificate.writing"
    assert first.step.view.error is not None
    assert working_authentication(first.rig)  # the authentication certificate is untouched

    again = visit(S, first.rig, visit_id="v2")  # a new visit on the same card
    again.inputs(script)
    assert again.step.view.name is ViewName.DONE, again.step.view
    signature = [c for c in first.rig.certificates(EVA) if c.usage == "signature"]
    assert [c.key_id for c in signature] == [key_id_of("v1", "signature")]  # the first work's
    assert len(first.rig.portal.issued) == 1  # nothing issued twice
    assert list(first.rig.results()) == ["v1:signature_certificate"]


# --- renewal -------------------------------------------------------------------------------


def test_renewal_replaces_the_ending_certificates_after_the_new_ones_verify() -> None:
    d = visit(R)
    script = happy_script(R, d.rig)
    old = {c.usage: c for c in d.rig.certificates(EVA)}
    d.inputs(script)
    assert d.step.view.name is ViewName.DONE, d.step.view
    new = {c.usage: c for c in d.rig.certificates(EVA)}
    assert set(new) == {"authentication", "signature"}
    assert all(new[u].key_id != old[u].key_id for u in new)
    keys = keys_on(d.rig)
    assert all(old[u].key_id not in keys for u in old)  # the old key pairs are gone
    assert keys[new["signature"].key_id] is PinRole.SIGNATURE
    assert working_authentication(d.rig) == [new["authentication"]]
    assert {c.der for c in new.values()} == {c.der for c in d.rig.portal.issued.values()}
    (result,) = d.rig.results().values()
    assert sorted(json.loads(result.payload["revoke"])) == sorted(
        format(c.serial, "x") for c in old.values()
    )
    # the sync asked the portal to revoke them (the portal double knows none: nothing to revoke)
    assert [m for m, _ in d.rig.portal.calls].count("revoke_certificate") == 2
    assert d.step.view.message == "visit.done.renew_certificates"


def test_renewal_refused_when_nothing_ends_soon() -> None:
    d = visit(R)
    d.rig.card(EVA, CURRENT_PIN, signature_pin=SIGNATURE_PIN, signature_days=400,
               authentication_days=400)
    d.rig.insert(EVA)
    d.inputs([INSERT])
    assert d.step.finished and d.step.view.error is not None
    assert d.step.view.error.message == "rules.card.nothing_to_renew"
    assert d.step.view.error.params.get("renew_from")


def test_renewal_with_a_wrong_signature_pin_asks_again_and_removes_nothing() -> None:
    d = visit(R)
    script = happy_script(R, d.rig)
    d.inputs(script[:9] + pin_keys("999999"))
    assert d.step.view.name is ViewName.PIN_CURRENT  # the signature PIN's screen
    assert d.step.view.error is not None and d.step.view.error.code == "wrong_pin"
    old = {b"\x01": PinRole.AUTHENTICATION, b"\x02": PinRole.SIGNATURE}  # both still there
    assert old.items() <= keys_on(d.rig).items()
    d.inputs(pin_keys(SIGNATURE_PIN))
    assert d.step.view.name is ViewName.DONE


RENEW_STEPS = ("generate_key_pair", "certificate_request", "write_certificate", "sign",
               "delete_key_pair")


@pytest.mark.parametrize("method", RENEW_STEPS)
@pytest.mark.parametrize("nth", [1, 2])
def test_renewal_card_pulled_at_each_step_keeps_a_working_authentication_certificate(
    method: str, nth: int
) -> None:
    first = visit(R)
    script = happy_script(R, first.rig)
    calls = {"n": 0}
    token_method = getattr(type(first.rig.tokens.open.__self__), "open")  # noqa: B009

    def pulled_on_nth(reader: str | None = None) -> object:
        token = token_method(first.rig.tokens, reader)
        real = getattr(token, method)

        def counting(*args: object, **kwargs: object) -> object:
            calls["n"] += 1
            if calls["n"] == nth + (1 if method == "sign" else 0):  # the login signs first
                raise CardRemoved("pulled")
            return real(*args, **kwargs)

        setattr(token, method, counting)
        return token

    first.rig.tokens.open = pulled_on_nth  # type: ignore[method-assign]
    first.inputs(script)
    assert first.step.finished and first.step.view.name is ViewName.ERROR, first.step.view
    assert first.step.view.message == "visit.ended.renew_certificates.writing"
    assert working_authentication(first.rig), "no working authentication certificate"
    del first.rig.tokens.open  # the card back in an ordinary reader

    again = visit(R, first.rig, visit_id="v2")
    again.inputs([INSERT, ("continue", {}), *pin_keys(CURRENT_PIN), *pin_keys(SIGNATURE_PIN)])
    assert again.step.view.name is ViewName.DONE, again.step.view
    assert len(working_authentication(first.rig)) == 1
    certificates = first.rig.certificates(EVA)
    assert {c.key_id for c in certificates} == {
        key_id_of("v1", "authentication:01"), key_id_of("v1", "signature:02")
    }
    assert set(keys_on(first.rig)) == {c.key_id for c in certificates}
    assert len(first.rig.portal.issued) == 2  # one per certificate, never twice
    assert list(first.rig.results()) == ["v1:renew_certificates"]


def test_hostile_card_work_notes_give_no_jobs() -> None:
    from kiosk.visit.key_jobs import jobs_from_note

    for text in ("", "null", "[1]", '[{"role": "root"}]', "{" * 5000, '[{"slot": 1}]'):
        assert jobs_from_note(text) == []


def test_the_document_evidence_is_in_the_signature_certificate_result() -> None:
    d = run(S)
    (result,) = d.rig.results().values()
    assert result.payload["document_type"] == str(evidence_of(EVA).doc_type)
    assert not any("pin" in key for key in result.payload)


def test_no_pin_is_left_after_the_visit() -> None:
    for kind in (S, R):
        d = run(kind, rig())
        assert d.flow.pins.wiped()


# --- the card check offers the renewal -------------------------------------------------------


def test_the_card_check_offers_the_renewal_and_the_session_starts_it() -> None:
    from kiosk.demo_cast import demo_admins
    from kiosk.visit.admin_session import KioskSession
    from kiosk.visit.events import action_event
    from tests.unit.visit.rig import SETTINGS

    admin = demo_admins(T0.date())[0]
    d = Driver(KioskSession(SETTINGS, "s1"), rig())
    d.rig.put(admin.card_number)
    d.inputs([INSERT, *pin_keys(admin.pin)])
    assert d.step.view.name is ViewName.HOME
    d.rig.card(EVA, CURRENT_PIN, signature_pin=SIGNATURE_PIN, signature_days=60,
               authentication_days=60)
    d.rig.insert(EVA)
    d.inputs([("choose_visit", {"kind": "card_check"}), INSERT, ("done", {})])
    assert d.step.view.name is ViewName.CARD_INFO and d.step.finished
    offer = "visit:renew_certificates"
    assert d.step.view.actions == (offer, "home")
    d.send(action_event(offer))  # type: ignore[arg-type]
    # The card is still in the reader: the renewal takes it (before: INSERT_CARD waited for a
    # card_inserted that never comes until the card is taken out and put back)
    assert d.step.view.name is ViewName.CARD_RECORD
    assert d.step.view.title == "visit.title.renew_certificates"
    assert d.effects_run.count("identify_card") == 3  # sign-in, card check, renewal
    d.inputs([("continue", {}), *pin_keys(CURRENT_PIN), *pin_keys(SIGNATURE_PIN)])
    assert d.step.view.message == "visit.done.renew_certificates"


def test_the_card_check_of_a_card_with_years_left_offers_nothing() -> None:
    d = visit(VisitKind.CARD_CHECK)
    d.rig.card(EVA, CURRENT_PIN, signature_pin=SIGNATURE_PIN, signature_days=900,
               authentication_days=900)
    d.rig.insert(EVA)
    d.inputs([INSERT, ("done", {})])
    assert d.step.finished and d.step.view.actions == ("home",)


def test_the_pad_names_the_signature_pin_where_it_is_typed() -> None:
    d = visit(S)
    script = happy_script(S, d.rig)
    roles = {}
    for item in script:
        d.inputs([item])
        if d.step.view.name in (ViewName.PIN_CURRENT, ViewName.PIN_CHOOSE, ViewName.PIN_CONFIRM):
            roles[d.step.view.name] = d.step.view.params.get("pin_role")
    assert roles == {ViewName.PIN_CURRENT: None, ViewName.PIN_CHOOSE: "signature",
                     ViewName.PIN_CONFIRM: "signature"}
    r = visit(R)
    script = happy_script(R, r.rig)
    r.inputs(script[:9])
    assert r.step.view.message == "visit.pin.pin_signature"
    assert r.step.view.params.get("pin_role") == "signature"
