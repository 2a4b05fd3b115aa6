"""The signature-certificate visit: a holder whose card has no signature certificate gets
one, with a signature PIN (underskriftskod) of their own.

Card, record (Aktiv), the card read (no signature certificate yet, a signature PIN of its
own), the ID check, the portal's credential for the card (as for an unlock), the holder's
authentication PIN (checked on the card: they log in, and the new PIN must differ from
it), a signature PIN chosen and typed again (the PIN rules of kiosk.rules.pin), then on
the card: the signature PIN set, a key pair generated, the request signed, issued by the
portal, installed, and a test signature with the signature PIN that must verify. The
result goes to the outbox and the portal like every visit's. A visit that crashed or
lost the card midway is continued by the next one on the same card (kiosk.visit.card_keys).
"""

from __future__ import annotations

import json
from dataclasses import replace

from kiosk.errors import CardNotEligible, KioskError, WrongPin
from kiosk.model import AdminAuthorisation, UnlockPurpose, VisitKind
from kiosk.ports import PinRole
from kiosk.settings import Settings
from kiosk.visit.card_keys import CardKeysFlow
from kiosk.visit.contract import Step
from kiosk.visit.document_step import DocumentStep
from kiosk.visit.effects import Effect, SetSignaturePin, StartUnlock
from kiosk.visit.events import Outcome, SignaturePinSet, TicketIssued
from kiosk.visit.key_jobs import KeyJob, key_id_of
from kiosk.visit.secret import Secret
from kiosk.visit.stages import Stage, Transitions, present

SLOT = "signature"


class SignatureCertificateFlow(CardKeysFlow):
    """Download a signature certificate to the card, under a new signature PIN."""

    kind = VisitKind.SIGNATURE_CERTIFICATE

    def __init__(self, admin: AdminAuthorisation, settings: Settings, visit_id: str) -> None:
        super().__init__(admin, settings, visit_id)
        self.document: DocumentStep = DocumentStep(settings.document_rules)

    def transitions(self) -> Transitions:
        return self.pins.routes(super().transitions(), self)

    def on_success(self, outcome: Outcome) -> Step:
        match outcome:
            case TicketIssued():
                self.ticket.credential = Secret(outcome.ticket.credential)
                self.pins.current.clear()
                return self.show(Stage.PIN_CURRENT)
            case SignaturePinSet():
                return self.keys.next(self)
        return super().on_success(outcome)

    def pin_message(self, stage: Stage) -> str | None:
        return {
            Stage.PIN_CURRENT: "visit.pin.pin_current.authentication",
            Stage.PIN_CHOOSE: "visit.pin.pin_choose.signature",
            Stage.PIN_CONFIRM: "visit.pin.pin_confirm.signature",
        }.get(stage)

    def signature_pin_stages(self) -> tuple[Stage, ...]:
        return (Stage.PIN_CHOOSE, Stage.PIN_CONFIRM)

    # --- what the card holds --------------------------------------------------------------

    def on_card_read(self) -> Step:
        read = self.card_read
        resumed = read.found is not None
        ours = key_id_of(self.work_id(), SLOT) if resumed else None
        present_cert = next(
            (c for c in read.certificates if c.usage == "signature" and c.key_id != ours), None
        )
        if present_cert is not None:
            return self.card.refuse(
                CardNotEligible(
                    "signature_certificate_present",
                    card_number=self.card.number,
                    not_after=present_cert.not_after.date().isoformat(),
                ),
                self,
            )
        if not read.has_signature_pin:
            refused = CardNotEligible("no_signature_pin", card_number=self.card.number)
            return self.card.refuse(refused, self)
        return self.show(Stage.CARD_RECORD)

    def on_record_accepted(self) -> Step:
        return self.show(Stage.DOCUMENT_SCAN)

    def on_document_accepted(self) -> Step:
        # the card's PUK/SO credential sets the signature PIN: the portal hands it out
        # after the ID check, as for an unlock, and logs what it was for
        request = self.ticket.request(StartUnlock, self.card.number, self.document.evidence)
        return self.run(Stage.STARTING, replace(request, purpose=UnlockPurpose.SIGNATURE_PIN))

    # --- PINs -------------------------------------------------------------------------

    def after_login(self) -> Step:
        self.pins.new.clear()
        return self.show(Stage.PIN_CHOOSE)  # check_new refuses a PIN like the current one

    def on_pin_confirmed(self) -> Step:
        record = present(self.card.record, "card record")
        job = KeyJob(SLOT, "signature", PinRole.SIGNATURE, "hsa_id", record.hsa_id)
        return self.begin_work([job])

    def role_pin(self, role: PinRole) -> Secret:
        return (self.pins.new if role is PinRole.SIGNATURE else self.pins.current).copy()

    def first_card_step(self) -> Step:
        credential = self.ticket.credential_copy()
        return self.run(
            Stage.WRITING, SetSignaturePin(self.card.reader, credential, self.pins.new.copy())
        )

    # --- the result ---------------------------------------------------------------------

    def after_jobs(self) -> Step:
        job, serial, not_after = self.keys.made[-1]
        return self.record_result(
            "signature_certificate",
            {
                "work_id": self.work_id(),
                "certificates": json.dumps(
                    [{"kind": job.certificate_kind, "serial": serial, "not_after": not_after,
                      "subject_id": job.subject_id, "test_signature": "verified"}]
                ),
                **self.document.result_fields(self.today()),
            },
        )

    def on_failure(self, effect: Effect, error: KioskError) -> Step:
        if isinstance(effect, SetSignaturePin) and isinstance(error, WrongPin):
            return self.abort(error)  # the credential was refused: nothing else changed
        return super().on_failure(effect, error)
