"""The ID document stages shared by the visits that check the holder's ID (activation, unlock).

Scan or type the document, run every check of kiosk.rules.document (the eye checks
last, by the administrator, never taken from the input), then ask the portal to start
the activation or unlock with the checked evidence.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kiosk.errors import DocumentRejected, InvalidInput
from kiosk.identity.personnummer import parse_personnummer
from kiosk.model import Provenance
from kiosk.ports import ActivationTicket
from kiosk.rules.document import EYE_CHECKS, check_document, first_failure
from kiosk.visit.base import ErrorView, Step, View, ViewName
from kiosk.visit.effects import StartTicket
from kiosk.visit.events import (
    DocumentConfirmed,
    DocumentManual,
    DocumentScan,
    DocumentScanned,
    DocumentTyped,
    ScanFailed,
)
from kiosk.visit.flow import Progress, Stage, Transitions, VisitFlow, present
from kiosk.visit.secret import Secret


class DocumentCheckedFlow(VisitFlow):
    """A visit with an ID document check after the card record (activation, unlock)."""

    def transitions(self) -> Transitions:
        return self.with_document_check(super().transitions())

    def on_record_accepted(self) -> Step:
        return self.show(Stage.DOCUMENT_SCAN)

    def extra_view(self, stage: Stage, error: ErrorView | None) -> View | None:
        if stage in (Stage.DOCUMENT_SCAN, Stage.DOCUMENT_MANUAL, Stage.DOCUMENT_CONFIRM):
            return self.document_view(stage, error)
        return None

    def with_document_check(self, table: Transitions) -> Transitions:
        """``table`` with the document check's stages, for visits that check an ID document."""
        scan, manual, confirm = Stage.DOCUMENT_SCAN, Stage.DOCUMENT_MANUAL, Stage.DOCUMENT_CONFIRM
        return (
            table.on(scan, DocumentScanned, self.on_document)
            .on((scan, manual), DocumentTyped, self.on_document)
            .on(scan, ScanFailed, lambda e: self.show(scan, e.error))
            .on(scan, DocumentManual, lambda _: self.show(manual))
            .on((manual, confirm), DocumentScan, lambda _: self.show(scan))
            .on(confirm, DocumentConfirmed, self.on_document_confirmed)
        )

    def document_view(self, stage: Stage, error: ErrorView | None) -> View:
        names = {
            Stage.DOCUMENT_SCAN: ViewName.DOCUMENT_CHECK,
            Stage.DOCUMENT_MANUAL: ViewName.DOCUMENT_MANUAL,
            Stage.DOCUMENT_CONFIRM: ViewName.DOCUMENT_CONFIRM,
        }
        actions = {
            Stage.DOCUMENT_SCAN: ("document_manual", "cancel"),
            Stage.DOCUMENT_MANUAL: ("document_scan", "cancel"),
            Stage.DOCUMENT_CONFIRM: ("document_confirmed", "document_scan", "cancel"),
        }
        params: dict[str, Any] = {
            "checks": tuple(
                {"name": c.name, "ok": c.ok, "reason": c.reason} for c in self.checks
            ),
            "trust_level": int(self.record.trust_level) if self.record else None,
            "holder_name": self.record.holder_name if self.record else None,
        }
        if self.evidence is not None:
            params["document"] = self.evidence_summary()
        message = f"visit.document.{stage.value}"
        return View(names[stage], self.title(), message, params, error, actions[stage])

    def evidence_summary(self) -> dict[str, Any]:
        """The document facts for screen and result: type, expiry, masked personnummer."""
        evidence = present(self.evidence, "document")
        masked = None
        if evidence.personnummer:
            try:
                masked = parse_personnummer(evidence.personnummer, on=self.today()).masked()
            except InvalidInput:
                masked = "?"
        return {
            "doc_type": evidence.doc_type.value,
            "expiry": evidence.expiry.isoformat(),
            "birth_date": evidence.birth_date.isoformat() if evidence.birth_date else None,
            "personnummer": masked,
            "name_read": evidence.name,
            "swedish": evidence.swedish,
            "how": ",".join(sorted({p.value for p in evidence.how.values()})),
        }

    def on_document(self, event: DocumentScanned | DocumentTyped) -> Step:
        evidence = event.evidence
        how = Provenance.SCANNED if isinstance(event, DocumentScanned) else Provenance.TYPED
        facts = ("doc_type", "expiry", "birth_date", "personnummer", "document_number")
        provenance = {fact: evidence.how.get(fact, how) for fact in facts}
        # The eye check is the administrator's, here and now: never taken from the input.
        self.evidence = replace(
            evidence, how=provenance, photo_confirmed=False, age_confirmed=False
        )
        return self.judge_document(skip=EYE_CHECKS)

    def on_document_confirmed(self, event: DocumentConfirmed) -> Step:
        evidence = present(self.evidence, "document")
        photo, age = event.photo, event.age
        how = dict(evidence.how)
        how.update({"photo": Provenance.CONFIRMED, "age": Provenance.CONFIRMED})
        self.evidence = replace(evidence, photo_confirmed=photo, age_confirmed=age, how=how)
        return self.judge_document(skip=frozenset())

    def judge_document(self, skip: frozenset[str]) -> Step:
        self.checks = check_document(
            present(self.evidence, "document"),
            present(self.record, "card record"),
            self.today(),
            self.settings.document_rules,
        )
        reason = first_failure(self.checks, skip)
        if reason is not None:
            return self.show(Stage.DOCUMENT_SCAN, DocumentRejected(reason))
        if skip:
            return self.show(Stage.DOCUMENT_CONFIRM)
        return self.on_document_accepted()

    def on_document_accepted(self) -> Step:
        """After every document check passed: the visit's next stage."""
        raise NotImplementedError

    def start_ticket(self, kind: type[StartTicket]) -> Step:
        """Ask the portal to start an activation or unlock with the checked evidence."""
        effect = kind(
            present(self.card_number, "card number"),
            self.admin.hsa_id,
            present(self.evidence, "document"),
            f"{self.visit_id}:{kind.kind.value}",
        )
        return self.run(Stage.STARTING, effect)

    def on_ticket(self, ticket: ActivationTicket) -> Step:
        self.progress = Progress.STARTED
        self.activation_id = ticket.activation_id
        self.deadline = ticket.deadline
        self.credential = Secret(ticket.credential)
        return self.enter_pin_stage(Stage.PIN_CHOOSE)
