"""Property tests: random event sequences never crash a flow, never show a PIN, end defined."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.demo_cast import demo_admins
from kiosk.errors import (
    CardRemoved,
    KioskError,
    NothingRead,
    PinLocked,
    PortalRejected,
    PortalUnreachable,
    StorageError,
    TokenError,
    WrongPin,
)
from kiosk.i18n import catalog
from kiosk.model import CardClass, CardIdentity, CardWork, DocumentType, VisitKind, VisitResult
from kiosk.pki import certificate_key
from kiosk.ports import ActivationTicket, CardKey, IssuedCertificate, KeyAlgorithm, PinRole
from kiosk.visit.admin_session import VISIT_FLOWS, KioskSession
from kiosk.visit.block import BLOCK_REASONS
from kiosk.visit.contract import Step, View, ViewName
from kiosk.visit.effects import (
    AdminSignIn,
    AuthoriseAdmin,
    BeginCardWork,
    BlockCard,
    ChangePin,
    DeleteKeyPair,
    Effect,
    FetchRecord,
    FindCardWork,
    GenerateKeyPair,
    IdentifyCard,
    InstallCertificate,
    IssueCertificate,
    ListIssued,
    ReadCardKeys,
    ReadCertificates,
    RecordResult,
    SetSignaturePin,
    SignedReceipt,
    SignProbe,
    SignReceipt,
    SignRequest,
    StartActivation,
    StartTicket,
    StartUnlock,
    SyncResult,
    UnlockPin,
    WritePin,
)
from kiosk.visit.events import (
    AdminAuthorised,
    AdminSignedIn,
    CardBlocked,
    CardIdentified,
    CardKeysRead,
    CardWorkBegun,
    CardWorkFound,
    CertificateInstalled,
    CertificateIssued,
    CertificatesRead,
    EffectFailed,
    Event,
    IssuedListed,
    KeyPairDeleted,
    KeyPairGenerated,
    Outcome,
    PinChanged,
    PinUnlocked,
    PinWritten,
    ProbeSigned,
    ReceiptSigned,
    RecordFetched,
    RequestSigned,
    ResultRecorded,
    ResultSynced,
    SignaturePinSet,
    TicketIssued,
    action_event,
)
from kiosk.visit.flow import VisitFlow
from kiosk.visit.secret import Secret
from tests.unit.visit.drive import CURRENT_PIN, NEW_PIN, Driver, event, happy_script, visit
from tests.unit.visit.rig import (
    READER,
    SETTINGS,
    T0,
    admin_auth,
    evidence_of,
    holder,
    record_of,
    rig,
)

SV, EN = catalog("sv"), catalog("en")
ANNA, EVA = holder("anna"), holder("eva")
SECRET_PIN = "364071"


def identity(number: str | None, card_class: CardClass = CardClass.SITHS) -> CardIdentity:
    return CardIdentity(READER, b"\x3b", card_class, "gen2", "SITHS", number)


ERRORS: list[KioskError] = [
    CardRemoved(), WrongPin(tries_left=1), PinLocked(), TokenError(), PortalUnreachable(),
    PortalRejected("nope"), StorageError(), NothingRead(), KioskError(),
]
EVIDENCE = [
    evidence_of(ANNA), evidence_of(EVA), evidence_of(holder("farid")),
    evidence_of(ANNA, doc_type=DocumentType.OTHER),
]
PLAIN_KINDS = [
    "card_inserted", "card_removed", "idle_timeout", "cancel", "retry", "continue", "home",
    "done", "confirm", "back", "pin_back", "pin_clear", "pin_submit", "document_manual",
    "document_scan", "document_confirmed", "sign_out", "admin_session_timeout", "teleport",
]
IDENTITIES = [
    identity(ANNA.card_number), identity(EVA.card_number), identity(ANNA.card_number),
    identity(EVA.card_number), identity(None), identity(ANNA.card_number, CardClass.FOREIGN),
]
TICKET = ActivationTicket("ACT-1", ANNA.card_number, "CRED-1", T0, T0 + timedelta(days=5))
RECORDS = {h.card_number: record_of(h) for h in (ANNA, EVA)}
RESULT = VisitResult(VisitKind.BLOCK, EVA.card_number, "SE-ADM1", "k1", T0, {})

# Effects nobody may be waiting for: their outcomes arrive stale or unasked.
STRAY_EFFECTS: list[Effect] = [
    IdentifyCard(READER), FetchRecord(ANNA.card_number), ReadCertificates(READER),
    AdminSignIn(READER, None), AuthoriseAdmin("SE-ADM1"),
    StartActivation(ANNA.card_number, "SE-ADM1", EVIDENCE[0], "k"),
    StartUnlock(EVA.card_number, "SE-ADM1", EVIDENCE[1], "k"),
    WritePin(READER, Secret("CRED-1"), None), UnlockPin(READER, Secret("CRED-1"), None),
    ChangePin(READER, None, None), SignReceipt(READER, None, b"r"),
    BlockCard(EVA.card_number, "SE-ADM1", "lost", "k"), RecordResult(RESULT), SyncResult(RESULT),
]


def outcome_for(effect: Effect, pick: int, fail: bool, number: str | None) -> Outcome:
    """A typed outcome of ``effect``: a failure, or one of the answers its port may give."""
    if fail:
        return EffectFailed(effect, ERRORS[pick % len(ERRORS)])
    match effect:
        case IdentifyCard():
            return CardIdentified(effect, IDENTITIES[pick % len(IDENTITIES)])
        case FetchRecord():
            records = [record_of(ANNA), record_of(EVA), record_of(holder("cecilia"))]
            record = records[pick % len(records)]
            if number in RECORDS and pick % 5:
                record = RECORDS[number]  # mostly the record of the card at hand
            return RecordFetched(effect, record)
        case ReadCertificates():
            return CertificatesRead(effect, (CAST_CERTIFICATES, ())[pick % 2])
        case AdminSignIn():
            return AdminSignedIn(effect, ADMIN_CERTIFICATE)
        case AuthoriseAdmin():
            return AdminAuthorised(effect, (admin_auth(), admin_auth(1))[pick % 2])
        case StartTicket():
            return TicketIssued(effect, TICKET)
        case WritePin():
            return PinWritten(effect)
        case UnlockPin():
            return PinUnlocked(effect)
        case ChangePin():
            return PinChanged(effect)
        case SignReceipt():
            return ReceiptSigned(effect, SignedReceipt(b"sig", b"cert"))
        case BlockCard():
            return CardBlocked(effect, record_of(EVA))
        case RecordResult():
            return ResultRecorded(effect, "outbox-1")
        case SyncResult():
            return ResultSynced(effect, (record_of(ANNA), None)[pick % 2])
    return key_outcome_for(effect, pick)


# Cards of the rig (hardware/sim's memory cards) for the answers: Eva's as the cast has
# it and the administrator's, and one whose certificates end in 60 days for the
# certificate effects' answers: some match what the flow asks for, some do not (another
# key, a broken certificate).
_RIG = rig()
CAST_CERTIFICATES = tuple(_RIG.insert(EVA, CURRENT_PIN).certificates())
ADMIN_CERTIFICATE = next(
    c for c in _RIG.card(demo_admins(T0.date())[0].card_number, None).certificates()
    if c.usage == "authentication"
)
KEY_CARD = _RIG.card(EVA, CURRENT_PIN, signature_pin="730284", signature_days=60,
                     authentication_days=60).certificates()
CARD_KEYS = [
    CardKey(c.key_id, "key", role, KeyAlgorithm.RSA_2048, certificate_key(c.der))
    for c, role in zip(KEY_CARD, (PinRole.AUTHENTICATION, PinRole.SIGNATURE), strict=True)
]
ISSUED = [
    IssuedCertificate(format(c.serial, "x"), EVA.card_number, c.usage, "hsa_id", c.subject,
                      c.issuer, c.not_before, c.not_after, 60, True, "valid", der)
    for c in KEY_CARD for der in (c.der, b"not a certificate")
]
del _RIG
WORK = CardWork("w1", "renew_certificates", EVA.card_number, "SE-ADM1", T0,
                {"jobs": '[{"slot": "s", "certificate_kind": "authentication", '
                         '"role": "authentication", "subject_id": "hsa_id", '
                         '"serial_number": "x", "old_key_id": "01"}]'})


def key_outcome_for(effect: Effect, pick: int) -> Outcome:
    """Answers to the certificate effects (kiosk.visit.card_keys)."""
    match effect:
        case ReadCardKeys():
            certificates = (tuple(KEY_CARD), ())[pick % 2]
            return CardKeysRead(effect, certificates, bool(pick % 3))
        case FindCardWork():
            return CardWorkFound(effect, (None, WORK)[pick % 2])
        case BeginCardWork():
            return CardWorkBegun(effect, (effect.work, WORK)[pick % 2])
        case ListIssued():
            return IssuedListed(effect, tuple(ISSUED[: pick % 3]))
        case SetSignaturePin():
            return SignaturePinSet(effect)
        case GenerateKeyPair():
            return KeyPairGenerated(effect, CARD_KEYS[pick % len(CARD_KEYS)])
        case SignRequest():
            return RequestSigned(effect, b"request")
        case IssueCertificate():
            return CertificateIssued(effect, ISSUED[pick % len(ISSUED)])
        case InstallCertificate():
            return CertificateInstalled(effect)
        case SignProbe():
            return ProbeSigned(effect, (b"garbage", b"")[pick % 2])
        case DeleteKeyPair():
            return KeyPairDeleted(effect)
    raise AssertionError(effect)


def answer(flow: Any, pick: int, fail: bool) -> Event | None:
    """An outcome for an effect the flow is waiting for (so random walks get deep)."""
    inner = getattr(flow, "visit", None) or flow
    pending = getattr(inner, "pending", None)
    waiting = [pending[k] for k in sorted(pending)] if isinstance(pending, dict) else (
        [pending] if pending else []
    )
    if not waiting:
        return None
    effect = waiting[pick % len(waiting)]
    return outcome_for(effect, pick, fail, getattr(inner, "card_number", None))


def event_strategy() -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    answers = st.tuples(
        st.just("answer"),
        st.fixed_dictionaries({"pick": st.integers(0, 20), "fail": st.booleans()}),
    )
    enabled = st.tuples(st.just("enabled"), st.integers(0, 50).map(lambda n: {"pick": n}))
    pin_typing = st.just(("pin_digit", {}))  # the digit comes from SECRET_PIN, in order
    return st.one_of(
        answers, answers, answers, answers, answers, enabled, enabled, enabled, enabled,
        pin_typing, pin_typing, pin_typing,
        st.just(("pin_submit", {})),
        st.tuples(st.sampled_from(PLAIN_KINDS), st.just({})),
        st.tuples(
            st.sampled_from(["document_scanned", "document_typed"]),
            st.sampled_from(EVIDENCE).map(lambda e: {"evidence": e}),
        ),
        st.tuples(st.just("document_confirmed"), st.fixed_dictionaries(
            {"photo": st.booleans(), "age": st.booleans()})),
        st.tuples(st.just("scan_failed"), st.sampled_from(ERRORS).map(lambda e: {"error": e})),
        st.tuples(st.just("card_number_typed"), st.sampled_from(
            [ANNA.card_number, EVA.card_number, "12", "", " 9752 2100 ", "x" * 30]
        ).map(lambda n: {"card_number": n})),
        st.tuples(st.just("block_reason"), st.sampled_from(
            ["lost", "stolen", "bored", ""]).map(lambda r: {"reason": r})),
        st.tuples(st.just("choose_visit"), st.sampled_from(
            [k.value for k in VisitKind]).map(lambda k: {"kind": k})),
        st.tuples(st.just("stray_outcome"), st.fixed_dictionaries({
            "pick": st.integers(0, 40), "fail": st.booleans(),
        })),
    )


def contains_secret(value: Any) -> bool:
    if isinstance(value, Secret):
        return True
    if isinstance(value, dict):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_secret(v) for v in value)
    return False


def check_view(view: View, pins: tuple[str, ...]) -> None:
    assert view.name in ViewName
    for key in (view.title, view.message):
        assert key is None or (key in SV and key in EN), key
    if view.error is not None:
        assert view.error.message in SV and view.error.next_step in SV, view.error
    assert not contains_secret(view.params)
    assert 0 <= view.pin_length <= SETTINGS.pin_policy.length
    for action in view.actions:  # every button reaches the flow as an event
        chosen = action in view.texts("choices")  # the CHOOSE screen sends Chosen(action)
        assert action_event(action) is not None or action in BLOCK_REASONS or chosen, action
    text = repr(view)
    for pin in pins:
        assert pin not in text


def check_step(step: Step, pins: tuple[str, ...]) -> None:
    check_view(step.view, pins)
    for effect in step.effects:
        for field in fields(effect):
            value = getattr(effect, field.name)
            if field.name in ("pin", "old_pin", "new_pin", "credential"):
                assert value is None or isinstance(value, Secret), (effect.kind, field.name)
            else:
                assert not contains_secret(value)
        for pin in pins:
            assert pin not in repr(effect)  # a VisitResult in record/sync carries no PIN


def wiped(flow: VisitFlow) -> bool:
    buffers = (flow.pins.current, flow.pins.new, flow.pins.confirmation, flow.pins.receipt)
    return all(len(b) == 0 for b in buffers) and flow.ticket.credential is None


def feed(flow: Any, events: list[tuple[str, dict[str, Any]]]) -> list[Step]:
    steps = [flow.start(T0)]
    typed = 0
    for i, (kind, data) in enumerate(events):
        item: Event | None = None
        if kind == "pin_digit":
            data = {"digit": SECRET_PIN[typed % len(SECRET_PIN)]}
            typed += 1
        elif kind == "answer":
            item = answer(flow, data["pick"], data["fail"] and data["pick"] % 4 == 0)
            if item is None and isinstance(flow, VisitFlow):  # nothing pending: go on
                kind, data = enabled_event(flow, data["pick"] + typed)
            elif item is None:
                kind, data = "teleport", {}
        elif kind == "stray_outcome":
            effect = STRAY_EFFECTS[data["pick"] % len(STRAY_EFFECTS)]
            item = outcome_for(effect, data["pick"], data["fail"], None)
        elif kind == "enabled" and isinstance(flow, VisitFlow):
            kind, data = enabled_event(flow, data["pick"])
        elif kind == "enabled":
            kind, data = "teleport", {}
        step = flow.handle(item or event(kind, **data), T0 + timedelta(seconds=i + 1))
        steps.append(step)
    return steps


FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(
    kind=st.sampled_from(list(VisitKind)),
    events=st.lists(event_strategy(), min_size=10, max_size=80),
)
def test_random_events_never_crash_a_visit_or_show_a_pin(
    kind: VisitKind, events: list[tuple[str, dict[str, Any]]]
) -> None:
    flow = VISIT_FLOWS[kind](admin_auth(), SETTINGS, "p1")
    steps = feed(flow, events)
    ended = False
    for step in steps:
        check_step(step, (SECRET_PIN,))
        if ended:
            assert step.finished and step.effects == ()
        ended = ended or step.finished
    if ended:
        assert wiped(flow)


@FAST
@given(events=st.lists(event_strategy(), min_size=10, max_size=80))
def test_random_events_never_crash_the_session(events: list[tuple[str, dict[str, Any]]]) -> None:
    session = KioskSession(SETTINGS, "s")
    for step in feed(session, events):
        check_step(step, (SECRET_PIN,))


def enabled_event(flow: VisitFlow, pick: int) -> tuple[str, dict[str, Any]]:
    """One of the events the flow's current stage has a transition for, with plausible data."""
    kinds = sorted(e.kind for stage, e in flow.transitions().routes() if stage is flow.stage)
    if not kinds:
        return ("retry", {}) if pick % 2 else ("pin_submit", {})
    kind = kinds[pick % len(kinds)]
    data: dict[str, Any] = {
        "card_inserted": {"reader": READER},
        "card_number_typed": {"card_number": (ANNA, EVA)[pick % 2].card_number},
        "document_scanned": {"evidence": EVIDENCE[pick % 4]},
        "document_typed": {"evidence": EVIDENCE[(pick + 1) % 4]},
        "scan_failed": {"error": NothingRead()},
        "document_confirmed": {"photo": pick % 5 != 0, "age": pick % 7 != 0},
        "block_reason": {"reason": ("lost", "stolen", "bored")[pick % 3]},
        "chosen": {"choice": ("replace", "remove", "Region Norrland (demo)", "bored")[pick % 4]},
    }.get(kind, {})
    return kind, data


NOISE = st.one_of(
    st.tuples(st.just("enabled"), st.integers(0, 50).map(lambda n: {"pick": n})),
    st.tuples(st.just("enabled"), st.integers(0, 50).map(lambda n: {"pick": n})),
    st.tuples(st.sampled_from(PLAIN_KINDS), st.just({})),
    st.tuples(st.just("pin_digit"), st.sampled_from("0123456789").map(lambda d: {"digit": d})),
    st.tuples(st.just("card_removed"), st.just({})),
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(list(VisitKind)),
    plan=st.lists(
        st.one_of(*[st.just(None)] * 8, NOISE, event_strategy()), min_size=20, max_size=70
    ),
    faults=st.sets(st.sampled_from(["portal_down", "store_failing", "token_error"])),
)
def test_realistic_runs_end_in_a_defined_view_after_an_idle_timeout(
    kind: VisitKind, plan: list[Any], faults: set[str]
) -> None:
    """Happy-path inputs (None) mixed with noise, effects run on the rig, faults switched on."""
    d: Driver = visit(kind)
    script = happy_script(kind, d.rig)
    d.rig.portal.down = "portal_down" in faults
    d.rig.fail_store("store_failing" in faults)
    if "token_error" in faults:
        d.rig.deck.fail_next("set_initial_pin", TokenError())
    position = 0
    for item in plan:
        if item is None:
            if position >= len(script):
                continue
            item = script[position]
            position += 1
        kind_, data = item
        if kind_ == "enabled":
            kind_, data = enabled_event(d.flow, data["pick"])
        if kind_ == "card_removed":
            d.rig.put(None)
        if kind_ in ("answer", "stray_outcome"):  # an outcome nobody waits for
            effect = STRAY_EFFECTS[data["pick"] % len(STRAY_EFFECTS)]
            d.send(outcome_for(effect, data["pick"], data["fail"], None))
            continue
        if kind_ == "pin_digit":
            data = {"digit": data.get("digit", "")}
        d.send(kind_, **data)
        if kind_ == "card_removed" and not d.step.finished:
            happy_script(kind, d.rig)  # put the card back for what follows
    d.send("idle_timeout")
    assert d.step.finished, d.view
    check_view(d.view, (NEW_PIN, CURRENT_PIN))
    assert d.view.actions == ("home",)
    for step in d.steps:
        check_step(step, (NEW_PIN, CURRENT_PIN))
    for result in d.rig.results().values():
        assert NEW_PIN not in repr(result) and CURRENT_PIN not in repr(result)
    assert wiped(d.flow)
    if d.view.name is ViewName.DONE:
        assert d.rig.results()  # DONE only after the result is durable


def test_a_done_card_record_is_never_reached_without_recording() -> None:
    # Sanity of the property's last line: a visit that fails to record never shows DONE.
    d = visit(VisitKind.CHANGE_PIN)
    script = happy_script(VisitKind.CHANGE_PIN, d.rig)
    d.rig.fail_store(True)
    d.inputs(script)
    d.send("idle_timeout")
    assert d.view.name is ViewName.ERROR and d.view.message == "visit.ended.complete"
    assert replace(d.view, params={}).error is not None
