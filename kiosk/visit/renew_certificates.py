"""The renew-certificates visit: new key pairs and certificates replace the card's
certificates that end within 3 months (kiosk.rules.card.certificate_expires_soon).

Card, record (Aktiv), the card read (which certificates end soon; what the portal
issued; whether a crashed visit left work on the card), record review, the holder's
authentication PIN (checked on the card) and, when a signature certificate on its own
PIN is renewed, the signature PIN. Then for each certificate, in this order: a new key
pair generated on the card, the request signed on the card, issued by the portal,
installed, and a test signature that must verify with the new certificate. Only when
every new one verifies are the old key pairs removed; the result (outbox, then the
portal) revokes the old certificates the portal knows. A card pulled at any moment keeps
a working authentication certificate: the old one until the new one has verified. The
card stays in the reader throughout; a pull ends the visit with what to do, and the
next visit on the same card continues the work (kiosk.visit.card_keys).
"""

from __future__ import annotations

import json

from kiosk.errors import CardNotEligible, KioskError, WrongPin
from kiosk.model import AdminAuthorisation, CertificateInfo, VisitKind
from kiosk.ports import PinRole
from kiosk.rules.card import CERTIFICATE_WARNING_MONTHS, add_months, certificate_expires_soon
from kiosk.settings import Settings
from kiosk.visit.card_keys import CardKeysFlow
from kiosk.visit.contract import Step
from kiosk.visit.effects import Effect
from kiosk.visit.events import PinSubmit
from kiosk.visit.key_jobs import KeyJob, jobs_from_note
from kiosk.visit.secret import Secret
from kiosk.visit.stages import Stage, Transitions, present

CERTIFICATE_KINDS = ("authentication", "signature")


class RenewCertificatesFlow(CardKeysFlow):
    """Renew the card's certificates that end soon, never leaving it without a working one."""

    kind = VisitKind.RENEW_CERTIFICATES

    def __init__(self, admin: AdminAuthorisation, settings: Settings, visit_id: str) -> None:
        super().__init__(admin, settings, visit_id, list_issued=True)
        self.planned: list[KeyJob] = []

    def transitions(self) -> Transitions:
        return super().transitions().on(
            Stage.PIN_SIGNATURE, PinSubmit, lambda _: self.on_signature_pin_submitted()
        )

    def pin_message(self, stage: Stage) -> str | None:
        return {
            Stage.PIN_CURRENT: "visit.pin.pin_current.authentication",
            Stage.PIN_SIGNATURE: "visit.pin.pin_signature",
        }.get(stage)

    def signature_pin_stages(self) -> tuple[Stage, ...]:
        return (Stage.PIN_SIGNATURE,)

    # --- what the card holds --------------------------------------------------------------

    def job_for(self, cert: CertificateInfo) -> KeyJob:
        """The renewal of one certificate: same kind, same subject, a new key pair."""
        record = present(self.card.record, "card record")
        subject = "personnummer" if cert.personnummer and not cert.hsa_id else "hsa_id"
        serial = format(cert.serial, "x")
        known = self.card_read.issued_as(serial, cert.usage)
        own_pin = cert.usage == "signature" and self.card_read.has_signature_pin
        return KeyJob(
            f"{cert.usage}:{cert.key_id.hex()}",
            cert.usage,
            PinRole.SIGNATURE if own_pin else PinRole.AUTHENTICATION,
            subject,
            record.personnummer if subject == "personnummer" else record.hsa_id,
            cert.key_id.hex(),
            serial,
            serial if known else None,
        )

    def on_card_read(self) -> Step:
        read = self.card_read
        if read.found is not None:  # a visit stopped midway: continue its work
            self.planned = jobs_from_note(read.found.notes.get("jobs", "[]"))
        else:
            now = self.at()
            ending = [
                c for c in read.certificates
                if c.usage in CERTIFICATE_KINDS and c.key_id
                and certificate_expires_soon(c.not_after, now)
            ]
            self.planned = [self.job_for(c) for c in ending]
        if not self.planned:
            first = min((c.not_after for c in read.certificates), default=None)
            renew_from = (
                add_months(first.date(), -CERTIFICATE_WARNING_MONTHS).isoformat()
                if first else None
            )
            return self.card.refuse(
                CardNotEligible("nothing_to_renew", card_number=self.card.number,
                                renew_from=renew_from),
                self,
            )
        return self.show(Stage.CARD_RECORD)

    def on_record_accepted(self) -> Step:
        self.pins.current.clear()
        return self.show(Stage.PIN_CURRENT)

    # --- PINs -------------------------------------------------------------------------

    def after_login(self) -> Step:
        if any(job.role is PinRole.SIGNATURE for job in self.planned):
            self.pins.signature.clear()
            return self.show(Stage.PIN_SIGNATURE)
        return self.begin_work(self.planned)

    def on_signature_pin_submitted(self) -> Step:
        self.pins.require_full(self.pins.signature)
        return self.begin_work(self.planned)

    def role_pin(self, role: PinRole) -> Secret:
        return (self.pins.signature if role is PinRole.SIGNATURE else self.pins.current).copy()

    # --- only now the old ones go ---------------------------------------------------------

    def after_jobs(self) -> Step:
        olds = [(job.role, bytes.fromhex(job.old_key_id)) for job in self.replacing()]
        return self.keys.remove_old(olds, self)

    def replacing(self) -> list[KeyJob]:
        """The jobs that replace a key pair on the card."""
        return [job for job in self.keys.jobs if job.old_key_id]

    def after_removal(self) -> Step:
        olds = self.replacing()
        return self.record_result(
            "renew_certificates",
            {
                "work_id": self.work_id(),
                "certificates": json.dumps(
                    [{"kind": job.certificate_kind, "serial": serial, "not_after": not_after,
                      "subject_id": job.subject_id, "replaced_serial": job.old_serial,
                      "test_signature": "verified"}
                     for job, serial, not_after in self.keys.made]
                ),
                # what the outbox asks the portal to revoke, once this result is sent
                "revoke": json.dumps([job.old_serial for job in olds if job.old_serial]),
            },
        )

    def on_failure(self, effect: Effect, error: KioskError) -> Step:
        role = getattr(effect, "role", None)
        if isinstance(error, WrongPin) and role is PinRole.SIGNATURE:
            self.pins.signature.clear()  # nothing old was removed: type it again
            return self.show(Stage.PIN_SIGNATURE, error)
        return super().on_failure(effect, error)
