"""The additional-certificate visit (tilläggscertifikat): a certificate from another
organisation on the card. A card holds only ONE additional certificate at a time.

Card, record (Aktiv), the card read (its certificates; what the portal issued; whether a
crashed visit left work on the card), record review, the ID check. Then:

- no additional certificate on the card: the administrator chooses the organisation
  (settings ``card_rules.additional_organisations``);
- one is there: a second is refused; the administrator chooses to **replace** it (then
  the organisation of the new one) or to **remove** it.

The holder types the authentication PIN (checked on the card with a test signature).
A new one: a key pair generated on the card, the request signed on the card, issued by
the portal (kind ``additional``, the organisation in the subject), installed, and a test
signature that must verify with it. Only then is the old one (replace) removed from the
card; its revocation is part of the result (outbox, then the portal, which puts it on its
CRL). Remove: the old key pair and certificate are removed, then revoked the same way.

The decision (replace or remove, the organisation, the old certificate) and every key id
and idempotency key are committed in the card work before the card or the portal is
touched (kiosk.visit.card_keys): a visit restarted after a crash or a pulled card
continues that work, and nothing is issued twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from kiosk.errors import InvalidInput
from kiosk.model import AdminAuthorisation, CardWork, CertificateInfo, VisitKind
from kiosk.ports import PinRole
from kiosk.settings import Settings
from kiosk.visit.card_keys import CardKeysFlow
from kiosk.visit.contract import ErrorView, Param, Step, View, ViewName
from kiosk.visit.document_step import DocumentStep
from kiosk.visit.effects import BeginCardWork
from kiosk.visit.events import Chosen
from kiosk.visit.key_jobs import KeyJob, key_id_of
from kiosk.visit.result import b64
from kiosk.visit.secret import Secret
from kiosk.visit.stages import Stage, Transitions, present

SLOT = "additional"
LABEL = "Tilläggscertifikat"
ADD, REPLACE, REMOVE = "add", "replace", "remove"
ISSUED = ("valid", "replaced")  # portal states of an additional certificate that may be on a card


@dataclass
class Decision:
    """What the administrator chose; committed in the card work, so a continued visit keeps it."""

    action: str = ADD
    organisation: str = ""  # of the new certificate ("" on remove)
    old_key_id: str = ""  # hex CKA_ID of the additional certificate replaced or removed
    old_serial: str = ""  # its serial (hex)
    old_der: str = ""  # its DER, base64: shown to the portal to revoke one it has no record of

    @classmethod
    def from_notes(cls, notes: Mapping[str, str], action: str) -> Decision:
        """The decision a card work kept (``action`` when it kept none)."""
        old = ("old_key_id", "old_serial", "old_der")
        kept = {name: notes.get(name, "") for name in ("organisation", *old)}
        return cls(notes.get("action") or action, **kept)

    def revocation(self) -> dict[str, str]:
        """The result's fields that make the outbox revoke the old one, once it is sent."""
        serial = self.old_serial
        return {
            "removed_serial": serial,
            "revoke": json.dumps([serial] if serial else []),
            "revoke_reason": "replaced" if self.action == REPLACE else "removed",
            # the old certificate itself: the portal revokes one it has no record of (the
            # card's first ones) once it sees it was issued by its CA for this holder
            "revoke_certificates": json.dumps(
                {serial: self.old_der} if serial and self.old_der else {}
            ),
        }


class AdditionalCertificateFlow(CardKeysFlow):
    """Add, replace or remove the card's one additional certificate."""

    kind = VisitKind.ADDITIONAL_CERTIFICATE

    def __init__(self, admin: AdminAuthorisation, settings: Settings, visit_id: str) -> None:
        super().__init__(admin, settings, visit_id, list_issued=True)
        self.document: DocumentStep = DocumentStep(settings.document_rules)
        self.present_cert: CertificateInfo | None = None  # the additional one on the card
        self.decision = Decision()

    # --- the table ------------------------------------------------------------------------

    def transitions(self) -> Transitions:
        return (
            super().transitions()
            .on(Stage.ADDITIONAL_PRESENT, Chosen, self.on_present_choice)
            .on(Stage.CHOOSE_ORGANISATION, Chosen, self.on_organisation)
        )

    # --- what the card holds --------------------------------------------------------------

    def is_additional(self, cert: CertificateInfo) -> bool:
        """A certificate from another organisation: the portal issued it as additional, or
        its subject names one of the organisations in settings."""
        issued = self.card_read.issued_as(format(cert.serial, "x"), "additional", ISSUED)
        return issued or cert.organisation in self.settings.card_rules.additional_organisations

    def on_card_read(self) -> Step:
        ours = key_id_of(self.work_id(), SLOT) if self.card_read.found is not None else None
        self.present_cert = next(
            (c for c in self.card_read.certificates
             if c.key_id and c.key_id != ours and self.is_additional(c)),
            None,
        )
        return self.show(Stage.CARD_RECORD)

    def on_record_accepted(self) -> Step:
        return self.show(Stage.DOCUMENT_SCAN)

    def on_document_accepted(self) -> Step:
        if self.card_read.found is not None:  # a visit stopped midway: its decision stands
            return self.ask_pin()
        if self.present_cert is not None:
            return self.show(Stage.ADDITIONAL_PRESENT)  # a second one is refused
        return self.show(Stage.CHOOSE_ORGANISATION)

    # --- the choices ------------------------------------------------------------------------

    def on_present_choice(self, event: Chosen) -> Step:
        if event.choice not in (REPLACE, REMOVE):
            raise InvalidInput("choose to replace or to remove it", field="choice")
        old = present(self.present_cert, "additional certificate")
        self.decision = Decision(
            event.choice, "", old.key_id.hex(), format(old.serial, "x"), b64(old.der)
        )
        if event.choice == REMOVE:
            return self.ask_pin()
        return self.show(Stage.CHOOSE_ORGANISATION)

    def on_organisation(self, event: Chosen) -> Step:
        if event.choice not in self.settings.card_rules.additional_organisations:
            raise InvalidInput("choose one of the organisations shown", field="organisation")
        self.decision.organisation = event.choice
        return self.ask_pin()

    def ask_pin(self) -> Step:
        self.pins.current.clear()
        return self.show(Stage.PIN_CURRENT)

    # --- the work ---------------------------------------------------------------------------

    def after_login(self) -> Step:
        found = self.card_read.found
        if found is not None:  # continue the stopped visit's work as it was committed
            return self.run(Stage.PREPARING, BeginCardWork(found))
        jobs: list[KeyJob] = []
        old = self.decision
        if old.action != REMOVE:
            record = present(self.card.record, "card record")
            known = self.card_read.issued_as(old.old_serial, "additional")
            jobs.append(KeyJob(
                SLOT, "additional", PinRole.AUTHENTICATION, "hsa_id", record.hsa_id,
                old.old_key_id, old.old_serial, old.old_serial if known else None,
            ))
        return self.begin_work(jobs, asdict(self.decision))

    def on_work_begun(self, work: CardWork) -> Step:
        self.decision = Decision.from_notes(work.notes, self.decision.action)
        return super().on_work_begun(work)

    def role_pin(self, role: PinRole) -> Secret:
        return self.pins.current.copy()

    def issue_organisation(self) -> str | None:
        return self.decision.organisation or None

    def after_jobs(self) -> Step:
        """The new one verified (or none is made): only now the old one goes."""
        key_id = self.decision.old_key_id
        olds = [(PinRole.AUTHENTICATION, bytes.fromhex(key_id))] if key_id else []
        return self.keys.remove_old(olds, self)

    def after_removal(self) -> Step:
        chosen = self.decision
        payload: dict[str, str] = {
            "work_id": self.work_id(),
            "action": chosen.action,
            "organisation": chosen.organisation,
            "certificates": json.dumps(
                [{"kind": job.certificate_kind, "serial": serial, "not_after": not_after,
                  "organisation": chosen.organisation or None, "test_signature": "verified"}
                 for job, serial, not_after in self.keys.made]
            ),
            **chosen.revocation(),
        }
        if self.document.evidence is not None:
            payload.update(self.document.result_fields(self.today()))
        self.results.message = f"visit.done.additional_certificate.{chosen.action}"
        return self.record_result("additional_certificate", payload)

    # --- views ------------------------------------------------------------------------------

    def pin_message(self, stage: Stage) -> str | None:
        return "visit.pin.pin_current.authentication" if stage is Stage.PIN_CURRENT else None

    def extra_view(self, stage: Stage, error: ErrorView | None) -> View | None:
        if stage is Stage.ADDITIONAL_PRESENT:
            return self.choose_view("visit.additional.present", (REPLACE, REMOVE), error)
        if stage is Stage.CHOOSE_ORGANISATION:
            choices = self.settings.card_rules.additional_organisations
            return self.choose_view("visit.additional.choose_organisation", choices, error)
        return None

    def choose_view(
        self, message: str, choices: tuple[str, ...], error: ErrorView | None
    ) -> View:
        params: dict[str, Param] = {**self.card.record_params(self.at()), "choices": choices}
        old = self.present_cert
        if old is not None and self.stage is Stage.ADDITIONAL_PRESENT:
            params.update({
                "additional_organisation": old.organisation or "",
                "additional_not_after": old.not_after.date().isoformat(),
            })
        return View(ViewName.CHOOSE, self.title(), message, params, error, (*choices, "cancel"))
