"""The portal's ticket: a part of the visits the portal starts first (activation, unlock).

After the ID check the visit asks the portal to start (``StartActivation`` or
``StartUnlock``, keyed by the visit id). The portal answers with a ticket: its id, the
deadline the card must be finished by, and the card's one-time credential that lets it
take a new PIN. The credential is a wipeable ``Secret``, forgotten once the PIN is
written; before that write the outbox commits its ``write_intent`` (which card, which
ticket, until when). The signature-certificate visit keeps only the credential: it sets
the signature PIN with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from kiosk.model import DocumentEvidence, PinWriteIntent, VisitKind
from kiosk.ports import ActivationTicket
from kiosk.visit.card_record import deadline_params
from kiosk.visit.contract import Param
from kiosk.visit.effects import StartTicket
from kiosk.visit.secret import Secret
from kiosk.visit.stages import present

T = TypeVar("T", bound=StartTicket)


class PortalTicket:
    """The ticket the portal issued for this visit: id, deadline, credential (none yet)."""

    def __init__(self, admin_hsa_id: str, visit_id: str) -> None:
        self.admin_hsa_id = admin_hsa_id
        self.visit_id = visit_id
        self.id: str | None = None
        self.deadline: datetime | None = None
        self.credential: Secret | None = None

    def request(
        self, kind: type[T], card_number: str | None, evidence: DocumentEvidence | None
    ) -> T:
        """The effect that asks the portal to start an activation or unlock."""
        return kind(
            present(card_number, "card number"),
            self.admin_hsa_id,
            present(evidence, "document"),
            f"{self.visit_id}:{kind.kind.value}",
        )

    def issued(self, ticket: ActivationTicket) -> None:
        """The portal's answer: the ticket's id, deadline and credential."""
        self.id = ticket.activation_id
        self.deadline = ticket.deadline
        self.credential = Secret(ticket.credential)

    def credential_copy(self) -> Secret:
        """A copy of the credential for one card effect (the runner wipes it after use)."""
        return present(self.credential, "credential").copy()

    def write_intent(
        self, kind: VisitKind, card_number: str | None, at: datetime
    ) -> PinWriteIntent:
        """The PIN write this ticket is for, for the outbox to commit before the write."""
        return PinWriteIntent(
            visit_id=self.visit_id,
            kind=kind.value,
            card_number=present(card_number, "card number"),
            admin_hsa_id=self.admin_hsa_id,
            ticket_id=self.id or "",
            deadline=self.deadline,
            started_at=at,
        )

    def params(self) -> dict[str, Param]:
        """The completion deadline of a started activation, for explanations."""
        return deadline_params(self.deadline)

    def wipe(self) -> None:
        """Forget the credential."""
        if self.credential is not None:
            self.credential.wipe()
            self.credential = None
