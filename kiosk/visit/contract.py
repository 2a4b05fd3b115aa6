"""The contract between visit flows (pure state machines) and the shell that runs them.

A flow takes an ``Event`` (kiosk.visit.events) and the time it happened, and returns a
``Step``: the ``View`` to show and the ``Effect``s (kiosk.visit.effects) to run. The shell
(kiosk.visit.runner for headless runs, screens/ for the touchscreen) renders the view,
runs each effect on a worker through the ports, and feeds the outcome back as another
event. A flow never blocks, sleeps, reads a clock of its own or touches a device: the
time comes in with every event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, TypeAlias

if TYPE_CHECKING:  # 85 event and effect dataclasses: not needed to show a view
    from kiosk.visit.effects import Effect
    from kiosk.visit.events import Event

# A view parameter: a plain value, or tuples and mappings of them (never a Secret).
Param: TypeAlias = (
    str | int | float | bool | tuple["Param", ...] | Mapping[str, "Param"] | None
)


class ViewName(StrEnum):
    """Every screen a visit can ask for; screens/ has one screen per name."""

    ADMIN_SIGN_IN = "admin_sign_in"  # admin inserts own card and types PIN
    HOME = "home"  # choose a visit
    INSERT_CARD = "insert_card"  # insert the holder's card
    WORKING = "working"  # progress while an effect runs (params: what)
    CARD_RECORD = "card_record"  # the card's record, with a refusal reason if any
    DOCUMENT_CHECK = "document_check"  # camera, what was read, each check's result
    DOCUMENT_MANUAL = "document_manual"  # manual entry of document facts
    DOCUMENT_CONFIRM = "document_confirm"  # admin confirms photo and age by eye
    PIN_CHOOSE = "pin_choose"  # holder chooses a PIN
    PIN_CONFIRM = "pin_confirm"  # holder types it again
    PIN_CURRENT = "pin_current"  # holder types the current PIN (PIN change)
    WRITING_PIN = "writing_pin"  # "do not remove the card"
    SIGN_RECEIPT = "sign_receipt"  # holder signs the receipt with the new PIN
    CARD_INFO = "card_info"  # card check: certificates, validity, status
    BLOCK_REASON = "block_reason"  # choose why the card is blocked
    BLOCK_CONFIRM = "block_confirm"  # confirm blocking
    CHOOSE = "choose"  # one of the flow's choices (params: choices), e.g. an organisation
    DONE = "done"  # outcome and what happens next
    ERROR = "error"  # an error with message and next step


# The screens the card holder uses on their own (the administrator looks away): the PIN
# screens and the write between them. Screens hand the kiosk over on entering and leaving.
HOLDER_VIEWS: frozenset[ViewName] = frozenset({
    ViewName.PIN_CHOOSE, ViewName.PIN_CONFIRM, ViewName.PIN_CURRENT,
    ViewName.WRITING_PIN, ViewName.SIGN_RECEIPT,
})


@dataclass(frozen=True)
class ErrorView:
    """An error as the screen shows it: translation keys plus parameters."""

    code: str
    message: str
    next_step: str
    params: dict[str, Param] = field(default_factory=dict)


@dataclass(frozen=True)
class View:
    """What to show: a screen name, translation keys, safe parameters (never a PIN)."""

    name: ViewName
    title: str
    message: str | None = None
    params: dict[str, Param] = field(default_factory=dict)
    error: ErrorView | None = None
    actions: tuple[str, ...] = ()
    pin_length: int = 0  # digits typed so far, for the dots

    def number(self, key: str, default: int) -> int:
        """The integer parameter ``key``; ``default`` if it is missing or not an integer."""
        value = self.params.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    def texts(self, key: str) -> tuple[str, ...]:
        """The texts of the tuple parameter ``key`` (empty if missing)."""
        value = self.params.get(key)
        return tuple(v for v in value if isinstance(v, str)) if isinstance(value, tuple) else ()

    def mapping(self, key: str) -> Mapping[str, Param]:
        """The mapping parameter ``key`` (empty if missing)."""
        value = self.params.get(key)
        return value if isinstance(value, Mapping) else {}

    def mappings(self, key: str) -> tuple[Mapping[str, Param], ...]:
        """The mappings of the tuple parameter ``key`` (a row per item; empty if missing)."""
        value = self.params.get(key)
        if not isinstance(value, tuple):
            return ()
        return tuple(v for v in value if isinstance(v, Mapping))


@dataclass(frozen=True)
class Step:
    """A flow's answer to an event."""

    view: View
    effects: tuple[Effect, ...] = ()
    finished: bool = False


class Flow(Protocol):
    """One visit (or the administrator's session) as a state machine."""

    def start(self, at: datetime) -> Step:
        """The first step of the visit."""
        ...

    def handle(self, event: Event, at: datetime) -> Step:
        """The next step after ``event``, which happened ``at``."""
        ...
