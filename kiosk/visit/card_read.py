"""The card read: a part of the certificate visits, what the card holds before key work.

Once the card rules accepted the record, the reads run side by side: the card's
certificates and key pairs and whether it has a signature PIN of its own
(``ReadCardKeys``), whether a crashed visit left work on this card (``FindCardWork``)
and, for the visits that replace certificates, what the portal issued for it
(``ListIssued``). When every read has answered the visit decides
(``CardReadHost.on_card_read``). One failed read stops the reading; a retry runs them all
again.
"""

from __future__ import annotations

from typing import Protocol

from kiosk.errors import CardRemoved, KioskError
from kiosk.model import CardWork, CertificateInfo, VisitKind
from kiosk.ports import IssuedCertificate
from kiosk.visit.card_step import CardStep
from kiosk.visit.contract import Step
from kiosk.visit.effects import Effect, FindCardWork, ListIssued, ReadCardKeys
from kiosk.visit.errorview import can_retry
from kiosk.visit.events import CardKeysRead, CardWorkFound, IssuedListed, Outcome
from kiosk.visit.stages import Stage, present


class CardReadHost(Protocol):
    """What the card read needs from the visit it is part of."""

    kind: VisitKind
    card: CardStep
    stage: Stage
    failed_stage: Stage | None

    def show(self, stage: Stage, error: BaseException | None = None) -> Step:
        """Enter ``stage`` and show it."""
        ...

    def run(self, stage: Stage, *effects: Effect) -> Step:
        """Enter a working ``stage`` and ask for ``effects``."""
        ...

    def abort(self, error: KioskError) -> Step:
        """End early, explaining the card's state."""
        ...

    def fail(self, error: KioskError, *effects: Effect) -> Step:
        """Show ``error`` with retry; retry runs ``effects`` again."""
        ...

    def on_card_read(self) -> Step:
        """Everything is read: refuse, or show the record for review."""
        ...


class CardRead:
    """What the card holds, the work a crashed visit left, and (``list_issued``) what the
    portal issued for the card."""

    def __init__(self, list_issued: bool = False) -> None:
        self.list_issued = list_issued
        self.certificates: tuple[CertificateInfo, ...] = ()
        self.has_signature_pin = False
        self.found: CardWork | None = None
        self.issued: tuple[IssuedCertificate, ...] = ()
        self.reads: set[type[Outcome]] = set()

    def effects(self, host: CardReadHost) -> tuple[Effect, ...]:
        """The reads, run side by side."""
        number = present(host.card.number, "card number")
        reads: tuple[Effect, ...] = (
            ReadCardKeys(host.card.reader), FindCardWork(number, host.kind.value)
        )
        return (*reads, ListIssued(number)) if self.list_issued else reads

    def needed(self) -> set[type[Outcome]]:
        """The outcomes the reading waits for."""
        reads: set[type[Outcome]] = {CardKeysRead, CardWorkFound}
        return reads | {IssuedListed} if self.list_issued else reads

    def start(self, host: CardReadHost) -> Step:
        """Run every read."""
        self.reads = set()
        return host.run(Stage.READING, *self.effects(host))

    def outcome(self, outcome: Outcome, host: CardReadHost) -> Step | None:
        """Keep what a read answered; None for any other outcome."""
        match outcome:
            case CardKeysRead():
                self.certificates = outcome.certificates
                self.has_signature_pin = outcome.has_signature_pin
                return self.arrived(CardKeysRead, host)
            case CardWorkFound():
                self.found = outcome.work
                return self.arrived(CardWorkFound, host)
            case IssuedListed():
                self.issued = outcome.certificates
                return self.arrived(IssuedListed, host)
        return None

    def arrived(self, what: type[Outcome], host: CardReadHost) -> Step:
        """One read answered: wait for the others, then ``host.on_card_read``."""
        self.reads.add(what)
        if host.stage is not Stage.READING:  # a sibling read failed: the retry reads again
            return host.show(host.stage)
        if not self.needed() <= self.reads:
            return host.show(Stage.READING)
        return host.on_card_read()

    def failed(self, effect: Effect, error: KioskError, host: CardReadHost) -> Step | None:
        """A read failing stops the reading; None for any other failure."""
        if host.stage is Stage.READING and effect.kind in {e.kind for e in self.effects(host)}:
            if not can_retry(error) or isinstance(error, CardRemoved):
                return host.abort(error)
            self.reads = set()
            return host.fail(error, *self.effects(host))
        if host.stage is Stage.FAILED and host.failed_stage is Stage.READING:
            return host.show(Stage.FAILED)  # a sibling read failed too: already shown
        return None

    def authentication_certificate(self) -> CertificateInfo | None:
        """The card's authentication certificate whose key pair is known (for logging in)."""
        return next(
            (c for c in self.certificates if c.usage == "authentication" and c.key_id and c.der),
            None,
        )

    def issued_as(self, serial: str, kind: str, states: tuple[str, ...] = ("valid",)) -> bool:
        """Whether the portal issued the certificate ``serial`` (hex) as ``kind``, in ``states``."""
        return any(
            i.serial == serial and i.kind == kind and i.state in states for i in self.issued
        )
