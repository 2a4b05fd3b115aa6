"""The machinery every visit shares: stages, the PIN pad, effects in flight, aborts, results.

A visit dispatches on the event's class: ``route`` handles the events every stage shares
first (effect outcomes, idle timeout, card removal, cancel, retry, PIN keys), then its
``Transitions`` table, (stage, event class) -> handler, the ones a stage expects.
After the visit has finished, every further event returns the final step again, with no
effect. Events a stage does not expect change nothing and run nothing.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from kiosk.errors import (
    CardRemoved,
    InvalidInput,
    KioskError,
    PinEntryCancelled,
    PinMismatch,
    PinRuleViolation,
    PortalError,
    PortalRejected,
    VisitCancelled,
    VisitTimedOut,
)
from kiosk.i18n import DEFAULT_LANGUAGE, catalog
from kiosk.identity.personnummer import Personnummer, parse_personnummer
from kiosk.model import (
    AdminAuthorisation,
    CardIdentity,
    CardRecord,
    CardStatus,
    DocumentEvidence,
    VisitKind,
    VisitResult,
)
from kiosk.rules.card import (
    activation_deadline,
    card_refusal,
    completion_deadline,
    deadline_alert,
    hours_left,
    identity_refusal,
    next_deadline,
)
from kiosk.rules.document import DocumentCheck
from kiosk.rules.pin import broken_pin_rules
from kiosk.settings import Settings
from kiosk.visit.base import ErrorView, Step, View, ViewName
from kiosk.visit.effects import (
    PIN_EFFECTS,
    ChangePin,
    Effect,
    EffectKind,
    FetchRecord,
    IdentifyCard,
    PinEffect,
    RecordResult,
    SignReceipt,
    UnlockPin,
    WritePin,
)
from kiosk.visit.errorview import can_retry, error_view
from kiosk.visit.events import (
    Cancel,
    CardIdentified,
    CardInserted,
    CardNumberTyped,
    CardTakenOut,
    Continue,
    EffectFailed,
    Event,
    IdleTimeout,
    Outcome,
    PadStart,
    PinBack,
    PinClear,
    PinDigit,
    PinSubmit,
    RecordFetched,
    ResultRecorded,
    Retry,
)
from kiosk.visit.secret import PinBuffer, Secret

T = TypeVar("T")
E = TypeVar("E", bound=Event)


class Stage(StrEnum):
    """Where a visit is; several stages may share one screen."""

    INSERT_CARD = "insert_card"
    IDENTIFYING = "identifying"
    FETCHING = "fetching"
    CARD_RECORD = "card_record"
    DOCUMENT_SCAN = "document_scan"
    DOCUMENT_MANUAL = "document_manual"
    DOCUMENT_CONFIRM = "document_confirm"
    STARTING = "starting"
    PIN_CURRENT = "pin_current"
    PIN_CHOOSE = "pin_choose"
    PIN_CONFIRM = "pin_confirm"
    WRITING = "writing"
    SIGN_RECEIPT = "sign_receipt"
    SIGNING = "signing"
    REINSERT = "reinsert"  # the card left after the PIN was written: put it back to sign
    RECORDING = "recording"
    SYNCING = "syncing"
    READING = "reading"
    CARD_INFO = "card_info"
    BLOCK_REASON = "block_reason"
    BLOCK_CONFIRM = "block_confirm"
    BLOCKING = "blocking"
    FAILED = "failed"


class Progress(StrEnum):
    """What has changed outside the kiosk so far: decides what an abort must explain."""

    NOTHING = "nothing"  # card and portal untouched
    STARTED = "started"  # activation or unlock started at the portal
    WRITING = "writing"  # a PIN write is in flight: the card's PIN is unknown
    PIN_SET = "pin_set"  # the new PIN is on the card; the receipt is not signed
    COMPLETE = "complete"  # the card-side work is done; the result is not yet durable
    RECORDED = "recorded"  # the result is in the outbox


PIN_STAGES: dict[Stage, ViewName] = {
    Stage.PIN_CURRENT: ViewName.PIN_CURRENT,
    Stage.PIN_CHOOSE: ViewName.PIN_CHOOSE,
    Stage.PIN_CONFIRM: ViewName.PIN_CONFIRM,
    Stage.SIGN_RECEIPT: ViewName.SIGN_RECEIPT,
}

USER_STAGES: frozenset[Stage] = frozenset(
    {
        Stage.INSERT_CARD,
        Stage.CARD_RECORD,
        Stage.DOCUMENT_SCAN,
        Stage.DOCUMENT_MANUAL,
        Stage.DOCUMENT_CONFIRM,
        Stage.PIN_CURRENT,
        Stage.PIN_CHOOSE,
        Stage.PIN_CONFIRM,
        Stage.SIGN_RECEIPT,
        Stage.REINSERT,
        Stage.CARD_INFO,
        Stage.BLOCK_REASON,
        Stage.BLOCK_CONFIRM,
        Stage.FAILED,
    }
)

END_ACTIONS: tuple[str, ...] = ("home",)

# What the reader's own PIN pad refuses before the card is touched: typed again there.
PAD_REFUSALS: tuple[type[KioskError], ...] = (PinEntryCancelled, PinMismatch, PinRuleViolation)


def ended_message_key(kind: VisitKind, progress: Progress) -> str:
    """The key explaining the card's state after a visit ended early (kind-specific first)."""
    specific = f"visit.ended.{kind.value}.{progress.value}"
    return specific if specific in catalog(DEFAULT_LANGUAGE) else f"visit.ended.{progress.value}"


def present(value: T | None, what: str) -> T:
    """``value`` if it is there; a KioskError (shown, never a crash) if a step came too early."""
    if value is None:
        raise KioskError(f"{what} is not known yet", missing=what)
    return value


class Transitions:
    """A visit's table: (stage, event class) -> handler of that event class, typed."""

    def __init__(self) -> None:
        self._table: dict[tuple[Stage, type[Event]], Callable[[Event], Step]] = {}

    def on(
        self, stages: Stage | Iterable[Stage], event: type[E], handler: Callable[[E], Step]
    ) -> Transitions:
        """Route ``event`` in ``stages`` to ``handler`` (replacing an earlier route)."""

        def run(received: Event) -> Step:
            if not isinstance(received, event):  # get() looks up by the exact class
                raise TypeError(f"{type(received).__name__} routed as {event.__name__}")
            return handler(received)

        for stage in (stages,) if isinstance(stages, Stage) else stages:
            self._table[(stage, event)] = run
        return self

    def get(self, stage: Stage, event: Event) -> Callable[[Event], Step] | None:
        """The handler for ``event`` in ``stage``; None if that stage does not expect it."""
        return self._table.get((stage, type(event)))

    def routes(self) -> set[tuple[Stage, type[Event]]]:
        """Every (stage, event class) the table routes."""
        return set(self._table)


class VisitFlow:
    """A visit as a pure state machine; subclasses add their stages to ``transitions``."""

    kind: VisitKind = VisitKind.ACTIVATION
    needs_card_in_reader: bool = True

    def __init__(self, admin: AdminAuthorisation, settings: Settings, visit_id: str) -> None:
        self.admin = admin
        self.settings = settings
        self.visit_id = visit_id
        self.stage = Stage.INSERT_CARD
        self.progress = Progress.NOTHING
        self.now: datetime | None = None
        self.reader: str | None = None
        self.card_in = False
        self.pin_pad = False  # PINs are typed on the reader's own pad, not on the screen
        self.identity: CardIdentity | None = None
        self.card_number: str | None = None
        self.record: CardRecord | None = None
        self.evidence: DocumentEvidence | None = None
        self.checks: list[DocumentCheck] = []
        self.activation_id: str | None = None
        self.deadline: datetime | None = None
        self.credential: Secret | None = None
        self.result: VisitResult | None = None
        length = settings.pin_policy.length
        self.current_pin = PinBuffer(length)
        self.new_pin = PinBuffer(length)
        self.confirm_pin = PinBuffer(length)
        self.receipt_pin = PinBuffer(length)
        self.pending: dict[EffectKind, Effect] = {}
        self.failed_effects: tuple[Effect, ...] = ()
        self.failed_stage: Stage | None = None
        self.error: KioskError | None = None
        self.final: Step | None = None

    # --- the Flow protocol ------------------------------------------------------------

    def start(self, at: datetime) -> Step:
        """The first step: ask for the card."""
        self.now = at
        return self.show(Stage.INSERT_CARD)

    def handle(self, event: Event, at: datetime) -> Step:
        """The next step after ``event`` (at ``at``); after the end, the final step again."""
        if self.final is not None:
            return replace(self.final, effects=())
        self.now = at
        try:
            step = self.route(event)
        except KioskError as error:
            step = self.show(self.stage, error)
        if step.finished:
            self.final = step
            self.wipe()
        return step

    @property
    def finished(self) -> bool:
        """Whether the visit has ended."""
        return self.final is not None

    # --- routing ------------------------------------------------------------------------

    def route(self, event: Event) -> Step:
        match event:
            case Outcome():
                return self.on_outcome(event)
            case IdleTimeout():
                return self.on_idle()
            case CardTakenOut():
                return self.on_card_removed()
            case Cancel() if self.stage in USER_STAGES:
                if self.waiting_for_pad():
                    return self.show(self.stage)  # the reader holds the PIN entry: cancel there
                return self.abort(VisitCancelled())
            case Retry() if self.stage is Stage.FAILED:
                return self.retry()
            case PinDigit() | PinBack() | PinClear() if self.stage in PIN_STAGES:
                if self.pin_pad:
                    return self.show(self.stage)  # the screen has no pad: nothing is typed here
                return self.on_pin_key(event)
            case PadStart() if self.pin_pad and self.stage in PIN_STAGES:
                return self.enter_pin_stage(self.stage)
        handler = self.transitions().get(self.stage, event)
        return handler(event) if handler is not None else self.show(self.stage)

    def transitions(self) -> Transitions:
        """The events each stage of this visit expects, and their handlers."""
        return (
            Transitions()
            .on(Stage.INSERT_CARD, CardInserted, self.on_card_inserted)
            .on(Stage.INSERT_CARD, CardNumberTyped, self.on_card_number_typed)
            .on(Stage.CARD_RECORD, Continue, lambda _: self.on_record_accepted())
        )

    # --- views --------------------------------------------------------------------------

    def title(self) -> str:
        """The visit's title key."""
        return f"visit.title.{self.kind.value}"

    def show(self, stage: Stage, error: BaseException | None = None) -> Step:
        """Enter ``stage`` (no effects) and show it, with ``error`` if given."""
        self.stage = stage
        return Step(self.view(stage, error))

    def run(self, stage: Stage, *effects: Effect) -> Step:
        """Enter a working ``stage`` and ask the shell for ``effects``."""
        self.stage = stage
        for effect in effects:
            self.pending[effect.kind] = effect
        return Step(self.view(stage), effects)

    def view(self, stage: Stage, error: BaseException | None = None) -> View:
        """The view of ``stage`` from the flow's state (never a PIN, only its length)."""
        shown_error = error_view(error) if error is not None else None
        if stage in PIN_STAGES and self.pin_pad:
            return self.pad_view(stage, shown_error)
        if stage in PIN_STAGES:
            return View(
                PIN_STAGES[stage],
                self.title(),
                f"visit.pin.{stage.value}",
                {"length": self.settings.pin_policy.length, **self.deadline_params()},
                shown_error,
                ("cancel",),
                pin_length=len(self.buffer_for(stage)),
            )
        if stage is Stage.INSERT_CARD:
            need_number = self.identity is not None and not self.card_number
            return View(
                ViewName.INSERT_CARD,
                self.title(),
                "visit.insert.type_number" if need_number else f"visit.insert.{self.kind.value}",
                {"need_card_number": need_number, "can_type_number": self.can_type_number()},
                shown_error,
                ("cancel",),
            )
        if stage is Stage.REINSERT:
            return View(
                ViewName.INSERT_CARD,
                self.title(),
                "visit.insert.reinsert_to_sign",
                {"need_card_number": False, "can_type_number": False, **self.deadline_params()},
                shown_error,
                ("cancel",),
            )
        if stage is Stage.CARD_RECORD:
            return View(
                ViewName.CARD_RECORD,
                self.title(),
                "visit.record.review",
                self.record_params(),
                shown_error,
                ("continue", "cancel"),
            )
        if stage is Stage.FAILED:
            return View(
                ViewName.ERROR,
                self.title(),
                f"visit.failed.{self.failed_stage.value if self.failed_stage else 'unknown'}",
                self.deadline_params(),
                shown_error or (error_view(self.error) if self.error else None),
                ("retry", "cancel"),
            )
        if stage is Stage.WRITING:
            return View(ViewName.WRITING_PIN, self.title(), "visit.working.writing_pin")
        return self.extra_view(stage, shown_error) or View(
            ViewName.WORKING,
            self.title(),
            f"visit.working.{stage.value}",
            {"what": stage.value},
            shown_error,
        )

    def pad_view(self, stage: Stage, error: ErrorView | None) -> View:
        """A PIN stage when the reader's own pad takes the PIN: what to type there."""
        waiting = self.waiting_for_pad()
        return View(
            PIN_STAGES[stage],
            self.title(),
            f"visit.pin.pad.{self.pad_message(stage)}",
            {
                "length": self.settings.pin_policy.length,
                "pin_pad": True,
                "waiting": waiting,
                **self.deadline_params(),
            },
            error,
            () if waiting else ("pad_start", "cancel"),
        )

    def extra_view(self, stage: Stage, error: ErrorView | None) -> View | None:
        """Views of stages only some visits have; None for a progress screen."""
        return None

    def can_type_number(self) -> bool:
        """Whether the card number may be typed instead of read (only once a card is in)."""
        return self.identity is not None

    def record_params(self) -> dict[str, Any]:
        """The card record's facts for the screen (personnummer masked)."""
        record = self.record
        if record is None:
            return {"card_number": self.card_number}
        rules = self.settings.card_rules
        params: dict[str, Any] = {
            "card_number": record.card_number,
            "holder_name": record.holder_name,
            "personnummer": self.holder_personnummer_masked(),
            "hsa_id": record.hsa_id,
            "status": record.status.value,
            "kind": record.kind.value,
            "issuer": record.issuer,
            "trust_level": int(record.trust_level),
            "manufactured": record.manufactured.isoformat(),
            "valid_until": record.valid_until.isoformat() if record.valid_until else None,
            "activation_deadline": activation_deadline(record, rules).isoformat(),
        }
        finish = completion_deadline(record, rules)
        params["completion_deadline"] = finish.isoformat(timespec="minutes") if finish else None
        if self.now is not None and record.status is CardStatus.SENT:
            deadline = next_deadline(record, self.now, rules)
            params["hours_left"] = round(hours_left(deadline, self.now))
            params["deadline_alert"] = deadline_alert(record, self.now, rules)
        return params

    def deadline_params(self) -> dict[str, Any]:
        """The completion deadline of a started activation, for explanations."""
        return {"deadline": self.deadline.isoformat(timespec="minutes")} if self.deadline else {}

    def holder_personnummer(self) -> Personnummer | None:
        """The holder's parsed personnummer from the record, if it parses."""
        if self.record is None:
            return None
        try:
            return parse_personnummer(self.record.personnummer, on=self.today())
        except InvalidInput:
            return None

    def holder_personnummer_masked(self) -> str | None:
        """The holder's personnummer with the last four digits hidden."""
        parsed = self.holder_personnummer()
        return parsed.masked() if parsed else None

    def today(self) -> date:
        """The date of the latest event."""
        return self.at().date()

    def at(self) -> datetime:
        """The time of the latest event (start() and handle() set it first)."""
        return present(self.now, "time")

    # --- endings ----------------------------------------------------------------------

    def end(self, view: View) -> Step:
        """Finish the visit with ``view``; buffers are wiped by ``handle``."""
        return Step(replace(view, actions=END_ACTIONS), finished=True)

    def abort(self, error: KioskError) -> Step:
        """End early, explaining what state the card is in and what to do next."""
        params = {"card_number": self.card_number, **self.deadline_params()}
        if self.result is not None:
            params["reference"] = self.result.idempotency_key
        return self.end(
            View(
                ViewName.ERROR,
                self.title(),
                ended_message_key(self.kind, self.progress),
                params,
                error_view(error),
            )
        )

    def fail(self, error: KioskError, *effects: Effect) -> Step:
        """Show ``error`` with retry/cancel; retry runs ``effects`` again."""
        self.failed_stage = self.stage
        self.failed_effects = effects
        self.error = error
        return self.show(Stage.FAILED, error)

    def retry(self) -> Step:
        """Run the failed effects again from the stage they failed in."""
        stage = self.failed_stage or Stage.INSERT_CARD
        effects = tuple(self.fresh(e) for e in self.failed_effects)
        self.error = None
        self.failed_effects = ()
        return self.run(stage, *effects)

    def fresh(self, effect: Effect) -> Effect:
        """The effect with fresh copies of its secrets (the runner wiped the old ones)."""
        if isinstance(effect, PIN_EFFECTS):
            return self.pin_effect(type(effect))
        return effect

    def pin_effect(self, kind: type[PinEffect]) -> PinEffect:
        """A card effect that needs secrets, built from the flow's buffers (copies).

        With the reader's own pad, every PIN argument is ON_READER_PAD (None): the reader
        asks the holder, and the PIN never reaches the kiosk.
        """
        pad = self.pin_pad

        def pin(buffer: PinBuffer) -> Secret | None:
            return None if pad else buffer.copy()

        if issubclass(kind, WritePin | UnlockPin):
            credential = present(self.credential, "credential").copy()
            return kind(self.reader, credential, pin(self.new_pin))
        if issubclass(kind, ChangePin):
            return ChangePin(self.reader, pin(self.current_pin), pin(self.new_pin))
        return SignReceipt(self.reader, pin(self.receipt_pin), self.receipt_bytes())

    def receipt_bytes(self) -> bytes:
        """The receipt (kvittens) the holder signs: card, activation, holder, time."""
        holder = self.record.hsa_id if self.record else ""
        stamp = self.deadline.isoformat() if self.deadline else ""
        text = (
            "SITHS kvittens / receipt\n"
            f"card={self.card_number}\nactivation={self.activation_id}\n"
            f"holder={holder}\nadmin={self.admin.hsa_id}\ndeadline={stamp}\n"
        )
        return text.encode("utf-8")

    def wipe(self) -> None:
        """Forget every secret the visit held."""
        for buffer in (self.current_pin, self.new_pin, self.confirm_pin, self.receipt_pin):
            buffer.wipe()
        if self.credential is not None:
            self.credential.wipe()
            self.credential = None
        self.failed_effects = ()
        self.pending.clear()

    # --- shared events ----------------------------------------------------------------

    def on_idle(self) -> Step:
        if self.pending:
            return self.show(self.stage)  # the outcome decides; the screen shows progress
        return self.abort(VisitTimedOut())

    def card_matters(self) -> bool:
        """Whether taking the card out now ends the visit."""
        if self.stage is Stage.INSERT_CARD and not self.card_in:
            return False
        return self.needs_card_in_reader and self.progress in (
            Progress.NOTHING,
            Progress.STARTED,
            Progress.WRITING,
            Progress.PIN_SET,
        )

    def on_card_removed(self) -> Step:
        early = self.stage in (Stage.INSERT_CARD, Stage.IDENTIFYING, Stage.FETCHING)
        if early and self.card_in and self.record is None:
            self.card_in = False
            self.reader = None
            self.identity = None
            self.card_number = None
            self.pending.clear()
            return self.show(Stage.INSERT_CARD, CardRemoved())
        if not self.card_matters():
            return self.show(self.stage)
        return self.abort(CardRemoved())

    def on_outcome(self, outcome: Outcome) -> Step:
        effect = self.pending.pop(outcome.effect.kind, None)
        if effect is None:
            return self.show(self.stage)  # stale or unknown: nothing waits for it
        if isinstance(outcome, EffectFailed):
            return self.on_failure(effect, outcome.error)
        return self.on_success(outcome)

    def on_success(self, outcome: Outcome) -> Step:
        """What to do with an effect's result; subclasses match their own effects first."""
        match outcome:
            case CardIdentified():
                return self.on_identified(outcome.identity)
            case RecordFetched():
                return self.on_record(outcome.record)
            case ResultRecorded():
                return self.on_recorded()
        return self.show(self.stage)

    def on_failure(self, effect: Effect, error: KioskError) -> Step:
        """Default mapping of an effect's failure through the error table, per effect."""
        if isinstance(effect, IdentifyCard):
            self.card_in = False
            self.reader = None
            self.identity = None
            return self.show(Stage.INSERT_CARD, error)
        if isinstance(effect, FetchRecord):
            if isinstance(error, PortalRejected) or not can_retry(error):
                return self.abort(error)
            return self.fail(error, effect)
        if isinstance(effect, RecordResult):
            return self.fail(error, effect)  # never DONE before the result is durable
        if isinstance(error, CardRemoved) and self.card_matters():
            return self.abort(error)
        pin_effect = isinstance(effect, PIN_EFFECTS)
        if pin_effect and self.progress is Progress.WRITING:
            # The card answered with a refusal: the write did not happen.
            self.progress = Progress.NOTHING if self.activation_id is None else Progress.STARTED
        if self.pin_pad and pin_effect and isinstance(error, PAD_REFUSALS):
            return self.show(self.stage, error)  # typed again on the reader: "pad_start"
        if can_retry(error) and not isinstance(error, PortalRejected):
            return self.fail(error, effect)
        return self.abort(error)

    # --- the card ---------------------------------------------------------------------

    def on_card_inserted(self, event: CardInserted) -> Step:
        self.reader = event.reader
        self.card_in = True
        return self.run(Stage.IDENTIFYING, IdentifyCard(self.reader))

    def on_card_number_typed(self, event: CardNumberTyped) -> Step:
        if not self.can_type_number():
            return self.show(self.stage)
        number = "".join(event.card_number.split())
        if not (number.isascii() and number.isdigit() and 8 <= len(number) <= 20):
            raise InvalidInput("a card number has 8 to 20 digits", field="card_number")
        self.card_number = number
        return self.fetch(number)

    def fetch(self, card_number: str) -> Step:
        return self.run(Stage.FETCHING, FetchRecord(card_number))

    def on_identified(self, identity: CardIdentity) -> Step:
        self.identity = identity
        self.pin_pad = identity.pin_pad
        refused = identity_refusal(identity)
        if refused is not None:
            return self.refuse(refused)
        if identity.card_number:
            self.card_number = identity.card_number
            return self.fetch(identity.card_number)
        return self.show(Stage.INSERT_CARD)  # the number is on the back: type it

    def on_record(self, record: CardRecord) -> Step:
        self.record = record
        refused = card_refusal(
            self.identity, record, self.at(), self.settings.card_rules, self.kind
        )
        if refused is not None:
            return self.refuse(refused)
        return self.show(Stage.CARD_RECORD)

    def refuse(self, error: KioskError) -> Step:
        """End on the card record screen with the refusal's reason and next step."""
        return self.end(
            View(
                ViewName.CARD_RECORD,
                self.title(),
                "visit.record.refused",
                self.record_params(),
                error_view(error),
            )
        )

    def on_record_accepted(self) -> Step:
        """After the administrator reviewed the record: the visit's next stage."""
        raise NotImplementedError

    # --- the PIN pad --------------------------------------------------------------------

    def buffer_for(self, stage: Stage) -> PinBuffer:
        return {
            Stage.PIN_CURRENT: self.current_pin,
            Stage.PIN_CHOOSE: self.new_pin,
            Stage.PIN_CONFIRM: self.confirm_pin,
            Stage.SIGN_RECEIPT: self.receipt_pin,
        }[stage]

    def pad_effects(self) -> dict[Stage, type[PinEffect]]:
        """With the reader's own pad: the card effect that each PIN stage runs at once."""
        return {}

    def pad_message(self, stage: Stage) -> str:
        """What the reader's pad asks for in ``stage``: its effect's name, else the stage's."""
        effect = self.pad_effects().get(stage)
        return effect.kind.value if effect is not None else stage.value

    def waiting_for_pad(self) -> bool:
        """Whether the reader's own pad is asking the holder for a PIN now."""
        return self.pin_pad and any(isinstance(e, PIN_EFFECTS) for e in self.pending.values())

    def enter_pin_stage(self, stage: Stage) -> Step:
        """Show a PIN stage; with the reader's own pad, start its card effect at once."""
        kind = self.pad_effects().get(stage) if self.pin_pad else None
        if kind is None:
            return self.show(stage)
        if self.waiting_for_pad():
            return self.show(self.stage)
        if kind is not SignReceipt:
            self.progress = Progress.WRITING  # from the first key on the reader, unknown
        return self.run(stage, self.pin_effect(kind))

    def on_pin_key(self, event: PinDigit | PinBack | PinClear) -> Step:
        buffer = self.buffer_for(self.stage)
        match event:
            case PinDigit():
                buffer.add(event.digit)
            case PinBack():
                buffer.back()
            case PinClear():
                buffer.clear()
        return self.show(self.stage)

    def require_full(self, buffer: PinBuffer) -> None:
        """Raise the PIN policy's length rule unless the buffer holds a whole PIN."""
        if len(buffer) != self.settings.pin_policy.length:
            raise PinRuleViolation("length", length=self.settings.pin_policy.length)

    def on_new_pin_submitted(self) -> Step:
        self.require_full(self.new_pin)
        broken = broken_pin_rules(
            self.new_pin.reveal(), self.settings.pin_policy, self.holder_personnummer()
        )
        if not broken and self.current_pin and self.current_pin.same_as(self.new_pin):
            broken = ["same_as_current"]
        if broken:
            self.new_pin.clear()
            raise PinRuleViolation(
                broken[0], length=self.settings.pin_policy.length, broken=tuple(broken)
            )
        self.confirm_pin.clear()
        return self.show(Stage.PIN_CONFIRM)

    def on_confirm_submitted(self) -> Step:
        self.require_full(self.confirm_pin)
        if not self.confirm_pin.same_as(self.new_pin):
            self.new_pin.clear()
            self.confirm_pin.clear()
            return self.show(Stage.PIN_CHOOSE, PinMismatch())
        self.confirm_pin.clear()
        return self.on_pin_confirmed()

    def on_pin_confirmed(self) -> Step:
        """After the new PIN was typed twice alike: write it."""
        raise NotImplementedError

    def with_pin_choice(self, table: Transitions) -> Transitions:
        """``table`` with choosing and confirming a new PIN, for the visits that set one."""
        return table.on(Stage.PIN_CHOOSE, PinSubmit, lambda _: self.on_new_pin_submitted()).on(
            Stage.PIN_CONFIRM, PinSubmit, lambda _: self.on_confirm_submitted()
        )

    # --- the result ---------------------------------------------------------------------

    def make_result(self, key_suffix: str, payload: dict[str, str]) -> VisitResult:
        """The visit's outcome for the outbox (never a PIN or credential)."""
        return VisitResult(
            kind=self.kind,
            card_number=present(self.card_number, "card number"),
            admin_hsa_id=self.admin.hsa_id,
            idempotency_key=f"{self.visit_id}:{key_suffix}",
            finished_at=self.at(),
            payload={"visit_id": self.visit_id, **payload},
            deadline=self.deadline,
        )

    def record_result(self, result: VisitResult) -> Step:
        """Make the outcome durable before anyone is told it is done."""
        self.result = result
        if self.progress is not Progress.RECORDED:
            self.progress = Progress.COMPLETE
        return self.run(Stage.RECORDING, RecordResult(result))

    def on_recorded(self) -> Step:
        self.progress = Progress.RECORDED
        return self.done()

    def done(self, message: str | None = None, error: KioskError | None = None) -> Step:
        """The DONE screen: the outcome and what happens next."""
        params: dict[str, Any] = {"card_number": self.card_number, **self.deadline_params()}
        if self.result is not None:
            params["reference"] = self.result.idempotency_key
        return self.end(
            View(
                ViewName.DONE,
                self.title(),
                message or f"visit.done.{self.kind.value}",
                params,
                error_view(error) if error else None,
            )
        )

    def sync_failed_message(self, error: KioskError) -> tuple[str, KioskError | None]:
        """A sync failure after recording: queued if the portal was unreachable."""
        if isinstance(error, PortalRejected):
            return f"visit.done.{self.kind.value}.rejected", error
        if isinstance(error, PortalError):
            return f"visit.done.{self.kind.value}.queued", None
        return f"visit.done.{self.kind.value}.queued", None


def b64(data: bytes) -> str:
    """Bytes as base64 text for a result payload."""
    return base64.b64encode(data).decode("ascii")
