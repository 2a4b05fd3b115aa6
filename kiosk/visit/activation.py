"""The activation visit: card, record, ID document, PIN twice, write, receipt, record, sync."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.errors import CardNotEligible, CardRemoved, KioskError, PinLocked, WrongPin
from kiosk.model import CardIdentity, CardRecord, CardStatus, VisitKind
from kiosk.visit.base import Effect, Event, Step
from kiosk.visit.document_step import DocumentCheckedFlow
from kiosk.visit.effects import EffectKind, SignedReceipt
from kiosk.visit.flow import Handler, Progress, Stage, b64, present


class ActivationFlow(DocumentCheckedFlow):
    """Activate a Skickad card: the holder's PIN is written and the receipt signed."""

    kind = VisitKind.ACTIVATION
    reinserting = False

    def transitions(self) -> dict[tuple[Stage, str], Handler]:
        return {
            **super().transitions(),
            **self.pin_transitions(),
            (Stage.SIGN_RECEIPT, "pin_submit"): self.on_receipt_pin_submitted,
            (Stage.REINSERT, "card_inserted"): self.on_reinserted,
        }

    def success_handlers(self) -> dict[str, Callable[[Any], Step]]:
        return {
            **super().success_handlers(),
            EffectKind.START_ACTIVATION: self.on_ticket,
            EffectKind.WRITE_PIN: self.on_pin_written,
            EffectKind.SIGN_RECEIPT: self.on_receipt_signed,
            EffectKind.SYNC_RESULT: self.on_synced,
        }

    def pad_effects(self) -> dict[Stage, EffectKind]:
        return {Stage.PIN_CHOOSE: EffectKind.WRITE_PIN, Stage.SIGN_RECEIPT: EffectKind.SIGN_RECEIPT}

    def on_document_accepted(self) -> Step:
        return self.start_ticket(EffectKind.START_ACTIVATION)

    def on_pin_confirmed(self) -> Step:
        self.progress = Progress.WRITING
        return self.run(Stage.WRITING, self.pin_effect(EffectKind.WRITE_PIN))

    def on_pin_written(self, _: Any) -> Step:
        self.progress = Progress.PIN_SET
        self.new_pin.wipe()  # the holder types it again to sign: the flow forgets it now
        if self.credential is not None:
            self.credential.wipe()
            self.credential = None
        return self.enter_pin_stage(Stage.SIGN_RECEIPT)

    def on_receipt_pin_submitted(self, event: Event) -> Step:
        self.require_full(self.receipt_pin)
        return self.run(Stage.SIGNING, self.pin_effect(EffectKind.SIGN_RECEIPT))

    def on_receipt_signed(self, signed: Any) -> Step:
        self.receipt_pin.wipe()
        if not isinstance(signed, SignedReceipt):
            return self.abort(KioskError("signing returned no signature"))
        summary = self.evidence_summary()
        result = self.make_result(
            "complete",
            {
                "activation_id": self.activation_id or "",
                "receipt": b64(self.receipt_bytes()),
                "signature": b64(signed.signature),
                "certificate": b64(signed.certificate),
                "document_type": summary["doc_type"],
                "document_expiry": summary["expiry"],
                "document_how": summary["how"],
                "checks": ",".join(c.name for c in self.checks if c.ok),
            },
        )
        return self.record_result(result)

    def on_recorded(self, outbox_id: Any) -> Step:
        self.progress = Progress.RECORDED
        result = present(self.result, "result")
        return self.run(Stage.SYNCING, Effect(EffectKind.SYNC_RESULT, {"result": result}))

    def on_synced(self, record: Any) -> Step:
        if isinstance(record, CardRecord) and record.status is not CardStatus.ACTIVE:
            return self.done("visit.done.activation.not_active")
        return self.done()

    def on_card_removed(self) -> Step:
        """After the PIN is written the card may come back to sign; the visit goes on."""
        signing = self.stage in (Stage.SIGN_RECEIPT, Stage.SIGNING, Stage.REINSERT)
        if self.progress is Progress.PIN_SET and (signing or self.reinserting):
            self.receipt_pin.clear()
            self.pending.clear()  # a late signing outcome is ignored: the holder signs again
            self.card_in = False
            self.reinserting = True
            return self.show(Stage.REINSERT, CardRemoved())
        return super().on_card_removed()

    def on_reinserted(self, event: Event) -> Step:
        self.reinserting = True
        return self.on_card_inserted(event)

    def on_identified(self, identity: Any) -> Step:
        if not self.reinserting:
            return super().on_identified(identity)
        number = identity.card_number if isinstance(identity, CardIdentity) else None
        if number and number != self.card_number:
            wrong = CardNotEligible(
                "card_number_mismatch", card_number=self.card_number, on_card=number
            )
            return self.show(Stage.REINSERT, wrong)
        self.reinserting = False
        self.pin_pad = identity.pin_pad if isinstance(identity, CardIdentity) else False
        return self.enter_pin_stage(Stage.SIGN_RECEIPT)

    def on_failure(self, effect: Effect, error: KioskError) -> Step:
        if effect.kind == EffectKind.IDENTIFY_CARD and self.reinserting:
            self.card_in = False
            return self.show(Stage.REINSERT, error)
        if effect.kind == EffectKind.SYNC_RESULT:
            message, shown = self.sync_failed_message(error)
            return self.done(message, shown)
        if effect.kind == EffectKind.SIGN_RECEIPT and isinstance(error, WrongPin):
            self.receipt_pin.clear()
            return self.show(Stage.SIGN_RECEIPT, error)
        if isinstance(error, PinLocked):
            return self.abort(error)
        return super().on_failure(effect, error)
