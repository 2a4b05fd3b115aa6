"""The activation visit: card, record, ID document, PIN twice, write, receipt, record, sync."""

from __future__ import annotations

from kiosk.errors import CardNotEligible, CardRemoved, KioskError, PinLocked, WrongPin
from kiosk.model import AdminAuthorisation, CardIdentity, CardRecord, CardStatus, VisitKind
from kiosk.settings import Settings
from kiosk.visit.contract import Step
from kiosk.visit.document_step import DocumentStep
from kiosk.visit.effects import (
    Effect,
    IdentifyCard,
    SignedReceipt,
    SignReceipt,
    StartActivation,
    WritePin,
)
from kiosk.visit.events import (
    CardIdentified,
    CardInserted,
    Outcome,
    PinSubmit,
    PinWritten,
    ReceiptSigned,
    ResultSynced,
    TicketIssued,
)
from kiosk.visit.flow import VisitFlow
from kiosk.visit.pin_entry import PinEntry
from kiosk.visit.result import b64
from kiosk.visit.result_step import ResultStep
from kiosk.visit.stages import Progress, Stage, Transitions


class ActivationFlow(VisitFlow):
    """Activate a Skickad card: the holder's PIN is written and the receipt signed."""

    kind = VisitKind.ACTIVATION

    def __init__(self, admin: AdminAuthorisation, settings: Settings, visit_id: str) -> None:
        super().__init__(admin, settings, visit_id)
        self.document: DocumentStep = DocumentStep(settings.document_rules)
        self.pins = PinEntry(
            settings.pin_policy, pad={Stage.PIN_CHOOSE: WritePin, Stage.SIGN_RECEIPT: SignReceipt}
        )
        self.results = ResultStep(sync=True)
        self.reinserting = False

    def transitions(self) -> Transitions:
        return (
            self.pins.routes(super().transitions(), self)
            .on(Stage.SIGN_RECEIPT, PinSubmit, lambda _: self.on_receipt_pin_submitted())
            .on(Stage.REINSERT, CardInserted, self.on_reinserted)
        )

    def on_success(self, outcome: Outcome) -> Step:
        match outcome:
            case CardIdentified() if self.reinserting:
                return self.on_reidentified(outcome.identity)
            case TicketIssued():  # the portal started it: the holder chooses a PIN
                self.ticket.issued(outcome.ticket)
                self.progress = Progress.STARTED
                return self.enter_pin_stage(Stage.PIN_CHOOSE)
            case PinWritten():
                return self.on_pin_written()
            case ReceiptSigned():
                return self.on_receipt_signed(outcome.signed)
            case ResultSynced():
                return self.on_synced(outcome.record)
        return super().on_success(outcome)

    def on_record_accepted(self) -> Step:
        return self.show(Stage.DOCUMENT_SCAN)

    def on_document_accepted(self) -> Step:
        request = self.ticket.request(StartActivation, self.card.number, self.document.evidence)
        return self.run(Stage.STARTING, request)

    def on_pin_confirmed(self) -> Step:
        self.progress = Progress.WRITING
        return self.run(Stage.WRITING, self.pin_effect(WritePin))

    def on_pin_written(self) -> Step:
        self.progress = Progress.PIN_SET
        self.pins.new.wipe()  # the holder types it again to sign: the flow forgets it now
        self.ticket.wipe()
        return self.enter_pin_stage(Stage.SIGN_RECEIPT)

    def on_receipt_pin_submitted(self) -> Step:
        self.pins.require_full(self.pins.receipt)
        return self.run(Stage.SIGNING, self.pin_effect(SignReceipt))

    def on_receipt_signed(self, signed: SignedReceipt) -> Step:
        self.pins.receipt.wipe()
        payload = {
            "activation_id": self.ticket.id or "",
            "receipt": b64(self.results.receipt(self)),
            "signature": b64(signed.signature),
            "certificate": b64(signed.certificate),
            **self.document.result_fields(self.today()),
            "checks": ",".join(c.name for c in self.document.checks if c.ok),
        }
        return self.results.record("complete", payload, self)

    def on_synced(self, record: CardRecord | None) -> Step:
        if record is not None and record.status is not CardStatus.ACTIVE:
            return self.results.done(self, "visit.done.activation.not_active")
        return self.results.done(self)

    def on_card_removed(self) -> Step:
        """After the PIN is written the card may come back to sign; the visit goes on."""
        signing = self.stage in (Stage.SIGN_RECEIPT, Stage.SIGNING, Stage.REINSERT)
        if self.progress is Progress.PIN_SET and (signing or self.reinserting):
            self.pins.receipt.clear()
            self.pending.clear()  # a late signing outcome is ignored: the holder signs again
            self.card.inserted = False
            self.reinserting = True
            return self.show(Stage.REINSERT, CardRemoved())
        return super().on_card_removed()

    def on_reinserted(self, event: CardInserted) -> Step:
        self.reinserting = True
        return self.card.insert(event, self)

    def on_reidentified(self, identity: CardIdentity) -> Step:
        """The card back to sign: the same card, else asked for again."""
        number = identity.card_number
        if number and number != self.card.number:
            wrong = CardNotEligible(
                "card_number_mismatch", card_number=self.card.number, on_card=number
            )
            return self.show(Stage.REINSERT, wrong)
        self.reinserting = False
        self.pins.on_reader_pad = identity.pin_pad
        return self.enter_pin_stage(Stage.SIGN_RECEIPT)

    def on_failure(self, effect: Effect, error: KioskError) -> Step:
        if isinstance(effect, IdentifyCard) and self.reinserting:
            self.card.inserted = False
            return self.show(Stage.REINSERT, error)
        if isinstance(effect, SignReceipt) and isinstance(error, WrongPin):
            self.pins.receipt.clear()
            return self.show(Stage.SIGN_RECEIPT, error)
        if isinstance(error, PinLocked):
            return self.abort(error)
        return super().on_failure(effect, error)
