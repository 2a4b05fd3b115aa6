"""The core every visit runs on: routing by event class, the stage, effects in flight,
failures, retries and aborts.

A visit is this core composed with its parts, each owning its state, its routes and the
views of its stages: ``CardStep`` (kiosk/visit/card_step.py: the card and its record),
``PinEntry`` (pin_entry.py: the holder's PINs), ``DocumentStep`` (document_step.py: the
ID check), ``PortalTicket`` (ticket.py: the portal's ticket and credential) and
``ResultStep`` (result_step.py: the result, the receipt, DONE). ``route`` dispatches on the
event's class: first the events every stage shares (effect outcomes, idle timeout, card
removal, cancel, retry, PIN keys), then the visit's ``Transitions`` table, (stage, event
class) -> handler; an effect's outcome goes to the part whose effect it was. After the
visit has finished, every further event returns the final step again, with no effect.
Events a stage does not expect change nothing and run nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from kiosk.errors import (
    CardRemoved,
    KioskError,
    PortalRejected,
    VisitCancelled,
    VisitTimedOut,
)
from kiosk.model import (
    AdminAuthorisation,
    VisitKind,
)
from kiosk.settings import Settings
from kiosk.visit.card_step import CARD_STAGES, CardStep
from kiosk.visit.contract import ErrorView, Step, View, ViewName
from kiosk.visit.document_step import DocumentStep
from kiosk.visit.effects import (
    PIN_EFFECTS,
    ChangePin,
    Effect,
    EffectKind,
    PinEffect,
    SignReceipt,
    UnlockPin,
    VerifyPin,
    WritePin,
)
from kiosk.visit.errorview import can_retry, error_view
from kiosk.visit.events import (
    Cancel,
    CardIdentified,
    CardTakenOut,
    EffectFailed,
    Event,
    IdleTimeout,
    Outcome,
    PadStart,
    PinBack,
    PinClear,
    PinDigit,
    RecordFetched,
    ResultRecorded,
    ResultSynced,
    Retry,
)
from kiosk.visit.pin_entry import PAD_REFUSALS, PinEntry
from kiosk.visit.result_step import ResultStep
from kiosk.visit.stages import (
    DOCUMENT_STAGES,
    PIN_STAGES,
    USER_STAGES,
    Progress,
    Stage,
    Transitions,
    ended_message_key,
    present,
    step_of,
    with_step,
)
from kiosk.visit.ticket import PortalTicket

END_ACTIONS: tuple[str, ...] = ("home",)


ENDED_CARD_REMOVED_NEXT = "next.card_removed.ended"  # a removal that ended the visit


class VisitFlow:
    """A visit as a pure state machine; each visit adds its stages to ``transitions``."""

    kind: VisitKind = VisitKind.ACTIVATION
    needs_card_in_reader: bool = True

    def __init__(self, admin: AdminAuthorisation, settings: Settings, visit_id: str) -> None:
        self.admin = admin
        self.settings = settings
        self.visit_id = visit_id
        self.stage = Stage.INSERT_CARD
        self.progress = Progress.NOTHING
        self.now: datetime | None = None
        self.card = CardStep(settings.card_rules)
        self.pins = PinEntry(settings.pin_policy)
        self.document: DocumentStep | None = None  # the visits that check the holder's ID
        self.ticket = PortalTicket(admin.hsa_id, visit_id)  # stays empty if never started
        self.results = ResultStep()
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
                if self.pins.waiting(self.pending.values()):
                    return self.show(self.stage)  # the reader holds the PIN entry: cancel there
                return self.abort(VisitCancelled())
            case Retry() if self.stage is Stage.FAILED:
                return self.retry()
            case PinDigit() | PinBack() | PinClear() if self.stage in PIN_STAGES:
                if not self.pins.on_reader_pad:  # else the screen has no pad: nothing typed
                    self.pins.key(self.stage, event)
                return self.show(self.stage)
            case PadStart() if self.pins.on_reader_pad and self.stage in PIN_STAGES:
                return self.enter_pin_stage(self.stage)
        handler = self.transitions().get(self.stage, event)
        return handler(event) if handler is not None else self.show(self.stage)

    def transitions(self) -> Transitions:
        """The events each stage of this visit expects, and their handlers."""
        table = self.card.routes(Transitions(), self)
        return table if self.document is None else self.document.routes(table, self)

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
        """The view of ``stage`` with "Steg n av m" (params ``step``, ``steps``)."""
        view = self.stage_view(stage, error)
        shown_stage = self.failed_stage if stage is Stage.FAILED else stage
        return with_step(view, step_of(self.kind, shown_stage))

    def stage_view(self, stage: Stage, error: BaseException | None = None) -> View:
        """The view of ``stage`` from the flow's state (never a PIN, only its length)."""
        shown = error_view(error) if error is not None else None
        if stage in DOCUMENT_STAGES and self.document is not None:
            return self.document.view(stage, self.title(), self.card.record, self.today(), shown)
        if stage in CARD_STAGES:
            return self.card.view(
                stage, self.title(), self.kind, self.at(), shown, self.ticket.params()
            )
        if stage in PIN_STAGES:
            params = self.ticket.params()
            if stage is Stage.SIGN_RECEIPT:  # what the holder accepts, before they sign it
                params["receipt"] = dict(self.results.receipt_fields(self))
            return self.pins.view(
                stage, self.title(), params, shown,
                self.pins.waiting(self.pending.values()),
            )
        if stage is Stage.FAILED:
            return View(
                ViewName.ERROR,
                self.title(),
                f"visit.failed.{self.failed_stage.value if self.failed_stage else 'unknown'}",
                self.ticket.params(),
                shown or (error_view(self.error) if self.error else None),
                ("retry", "cancel"),
            )
        if stage is Stage.WRITING:
            return View(ViewName.WRITING_PIN, self.title(), "visit.working.writing_pin")
        return self.extra_view(stage, shown) or View(
            ViewName.WORKING,
            self.title(),
            f"visit.working.{stage.value}",
            {"what": stage.value},
            shown,
        )

    def extra_view(self, stage: Stage, error: ErrorView | None) -> View | None:
        """Views of stages only some visits have; None for a progress screen."""
        return None

    def today(self) -> date:
        """The date of the latest event."""
        return self.at().date()

    def at(self) -> datetime:
        """The time of the latest event (start() and handle() set it first)."""
        return present(self.now, "time")

    # --- endings ----------------------------------------------------------------------

    def end(self, view: View) -> Step:
        """Finish the visit with ``view``; secrets are wiped by ``handle``."""
        if view.name is not ViewName.ERROR and "step" not in view.params:
            view = with_step(view, step_of(self.kind, None))  # an outcome: the last step
        return Step(replace(view, actions=END_ACTIONS), finished=True)

    def abort(self, error: KioskError) -> Step:
        """End early, explaining what state the card is in and what to do next."""
        params = {
            "card_number": self.card.number, **self.ticket.params(), **self.results.reference()
        }
        shown = error_view(error)
        if isinstance(error, CardRemoved):
            # the visit is over: "insert it again and retry" would retry nothing
            shown = replace(shown, next_step=ENDED_CARD_REMOVED_NEXT)
        return self.end(
            View(
                ViewName.ERROR,
                self.title(),
                ended_message_key(self.kind, self.progress),
                params,
                shown,
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

    def wipe(self) -> None:
        """Forget every secret the visit held."""
        self.pins.wipe()
        self.ticket.wipe()
        self.failed_effects = ()
        self.pending.clear()

    # --- shared events ----------------------------------------------------------------

    def on_idle(self) -> Step:
        if self.pending:
            return self.show(self.stage)  # the outcome decides; the screen shows progress
        return self.abort(VisitTimedOut())

    def card_matters(self) -> bool:
        """Whether taking the card out now ends the visit."""
        if self.stage is Stage.INSERT_CARD and not self.card.inserted:
            return False
        return self.needs_card_in_reader and self.progress in (
            Progress.NOTHING,
            Progress.STARTED,
            Progress.WRITING,
            Progress.PIN_SET,
        )

    def on_card_removed(self) -> Step:
        early = self.stage in (Stage.INSERT_CARD, Stage.IDENTIFYING, Stage.FETCHING)
        if early and self.card.inserted and self.card.record is None:
            self.card.taken_out()
            self.card.number = None
            self.pending.clear()
            return self.show(Stage.INSERT_CARD, CardRemoved())
        if not self.card_matters():
            self.card.inserted = False  # DONE no longer asks to take it out
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
        """What to do with an effect's result; each visit matches its own effects first."""
        match outcome:
            case CardIdentified():
                self.pins.on_reader_pad = outcome.identity.pin_pad
                return self.card.identified(outcome.identity, self)
            case RecordFetched():
                return self.card.fetched(outcome.record, self)
            case ResultRecorded():
                return self.results.recorded(self)
            case ResultSynced():
                return self.results.done(self)
        return self.show(self.stage)

    def on_failure(self, effect: Effect, error: KioskError) -> Step:
        """Default mapping of an effect's failure through the error table, per effect."""
        step = self.card.failed(effect, error, self) or self.results.failed(effect, error, self)
        if step is not None:
            return step
        if isinstance(error, CardRemoved) and self.card_matters():
            return self.abort(error)
        pin_effect = isinstance(effect, PIN_EFFECTS)
        if pin_effect and self.progress is Progress.WRITING:
            # The card answered with a refusal: the write did not happen.
            self.progress = Progress.NOTHING if self.ticket.id is None else Progress.STARTED
        if self.pins.on_reader_pad and pin_effect and isinstance(error, PAD_REFUSALS):
            return self.show(self.stage, error)  # typed again on the reader: "pad_start"
        if can_retry(error) and not isinstance(error, PortalRejected):
            return self.fail(error, effect)
        return self.abort(error)

    # --- what the visit does next, after its parts ---------------------------------------

    def on_record_accepted(self) -> Step:
        """After the administrator reviewed the record: the visit's next stage."""
        raise NotImplementedError

    def on_document_accepted(self) -> Step:
        """After every check of the visit's ``DocumentStep`` passed: the next stage."""
        raise NotImplementedError

    # --- PINs: the card effects, from the PIN entry's buffers and the visit's state ------

    def enter_pin_stage(self, stage: Stage) -> Step:
        """Show a PIN stage; with the reader's own pad, start its card effect at once."""
        kind = self.pins.pad_effect(stage)
        if kind is None:
            return self.show(stage)
        if self.pins.waiting(self.pending.values()):
            return self.show(self.stage)
        if kind not in (SignReceipt, VerifyPin):  # those two change nothing on the card
            self.progress = Progress.WRITING  # from the first key on the reader, unknown
        return self.run(stage, self.pin_effect(kind))

    def pin_effect(self, kind: type[PinEffect]) -> PinEffect:
        """A card effect that needs secrets, built from the PIN entry's buffers (copies).

        With the reader's own pad, every PIN field is ON_READER_PAD (None): the reader
        asks the holder, and the PIN never reaches the kiosk.
        """
        pins = self.pins
        if issubclass(kind, WritePin | UnlockPin):
            credential = self.ticket.credential_copy()
            intent = self.ticket.write_intent(self.kind, self.card.number, self.at())
            return kind(self.card.reader, credential, pins.typed(pins.new), intent)
        if issubclass(kind, VerifyPin):
            return VerifyPin(self.card.reader, pins.typed(pins.current))
        if issubclass(kind, ChangePin):
            return ChangePin(self.card.reader, pins.typed(pins.current), pins.typed(pins.new))
        return SignReceipt(self.card.reader, pins.typed(pins.receipt), self.results.receipt(self))

    def on_pin_confirmed(self) -> Step:
        """After the new PIN was typed twice alike (``PinEntry.routes``): write it."""
        raise NotImplementedError
