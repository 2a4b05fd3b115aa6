"""The effect runner and run_scripted on the rig (hardware/sim's memory cards, the portal
double, the real outbox) at unit level.

Integration with the real adapters (SoftHSM2 token, vpcd reader, reference portal) belongs
to the integration suite; here the rig pins down the runner's contract.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from datetime import datetime

import pytest

from kiosk.demo_cast import demo_so_pin
from kiosk.errors import CardRemoved, KioskError, PortalUnreachable
from kiosk.model import CertificateInfo, VisitKind, VisitResult
from kiosk.pki import signature_verifies
from kiosk.sync import deliver
from kiosk.visit.activation import ActivationFlow
from kiosk.visit.contract import Step, View, ViewName
from kiosk.visit.effects import (
    ChangePin,
    Effect,
    EffectKind,
    FetchRecord,
    IdentifyCard,
    SignReceipt,
    WritePin,
)
from kiosk.visit.events import (
    Cancel,
    CardIdentified,
    EffectFailed,
    Event,
    Home,
    Outcome,
    ReceiptSigned,
    RecordFetched,
)
from kiosk.visit.runner import (
    MAX_EFFECTS_PER_INPUT,
    EffectRunner,
    run_scripted,
    signing_certificate,
)
from kiosk.visit.secret import Secret
from tests.unit.visit.drive import NEW_PIN, event, happy_script
from tests.unit.visit.rig import READER, SETTINGS, T0, admin_auth, holder, rig

ANNA = holder("anna")


def runner_for(r=None):  # type: ignore[no-untyped-def]
    r = r or rig()
    return r, EffectRunner(r.reader, r.tokens, r.portal, r.store, r.clock)


def test_success_comes_back_as_the_effects_own_event_with_the_result() -> None:
    r, runner = runner_for()
    r.insert(ANNA)
    effect = IdentifyCard(READER)
    outcome = runner.run(effect)
    assert isinstance(outcome, CardIdentified) and outcome.effect is effect
    assert outcome.kind == "effect_done" and outcome.identity.card_number == ANNA.card_number
    outcome = runner.run(FetchRecord(ANNA.card_number))
    assert isinstance(outcome, RecordFetched) and outcome.record.card_number == ANNA.card_number


def test_a_kiosk_error_comes_back_as_effect_failed() -> None:
    r, runner = runner_for()
    outcome = runner.run(IdentifyCard(READER))  # no card in
    assert isinstance(outcome, EffectFailed) and isinstance(outcome.error, CardRemoved)
    assert outcome.kind == "effect_failed"
    r.portal.down = True
    outcome = runner.run(FetchRecord(ANNA.card_number))
    assert isinstance(outcome, EffectFailed) and isinstance(outcome.error, PortalUnreachable)


def test_a_library_exception_is_wrapped_not_raised() -> None:
    r, runner = runner_for()
    r.portal.card = lambda number: {}["missing"]  # type: ignore[method-assign]
    outcome = runner.run(FetchRecord(ANNA.card_number))  # KeyError inside the port
    assert isinstance(outcome, EffectFailed)
    assert type(outcome.error) is KioskError and outcome.error.code == "internal"
    assert "KeyError" in outcome.error.detail


@dataclass(frozen=True)
class Teleport(Effect):
    kind = EffectKind.FETCH_RECORD  # an effect class the runner has no port call for


def test_an_effect_the_runner_does_not_know_fails_cleanly() -> None:
    _, runner = runner_for()
    outcome = runner.run(Teleport())
    assert isinstance(outcome, EffectFailed) and "no runner" in outcome.error.detail


def test_secrets_are_revealed_for_the_call_and_wiped_after() -> None:
    r, runner = runner_for()
    r.insert(ANNA)
    pin, credential = Secret(NEW_PIN), Secret(demo_so_pin(ANNA.card_number))
    outcome = runner.run(WritePin(READER, credential, pin))
    assert not isinstance(outcome, EffectFailed) and r.pin_is(ANNA, NEW_PIN)
    assert len(pin) == 0 and len(credential) == 0
    failing = Secret(NEW_PIN)
    outcome = runner.run(ChangePin(READER, Secret("000000"), failing))
    assert isinstance(outcome, EffectFailed) and len(failing) == 0


def test_sign_receipt_returns_signature_and_signing_certificate() -> None:
    r, runner = runner_for()
    r.insert(ANNA, NEW_PIN)
    outcome = runner.run(SignReceipt(None, Secret(NEW_PIN), b"receipt text"))
    assert isinstance(outcome, ReceiptSigned)
    # a two-PIN card signs under the user PIN, with its authentication key: the certificate
    # returned is that one, read from the card, and the signature verifies with it
    (authentication,) = [c for c in r.certificates(ANNA) if c.usage == "authentication"]
    assert outcome.signed.certificate == authentication.der
    assert signature_verifies(authentication.der, outcome.signed.signature, b"receipt text")
    assert not signature_verifies(authentication.der, outcome.signed.signature, b"receipt")


def test_a_hook_runs_after_its_effect_succeeded_and_before_the_outcome() -> None:
    r, runner = runner_for()
    r.insert(ANNA)
    seen: list[str] = []
    runner.after[FetchRecord] = lambda: seen.append("after fetch")
    runner.run(IdentifyCard(READER))
    assert seen == []
    runner.run(FetchRecord(ANNA.card_number))
    assert seen == ["after fetch"]


def card_certificates() -> tuple[CertificateInfo, CertificateInfo]:
    """The authentication and signature certificates of a card, read from it."""
    auth, sign = rig().insert(ANNA).certificates()
    assert (auth.usage, sign.usage) == ("authentication", "signature")
    return auth, sign


def test_signing_certificate_prefers_the_signature_certificate() -> None:
    auth, sign = card_certificates()
    assert signing_certificate([auth, sign]) == sign.der
    assert signing_certificate([auth]) == auth.der
    assert signing_certificate([]) == b""


def test_a_two_pin_card_signs_the_receipt_with_its_authentication_certificate() -> None:
    auth, sign = card_certificates()
    assert signing_certificate([sign, auth], two_pins=True) == auth.der


def result(kind: VisitKind, **payload: str) -> VisitResult:
    return VisitResult(kind, ANNA.card_number, "SE-ADM1", "k1", T0, payload)


def test_push_result_per_kind() -> None:
    r = rig()
    activation = result(
        VisitKind.ACTIVATION, activation_id="ACT-" + ANNA.card_number,
        receipt="cg==", signature="cw==", certificate="Yw==",
    )
    assert deliver(r.portal, activation).status.value == "Aktiv"
    assert deliver(r.portal, result(VisitKind.BLOCK, reason="lost", synced="yes")) is None
    assert deliver(r.portal, result(VisitKind.BLOCK, reason="lost", synced="no")) is not None
    assert deliver(r.portal, result(VisitKind.CHANGE_PIN)) is None
    assert [c[0] for c in r.portal.calls] == ["complete_activation", "block"]


def test_the_visit_step_and_the_outbox_flush_deliver_by_one_rule() -> None:
    """EffectRunner.sync and the flush are one function (kiosk.sync.deliver): a block with
    no reason is sent as "other", and a blob that is not base64 is never sent."""
    sent: list[tuple[object, ...]] = []

    class Recorder:
        def block(self, *args: object) -> None:
            sent.append(("block", *args))

        def complete_activation(self, *args: object) -> None:
            sent.append(("complete_activation", *args))

    r = rig()
    runner = EffectRunner(r.reader, r.tokens, Recorder(), r.store, r.clock)  # type: ignore[arg-type]
    runner.sync(result(VisitKind.BLOCK, reason="", synced="no"))
    assert sent == [("block", ANNA.card_number, "SE-ADM1", "other", "k1", None)]
    broken = result(VisitKind.ACTIVATION, activation_id="A", receipt="not base64!",
                    signature="cw==", certificate="Yw==")
    with pytest.raises(binascii.Error):
        runner.sync(broken)
    assert len(sent) == 1


def test_run_scripted_drives_a_whole_visit_and_keeps_a_transcript() -> None:
    r, runner = runner_for()
    script = happy_script(VisitKind.ACTIVATION, r)
    flow = ActivationFlow(admin_auth(), SETTINGS, "demo-1")
    seen: list[ViewName] = []
    inputs = [event(kind, **data) for kind, data in script]
    run = run_scripted(flow, inputs, runner, on_step=lambda e, s: seen.append(s.view.name))
    assert run.final.finished and run.final.view.name is ViewName.DONE
    assert seen == [v.name for v in run.views]
    assert run.views[0].name is ViewName.INSERT_CARD
    outcomes = [e.effect.kind for e, _ in run.entries if isinstance(e, Outcome)]
    assert outcomes[-2:] == ["record_result", "sync_result"]
    assert "demo-1:complete" in r.results()
    assert NEW_PIN not in repr(run.views)


def test_run_scripted_feeds_input_events_and_ends_on_cancel() -> None:
    _, runner = runner_for()
    flow = ActivationFlow(admin_auth(), SETTINGS, "demo-2")
    run = run_scripted(flow, [Cancel(), Home()], runner)
    assert run.final.finished and run.final.view.error is not None
    assert run.final.view.error.code == "visit_cancelled"


class Looping:
    """A broken flow that asks for an effect after every outcome."""

    def start(self, at: datetime) -> Step:
        return Step(View(ViewName.WORKING, "t"), (FetchRecord("1"),))

    def handle(self, event: Event, at: datetime) -> Step:
        return self.start(at)


def test_run_scripted_stops_a_looping_flow() -> None:
    _, runner = runner_for()
    with pytest.raises(KioskError, match="too many effects"):
        run_scripted(Looping(), [], runner)
    assert MAX_EFFECTS_PER_INPUT >= 10


def test_the_pin_write_intent_is_committed_before_the_card_is_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """D8: the intent is in the store when the card is written; the result ends it."""
    from hardware.sim.memtoken import MemoryToken

    r, runner = runner_for()
    order: list[str] = []
    begin = r.store.begin_pin_write
    write = MemoryToken.set_initial_pin

    def noted_begin(intent):  # type: ignore[no-untyped-def]
        order.append(f"intent {intent.kind} {intent.card_number} {bool(intent.ticket_id)}")
        begin(intent)

    def noted_write(self, credential, new_pin):  # type: ignore[no-untyped-def]
        order.append(f"write with {len(r.store.interrupted())} intent(s) stored")
        write(self, credential, new_pin)

    monkeypatch.setattr(r.store, "begin_pin_write", noted_begin)
    monkeypatch.setattr(MemoryToken, "set_initial_pin", noted_write)
    script = happy_script(VisitKind.ACTIVATION, r)
    run = run_scripted(ActivationFlow(admin_auth(), SETTINGS, "visit-1"),
                       [event(kind, **data) for kind, data in script], runner)
    assert order == [f"intent activation {ANNA.card_number} True",
                     "write with 1 intent(s) stored"]
    assert run.final.view.name is ViewName.DONE
    assert r.store.interrupted() == []  # the recorded result ended it


def test_a_pin_write_the_card_refuses_ends_its_intent() -> None:
    r, runner = runner_for()
    script = happy_script(VisitKind.ACTIVATION, r)
    r.deck.fail_next("set_initial_pin", KioskError("the card said no"))
    run_scripted(ActivationFlow(admin_auth(), SETTINGS, "visit-2"),
                 [event(kind, **data) for kind, data in script], runner)
    assert r.store.interrupted() == []


def test_certificate_effects_need_a_token_that_makes_keys_and_wipe_the_pin() -> None:
    from kiosk.errors import TokenError
    from kiosk.ports import PinRole
    from kiosk.visit.effects import GenerateKeyPair

    r, runner = runner_for()
    r.insert(ANNA)
    opened = r.tokens.open

    class PlainToken:  # a Token's calls only: no key pairs
        def __init__(self) -> None:
            self.inner = opened()

        def __getattr__(self, name: str) -> object:
            if name in ("generate_key_pair", "card_keys", "set_signature_pin"):
                raise AttributeError(name)
            return getattr(self.inner, name)

    r.tokens.open = lambda reader=None: PlainToken()  # type: ignore[assignment,method-assign,misc]
    pin = Secret(NEW_PIN)
    outcome = runner.run(GenerateKeyPair(READER, PinRole.SIGNATURE, pin, b"\x01", "Underskrift"))
    # a token that is a plain Token: the runner refuses, never crashes
    assert isinstance(outcome, EffectFailed) and isinstance(outcome.error, TokenError)
    assert outcome.error.data["reason"] == "no_key_support"
    assert len(pin) == 0
