"""The effect runner and run_scripted, against the in-test fakes of the ports (unit level).

Integration with the real adapters (SoftHSM2 token, vpcd reader, reference portal, SQLite
outbox) belongs to the integration suite; here the fakes pin down the runner's contract.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from kiosk.errors import CardRemoved, KioskError, PortalUnreachable
from kiosk.model import CardIdentity, CardRecord, VisitKind, VisitResult
from kiosk.visit.activation import ActivationFlow
from kiosk.visit.base import Effect, Event, Step, View, ViewName
from kiosk.visit.effects import EFFECT_DONE, EFFECT_FAILED, EffectKind, SignedReceipt
from kiosk.visit.runner import (
    MAX_EFFECTS_PER_INPUT,
    EffectRunner,
    push_result,
    run_scripted,
    signing_certificate,
)
from kiosk.visit.secret import Secret
from tests.unit.visit.drive import NEW_PIN, happy_script
from tests.unit.visit.fakes import READER, SETTINGS, T0, admin_auth, cert, holder, rig

ANNA = holder("anna")


def runner_for(r=None):  # type: ignore[no-untyped-def]
    r = r or rig()
    return r, EffectRunner(r.reader, r.tokens, r.portal, r.store, r.clock)


def test_success_comes_back_as_effect_done_with_the_result() -> None:
    r, runner = runner_for()
    r.insert(ANNA)
    event = runner.run(Effect(EffectKind.IDENTIFY_CARD, {"reader": READER}))
    assert event.kind == EFFECT_DONE and event.data["effect"] == "identify_card"
    assert isinstance(event.data["result"], CardIdentity)
    assert event.at > T0
    event = runner.run(Effect(EffectKind.FETCH_RECORD, {"card_number": ANNA.card_number}))
    assert isinstance(event.data["result"], CardRecord)


def test_a_kiosk_error_comes_back_as_effect_failed() -> None:
    r, runner = runner_for()
    event = runner.run(Effect(EffectKind.IDENTIFY_CARD, {"reader": READER}))  # no card in
    assert event.kind == EFFECT_FAILED and isinstance(event.data["error"], CardRemoved)
    r.portal.down = True
    event = runner.run(Effect(EffectKind.FETCH_RECORD, {"card_number": ANNA.card_number}))
    assert isinstance(event.data["error"], PortalUnreachable)


def test_a_library_exception_is_wrapped_not_raised() -> None:
    _, runner = runner_for()
    event = runner.run(Effect(EffectKind.FETCH_RECORD, {}))  # KeyError inside the handler
    assert event.kind == EFFECT_FAILED
    error = event.data["error"]
    assert type(error) is KioskError and error.code == "internal"
    assert "KeyError" in error.detail


def test_unknown_effect_kind_fails_cleanly() -> None:
    _, runner = runner_for()
    event = runner.run(Effect("teleport", {}))
    assert event.kind == EFFECT_FAILED and event.data["error"].data["effect"] == "teleport"


def test_secrets_are_revealed_for_the_call_and_wiped_after() -> None:
    r, runner = runner_for()
    card = r.insert(ANNA)
    pin, credential = Secret(NEW_PIN), Secret("CRED-" + ANNA.card_number)
    event = runner.run(
        Effect(EffectKind.WRITE_PIN, {"reader": READER, "credential": credential, "pin": pin})
    )
    assert event.kind == EFFECT_DONE and card.pin == NEW_PIN
    assert len(pin) == 0 and len(credential) == 0
    failing = Secret(NEW_PIN)
    args = {"old_pin": Secret("000000"), "new_pin": failing}
    event = runner.run(Effect(EffectKind.CHANGE_PIN, args))
    assert event.kind == EFFECT_FAILED and len(failing) == 0


def test_a_plain_string_pin_is_refused() -> None:
    r, runner = runner_for()
    r.insert(ANNA)
    event = runner.run(Effect(EffectKind.WRITE_PIN, {"credential": "x", "pin": NEW_PIN}))
    assert event.kind == EFFECT_FAILED and "Secret" in event.data["error"].detail


def test_sign_receipt_returns_signature_and_signing_certificate() -> None:
    r, runner = runner_for()
    r.insert(ANNA, NEW_PIN)
    event = runner.run(
        Effect(EffectKind.SIGN_RECEIPT, {"pin": Secret(NEW_PIN), "receipt": b"receipt text"})
    )
    signed = event.data["result"]
    assert isinstance(signed, SignedReceipt)
    assert signed.signature == b"SIG:receipt " and signed.certificate == b"DER"


def test_signing_certificate_prefers_the_signature_certificate() -> None:
    auth = cert("SE1-A", "authentication", b"AUTH")
    sign = cert("SE1-A", "signature", b"SIGN")
    assert signing_certificate([auth, sign]) == b"SIGN"
    assert signing_certificate([auth]) == b"AUTH"
    assert signing_certificate([]) == b""


def result(kind: VisitKind, **payload: str) -> VisitResult:
    return VisitResult(kind, ANNA.card_number, "SE-ADM1", "k1", T0, payload)


def test_push_result_per_kind() -> None:
    r = rig()
    activation = result(
        VisitKind.ACTIVATION, activation_id="ACT-" + ANNA.card_number,
        receipt="cg==", signature="cw==", certificate="Yw==",
    )
    assert push_result(r.portal, activation).status.value == "Aktiv"
    assert push_result(r.portal, result(VisitKind.BLOCK, reason="lost", synced="yes")) is None
    assert push_result(r.portal, result(VisitKind.BLOCK, reason="lost", synced="no")) is not None
    assert push_result(r.portal, result(VisitKind.CHANGE_PIN)) is None
    assert [c[0] for c in r.portal.calls] == ["complete_activation", "block"]


def test_run_scripted_drives_a_whole_visit_and_keeps_a_transcript() -> None:
    r, runner = runner_for()
    script = happy_script(VisitKind.ACTIVATION, r)
    flow = ActivationFlow(admin_auth(), SETTINGS, "demo-1")
    seen: list[ViewName] = []
    run = run_scripted(flow, script, runner, on_step=lambda e, s: seen.append(s.view.name))
    assert run.final.finished and run.final.view.name is ViewName.DONE
    assert seen == [v.name for v in run.views]
    assert run.views[0].name is ViewName.INSERT_CARD
    outcomes = [e.data["effect"] for e, _ in run.entries if e.kind == EFFECT_DONE]
    assert outcomes[-2:] == ["record_result", "sync_result"]
    assert "demo-1:complete" in r.store.results
    assert NEW_PIN not in repr(run.views)


def test_run_scripted_accepts_bare_kinds_and_events() -> None:
    _, runner = runner_for()
    flow = ActivationFlow(admin_auth(), SETTINGS, "demo-2")
    run = run_scripted(flow, ["cancel", Event("home", T0 + timedelta(hours=1))], runner)
    assert run.final.finished and run.final.view.error is not None
    assert run.final.view.error.code == "visit_cancelled"


class Looping:
    """A broken flow that asks for an effect after every outcome."""

    def start(self, at: object) -> Step:
        again = Effect(EffectKind.FETCH_RECORD, {"card_number": "1"})
        return Step(View(ViewName.WORKING, "t"), (again,))

    def handle(self, event: Event) -> Step:
        return self.start(event.at)


def test_run_scripted_stops_a_looping_flow() -> None:
    _, runner = runner_for()
    with pytest.raises(KioskError, match="too many effects"):
        run_scripted(Looping(), [], runner)
    assert MAX_EFFECTS_PER_INPUT >= 10
