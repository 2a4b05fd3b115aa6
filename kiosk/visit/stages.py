"""Where a visit can be, what has changed outside the kiosk, and what each stage expects.

``Stage`` names a visit's place (several stages may share one screen), ``Progress`` what
an abort must explain, and ``Transitions`` a visit's table: (stage, event class) ->
the handler of that event class, built per visit from the parts it is composed of.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from enum import StrEnum
from typing import TypeVar

from kiosk.errors import KioskError
from kiosk.i18n import DEFAULT_LANGUAGE, catalog
from kiosk.model import VisitKind
from kiosk.visit.contract import Step, View, ViewName
from kiosk.visit.events import Event

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
    # key pairs and certificates on the card (signature certificate, renewal)
    LOGGING_IN = "logging_in"  # the PIN typed is checked on the card (a login, a test signature)
    PIN_SIGNATURE = "pin_signature"  # the holder types the current signature PIN
    PREPARING = "preparing"  # the card work (key ids, idempotency keys) is made durable
    GENERATING = "generating"
    REQUESTING = "requesting"
    ISSUING = "issuing"
    INSTALLING = "installing"
    TESTING = "testing"
    REMOVING_OLD = "removing_old"
    # the additional certificate (tilläggscertifikat)
    ADDITIONAL_PRESENT = "additional_present"  # one is on the card: replace it or remove it
    CHOOSE_ORGANISATION = "choose_organisation"
    FAILED = "failed"


class Progress(StrEnum):
    """What has changed outside the kiosk so far: decides what an abort must explain."""

    NOTHING = "nothing"  # card and portal untouched
    STARTED = "started"  # activation or unlock started at the portal
    WRITING = "writing"  # a PIN write is in flight: the card's PIN is unknown
    PIN_SET = "pin_set"  # the new PIN is on the card; the receipt is not signed
    COMPLETE = "complete"  # the card-side work is done; the result is not yet durable
    RECORDED = "recorded"  # the result is in the outbox


_CARD = (Stage.INSERT_CARD, Stage.IDENTIFYING, Stage.FETCHING)
_DOCUMENT = (Stage.DOCUMENT_SCAN, Stage.DOCUMENT_MANUAL, Stage.DOCUMENT_CONFIRM)
_RESULT = (Stage.RECORDING, Stage.SYNCING)

# "Steg n av m" (issue 12.3): each visit's steps as the people at the counter see them,
# and the stages each one covers. DONE is the last step; FAILED keeps the step it failed in.
VISIT_STEPS: dict[VisitKind, tuple[tuple[Stage, ...], ...]] = {
    VisitKind.ACTIVATION: (
        _CARD, (Stage.CARD_RECORD,), _DOCUMENT,
        (Stage.STARTING, Stage.PIN_CHOOSE, Stage.PIN_CONFIRM, Stage.WRITING),
        (Stage.SIGN_RECEIPT, Stage.SIGNING, Stage.REINSERT), _RESULT,
    ),
    VisitKind.UNLOCK: (
        _CARD, (Stage.CARD_RECORD,), _DOCUMENT,
        (Stage.STARTING, Stage.PIN_CHOOSE, Stage.PIN_CONFIRM, Stage.WRITING), _RESULT,
    ),
    VisitKind.CHANGE_PIN: (
        _CARD, (Stage.CARD_RECORD,),
        (Stage.PIN_CURRENT, Stage.LOGGING_IN, Stage.PIN_CHOOSE, Stage.PIN_CONFIRM,
         Stage.WRITING),
        _RESULT,
    ),
    VisitKind.CARD_CHECK: (_CARD, (Stage.READING, Stage.CARD_INFO)),
    VisitKind.BLOCK: (
        _CARD, (Stage.CARD_RECORD, Stage.BLOCK_REASON),
        (Stage.BLOCK_CONFIRM, Stage.BLOCKING, *_RESULT),
    ),
    VisitKind.PIN_LETTER: (_CARD, (Stage.CARD_RECORD,), (*_DOCUMENT, Stage.STARTING), _RESULT),
    VisitKind.SIGNATURE_CERTIFICATE: (
        (*_CARD, Stage.READING), (Stage.CARD_RECORD,), (*_DOCUMENT, Stage.STARTING),
        (Stage.PIN_CURRENT, Stage.LOGGING_IN, Stage.PIN_CHOOSE, Stage.PIN_CONFIRM),
        (Stage.PREPARING, Stage.WRITING, Stage.GENERATING, Stage.REQUESTING, Stage.ISSUING,
         Stage.INSTALLING, Stage.TESTING),
        _RESULT,
    ),
    VisitKind.RENEW_CERTIFICATES: (
        (*_CARD, Stage.READING), (Stage.CARD_RECORD,),
        (Stage.PIN_CURRENT, Stage.LOGGING_IN, Stage.PIN_SIGNATURE),
        (Stage.PREPARING, Stage.GENERATING, Stage.REQUESTING, Stage.ISSUING, Stage.INSTALLING,
         Stage.TESTING),
        (Stage.REMOVING_OLD,), _RESULT,
    ),
    VisitKind.ADDITIONAL_CERTIFICATE: (
        (*_CARD, Stage.READING), (Stage.CARD_RECORD,), _DOCUMENT,
        (Stage.ADDITIONAL_PRESENT, Stage.CHOOSE_ORGANISATION),
        (Stage.PIN_CURRENT, Stage.LOGGING_IN),
        (Stage.PREPARING, Stage.GENERATING, Stage.REQUESTING, Stage.ISSUING, Stage.INSTALLING,
         Stage.TESTING, Stage.REMOVING_OLD),
        _RESULT,
    ),
}


def step_of(kind: VisitKind, stage: Stage | None) -> tuple[int, int] | None:
    """(n, m) for "Steg n av m" at ``stage``; ``None`` stage = the last step (DONE)."""
    steps = VISIT_STEPS.get(kind, ())
    if not steps:
        return None
    if stage is None:
        return len(steps), len(steps)
    for number, stages in enumerate(steps, start=1):
        if stage in stages:
            return number, len(steps)
    return None


def with_step(view: View, step: tuple[int, int] | None) -> View:
    """``view`` with "Steg n av m" in its params (screens show it under the title)."""
    if step is None:
        return view
    return replace(view, params={**view.params, "step": step[0], "steps": step[1]})


PIN_STAGES: dict[Stage, ViewName] = {
    Stage.PIN_CURRENT: ViewName.PIN_CURRENT,
    Stage.PIN_SIGNATURE: ViewName.PIN_CURRENT,
    Stage.PIN_CHOOSE: ViewName.PIN_CHOOSE,
    Stage.PIN_CONFIRM: ViewName.PIN_CONFIRM,
    Stage.SIGN_RECEIPT: ViewName.SIGN_RECEIPT,
}

DOCUMENT_STAGES: dict[Stage, ViewName] = {
    Stage.DOCUMENT_SCAN: ViewName.DOCUMENT_CHECK,
    Stage.DOCUMENT_MANUAL: ViewName.DOCUMENT_MANUAL,
    Stage.DOCUMENT_CONFIRM: ViewName.DOCUMENT_CONFIRM,
}

USER_STAGES: frozenset[Stage] = frozenset(
    {
        Stage.INSERT_CARD,
        Stage.CARD_RECORD,
        Stage.DOCUMENT_SCAN,
        Stage.DOCUMENT_MANUAL,
        Stage.DOCUMENT_CONFIRM,
        Stage.PIN_CURRENT,
        Stage.PIN_SIGNATURE,
        Stage.PIN_CHOOSE,
        Stage.PIN_CONFIRM,
        Stage.SIGN_RECEIPT,
        Stage.REINSERT,
        Stage.CARD_INFO,
        Stage.BLOCK_REASON,
        Stage.BLOCK_CONFIRM,
        Stage.ADDITIONAL_PRESENT,
        Stage.CHOOSE_ORGANISATION,
        Stage.FAILED,
    }
)


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
