"""The ID document stages shared by the visits that check the holder's ID (activation, unlock).

Scan or type the document, run every check of kiosk.rules.document (the eye checks
last, by the administrator, never taken from the input), then ask the portal to start
the activation or unlock with the checked evidence.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kiosk.errors import DocumentRejected, InvalidInput, KioskError
from kiosk.identity.personnummer import parse_personnummer
from kiosk.model import DocumentEvidence, Provenance
from kiosk.ports import ActivationTicket
from kiosk.rules.document import EYE_CHECKS, check_document, first_failure
from kiosk.visit.base import Effect, Event, Step, View, ViewName
from kiosk.visit.effects import EffectKind
from kiosk.visit.flow import Handler, Progress, Stage, VisitFlow, need, present
from kiosk.visit.secret import Secret


class DocumentCheckedFlow(VisitFlow):
    """A visit with an ID document check after the card record (activation, unlock)."""

    def transitions(self) -> dict[tuple[Stage, str], Handler]:
        return {**super().transitions(), **self.document_transitions()}

    def on_record_accepted(self, event: Event) -> Step:
        return self.show(Stage.DOCUMENT_SCAN)

    def extra_view(self, stage: Stage, error: Any) -> View | None:
        if stage in (Stage.DOCUMENT_SCAN, Stage.DOCUMENT_MANUAL, Stage.DOCUMENT_CONFIRM):
            return self.document_view(stage, error)
        return None

    def document_transitions(self) -> dict[tuple[Stage, str], Handler]:
        """The document check's stages, for visits that check an ID document."""
        return {
            (Stage.DOCUMENT_SCAN, "document_scanned"): self.on_document,
            (Stage.DOCUMENT_SCAN, "document_typed"): self.on_document,
            (Stage.DOCUMENT_SCAN, "scan_failed"): self.on_scan_failed,
            (Stage.DOCUMENT_SCAN, "document_manual"): lambda e: self.show(Stage.DOCUMENT_MANUAL),
            (Stage.DOCUMENT_MANUAL, "document_typed"): self.on_document,
            (Stage.DOCUMENT_MANUAL, "document_scan"): lambda e: self.show(Stage.DOCUMENT_SCAN),
            (Stage.DOCUMENT_CONFIRM, "document_confirmed"): self.on_document_confirmed,
            (Stage.DOCUMENT_CONFIRM, "document_scan"): lambda e: self.show(Stage.DOCUMENT_SCAN),
        }

    def document_view(self, stage: Stage, error: Any) -> View:
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
            "swedish": evidence.swedish,
            "how": ",".join(sorted({p.value for p in evidence.how.values()})),
        }

    def on_scan_failed(self, event: Event) -> Step:
        error = event.data.get("error")
        return self.show(Stage.DOCUMENT_SCAN, error if isinstance(error, KioskError) else None)

    def on_document(self, event: Event) -> Step:
        evidence = need(event.data, "evidence", DocumentEvidence)
        how = Provenance.SCANNED if event.kind == "document_scanned" else Provenance.TYPED
        facts = ("doc_type", "expiry", "birth_date", "personnummer", "document_number")
        provenance = {fact: evidence.how.get(fact, how) for fact in facts}
        # The eye check is the administrator's, here and now: never taken from the input.
        self.evidence = replace(
            evidence, how=provenance, photo_confirmed=False, age_confirmed=False
        )
        return self.judge_document(skip=EYE_CHECKS)

    def on_document_confirmed(self, event: Event) -> Step:
        evidence = present(self.evidence, "document")
        photo = event.data.get("photo", True) is True
        age = event.data.get("age", True) is True
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

    def start_ticket(self, kind: EffectKind) -> Step:
        """Ask the portal to start an activation or unlock with the checked evidence."""
        return self.run(
            Stage.STARTING,
            Effect(
                kind,
                {
                    "card_number": self.card_number,
                    "admin_hsa_id": self.admin.hsa_id,
                    "evidence": self.evidence,
                    "idempotency_key": f"{self.visit_id}:{kind.value}",
                },
            ),
        )

    def on_ticket(self, ticket: Any) -> Step:
        if not isinstance(ticket, ActivationTicket):
            return self.abort(KioskError("the portal returned no ticket"))
        self.progress = Progress.STARTED
        self.activation_id = ticket.activation_id
        self.deadline = ticket.deadline
        self.credential = Secret(ticket.credential)
        return self.enter_pin_stage(Stage.PIN_CHOOSE)
