"""The document step: a part of the visits that check the holder's ID (activation, unlock,
PIN letter, the certificate visits).

Scan or type the document, run every check of kiosk.rules.document (the eye checks
last, by the administrator, never taken from the input); when all pass the visit goes
on (``DocumentHost.on_document_accepted``: start the activation or unlock). Each route
returns the step to show, like a data-entry flow's step.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Protocol

from kiosk.errors import DocumentRejected, InvalidInput
from kiosk.identity.personnummer import parse_personnummer
from kiosk.model import CardRecord, DocumentEvidence, Provenance
from kiosk.rules.document import EYE_CHECKS, DocumentCheck, check_document, first_failure
from kiosk.settings import DocumentRulesSettings
from kiosk.visit.card_step import CardStep
from kiosk.visit.contract import ErrorView, Param, Step, View
from kiosk.visit.events import (
    DocumentConfirmed,
    DocumentManual,
    DocumentScan,
    DocumentScanned,
    DocumentTyped,
    ScanFailed,
)
from kiosk.visit.stages import DOCUMENT_STAGES, Stage, Transitions, present

ACTIONS: dict[Stage, tuple[str, ...]] = {
    Stage.DOCUMENT_SCAN: ("document_manual", "cancel"),
    Stage.DOCUMENT_MANUAL: ("document_scan", "cancel"),
    Stage.DOCUMENT_CONFIRM: ("document_confirmed", "document_scan", "cancel"),
}
FACTS = ("doc_type", "expiry", "birth_date", "personnummer", "document_number")


class DocumentHost(Protocol):
    """What the document step needs from the visit it is part of."""

    card: CardStep

    def today(self) -> date:
        """The date of the latest event."""
        ...

    def show(self, stage: Stage, error: BaseException | None = None) -> Step:
        """Enter ``stage`` and show it."""
        ...

    def on_document_accepted(self) -> Step:
        """After every document check passed: the visit's next stage."""
        ...


class DocumentStep:
    """The holder's ID document: what was read or typed, and each check's result."""

    def __init__(self, rules: DocumentRulesSettings) -> None:
        self.rules = rules
        self.evidence: DocumentEvidence | None = None
        self.checks: list[DocumentCheck] = []

    def routes(self, table: Transitions, host: DocumentHost) -> Transitions:
        """``table`` with the document stages of ``host``'s visit."""
        scan, manual, confirm = Stage.DOCUMENT_SCAN, Stage.DOCUMENT_MANUAL, Stage.DOCUMENT_CONFIRM
        return (
            table.on(scan, DocumentScanned, lambda e: self.read(e, host))
            .on((scan, manual), DocumentTyped, lambda e: self.read(e, host))
            .on(scan, ScanFailed, lambda e: host.show(scan, e.error))
            .on(scan, DocumentManual, lambda _: host.show(manual))
            .on((manual, confirm), DocumentScan, lambda _: host.show(scan))
            .on(confirm, DocumentConfirmed, lambda e: self.confirm(e, host))
        )

    def read(self, event: DocumentScanned | DocumentTyped, host: DocumentHost) -> Step:
        """Scanned or typed facts: every check but the eye checks."""
        how = Provenance.SCANNED if isinstance(event, DocumentScanned) else Provenance.TYPED
        provenance = {fact: event.evidence.how.get(fact, how) for fact in FACTS}
        # The eye check is the administrator's, here and now: never taken from the input.
        self.evidence = replace(
            event.evidence, how=provenance, photo_confirmed=False, age_confirmed=False
        )
        return self.judge(host, skip=EYE_CHECKS)

    def confirm(self, event: DocumentConfirmed, host: DocumentHost) -> Step:
        """The administrator's eye check of photo and age: every check again."""
        evidence = present(self.evidence, "document")
        how = {**evidence.how, "photo": Provenance.CONFIRMED, "age": Provenance.CONFIRMED}
        self.evidence = replace(
            evidence, photo_confirmed=event.photo, age_confirmed=event.age, how=how
        )
        return self.judge(host, skip=frozenset())

    def judge(self, host: DocumentHost, skip: frozenset[str]) -> Step:
        """Back to scanning with the first failed check; else the eye check, else go on."""
        self.checks = check_document(
            present(self.evidence, "document"),
            present(host.card.record, "card record"),
            host.today(),
            self.rules,
        )
        reason = first_failure(self.checks, skip)
        if reason is not None:
            return host.show(Stage.DOCUMENT_SCAN, DocumentRejected(reason))
        if skip:
            return host.show(Stage.DOCUMENT_CONFIRM)
        return host.on_document_accepted()

    def summary(self, today: date) -> dict[str, Param]:
        """The document facts for screen and result: type, expiry, masked personnummer."""
        evidence = present(self.evidence, "document")
        masked = None
        if evidence.personnummer:
            try:
                masked = parse_personnummer(evidence.personnummer, on=today).masked()
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

    def result_fields(self, today: date) -> dict[str, str]:
        """What a visit's result says of the document: its type, expiry and how it was read."""
        summary = self.summary(today)
        return {
            "document_type": str(summary["doc_type"]),
            "document_expiry": str(summary["expiry"]),
            "document_how": str(summary["how"]),
        }

    def view(
        self, stage: Stage, title: str, record: CardRecord | None, today: date,
        error: ErrorView | None,
    ) -> View:
        """A document stage: what was read, each check's result, the holder to compare."""
        params: dict[str, Param] = {
            "checks": tuple(
                {"name": c.name, "ok": c.ok, "reason": c.reason} for c in self.checks
            ),
            "trust_level": int(record.trust_level) if record else None,
            "holder_name": record.holder_name if record else None,
        }
        if self.evidence is not None:
            params["document"] = self.summary(today)
        message = f"visit.document.{stage.value}"
        return View(DOCUMENT_STAGES[stage], title, message, params, error, ACTIONS[stage])
