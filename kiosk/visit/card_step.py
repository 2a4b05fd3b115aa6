"""The card step: a part of every visit, the holder's card and its record.

Wait for the card, identify it (or take its number typed, for a number printed only on
the back; the block visit takes a typed number with no card at all), fetch the portal's
record and hold card and record against the card rules (kiosk.rules.card). A refusal
ends the visit on the record screen with its reason and next step; once the administrator
has reviewed the record the visit goes on (``CardHost.on_record_accepted``). The part
shows the card's screens: insert the card, insert it again, the record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from kiosk.errors import InvalidInput, KioskError, PortalRejected
from kiosk.model import CardIdentity, CardRecord, VisitKind
from kiosk.rules.card import card_refusal, identity_refusal
from kiosk.settings import CardRulesSettings
from kiosk.visit.card_record import record_params
from kiosk.visit.contract import ErrorView, Param, Step, View, ViewName
from kiosk.visit.effects import Effect, FetchRecord, IdentifyCard
from kiosk.visit.errorview import can_retry, error_view
from kiosk.visit.events import CardInserted, CardNumberTyped, Continue
from kiosk.visit.stages import Stage, Transitions, step_of, with_step

CARD_STAGES: frozenset[Stage] = frozenset({Stage.INSERT_CARD, Stage.REINSERT, Stage.CARD_RECORD})


class CardHost(Protocol):
    """What the card step needs from the visit it is part of."""

    kind: VisitKind

    def title(self) -> str:
        """The visit's title key."""
        ...

    def at(self) -> datetime:
        """The time of the latest event."""
        ...

    def show(self, stage: Stage, error: BaseException | None = None) -> Step:
        """Enter ``stage`` and show it."""
        ...

    def run(self, stage: Stage, *effects: Effect) -> Step:
        """Enter a working ``stage`` and ask for ``effects``."""
        ...

    def end(self, view: View) -> Step:
        """Finish the visit with ``view``."""
        ...

    def abort(self, error: KioskError) -> Step:
        """End early, explaining the card's state."""
        ...

    def fail(self, error: KioskError, *effects: Effect) -> Step:
        """Show ``error`` with retry; retry runs ``effects`` again."""
        ...

    def on_record_accepted(self) -> Step:
        """After the administrator reviewed the record: the visit's next stage."""
        ...


class CardStep:
    """The card in the reader, its number, identity and record.

    ``card_at_hand`` is False for a visit about a card that is not there (a lost card is
    blocked by its typed number); otherwise a number is typed only once a card is in.
    """

    def __init__(self, rules: CardRulesSettings, card_at_hand: bool = True) -> None:
        self.rules = rules
        self.card_at_hand = card_at_hand
        self.reader: str | None = None
        self.inserted = False  # in the reader now ("Ta ut kortet" on DONE)
        self.identity: CardIdentity | None = None
        self.number: str | None = None
        self.record: CardRecord | None = None

    def routes(self, table: Transitions, host: CardHost) -> Transitions:
        """``table`` with the card inserted or its number typed, and the record reviewed."""
        return (
            table.on(Stage.INSERT_CARD, CardInserted, lambda e: self.insert(e, host))
            .on(Stage.INSERT_CARD, CardNumberTyped, lambda e: self.typed(e, host))
            .on(Stage.CARD_RECORD, Continue, lambda _: host.on_record_accepted())
        )

    def insert(self, event: CardInserted, host: CardHost) -> Step:
        """A card in ``event.reader``: identify it."""
        self.reader = event.reader
        self.inserted = True
        return host.run(Stage.IDENTIFYING, IdentifyCard(self.reader))

    def can_type_number(self) -> bool:
        """Whether the card number may be typed instead of read."""
        return not self.card_at_hand or self.identity is not None

    def typed(self, event: CardNumberTyped, host: CardHost) -> Step:
        """A typed card number (8 to 20 digits, spaces ignored): fetch its record."""
        if not self.can_type_number():
            return host.show(Stage.INSERT_CARD)
        number = "".join(event.card_number.split())
        if not (number.isascii() and number.isdigit() and 8 <= len(number) <= 20):
            raise InvalidInput("a card number has 8 to 20 digits", field="card_number")
        self.number = number
        return host.run(Stage.FETCHING, FetchRecord(number))

    def identified(self, identity: CardIdentity, host: CardHost) -> Step:
        """The card's identity: refused, its record fetched, or its number typed next."""
        self.identity = identity
        refused = identity_refusal(identity)
        if refused is not None:
            return self.refuse(refused, host)
        if identity.card_number:
            self.number = identity.card_number
            return host.run(Stage.FETCHING, FetchRecord(identity.card_number))
        return host.show(Stage.INSERT_CARD)  # the number is on the back: type it

    def fetched(self, record: CardRecord, host: CardHost) -> Step:
        """The portal's record: refused by the card rules, else shown for review."""
        self.record = record
        refused = card_refusal(self.identity, record, host.at(), self.rules, host.kind)
        if refused is not None:
            return self.refuse(refused, host)
        return host.show(Stage.CARD_RECORD)

    def refuse(self, error: KioskError, host: CardHost) -> Step:
        """End on the card record screen with the refusal's reason and next step."""
        view = View(
            ViewName.CARD_RECORD,
            host.title(),
            "visit.record.refused",
            self.record_params(host.at()),
            error_view(error),
        )
        # the step it was refused in, not the visit's last ("Steg 2 av 6")
        return host.end(with_step(view, step_of(host.kind, Stage.CARD_RECORD)))

    def taken_out(self) -> None:
        """The card left (or could not be read): the reader and what it said are forgotten."""
        self.inserted = False
        self.reader = None
        self.identity = None

    def failed(self, effect: Effect, error: KioskError, host: CardHost) -> Step | None:
        """The card step's effects failing; None for any other effect."""
        if isinstance(effect, IdentifyCard):
            self.taken_out()
            return host.show(Stage.INSERT_CARD, error)
        if isinstance(effect, FetchRecord):
            if isinstance(error, PortalRejected) or not can_retry(error):
                return host.abort(error)
            return host.fail(error, effect)
        return None

    def record_params(self, now: datetime) -> dict[str, Param]:
        """The card record's facts for the screen (personnummer masked)."""
        return record_params(self.record, self.number, now, self.rules)

    def view(
        self, stage: Stage, title: str, kind: VisitKind, now: datetime,
        error: ErrorView | None, deadline: dict[str, Param],
    ) -> View:
        """A card stage: insert the card (or type its number), insert it again, the record."""
        if stage is Stage.CARD_RECORD:
            return View(
                ViewName.CARD_RECORD, title, "visit.record.review", self.record_params(now),
                error, ("continue", "cancel"),
            )
        if stage is Stage.REINSERT:
            return View(
                ViewName.INSERT_CARD,
                title,
                "visit.insert.reinsert_to_sign",
                {"need_card_number": False, "can_type_number": False, **deadline},
                error,
                ("cancel",),
            )
        need_number = self.identity is not None and not self.number
        return View(
            ViewName.INSERT_CARD,
            title,
            "visit.insert.type_number" if need_number else f"visit.insert.{kind.value}",
            {"need_card_number": need_number, "can_type_number": self.can_type_number()},
            error,
            ("cancel",),
        )
