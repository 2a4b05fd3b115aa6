"""The shared machine of the visits that put new key pairs and certificates on a card.

The signature-certificate, renew-certificates and additional-certificate visits are the
visit core composed with two parts of their own: ``CardRead`` (kiosk/visit/card_read.py:
what the card holds, the work a crashed visit left, what the portal issued) and
``KeyJobs`` (key_jobs.py: each new key pair generated, its request signed, issued,
installed and tested, then the old ones removed). This machine adds what they share: the
card read once the record is accepted, the holder logging in with the authentication PIN
(a test signature that must verify with the card's authentication certificate), and the
work made durable first.

Nothing a crash could make twice is made before it is durable: ``BeginCardWork`` commits
the work (its id gives every key id and idempotency key) before the card or the portal is
touched, the runner keeps each signed request and issued certificate in it before the
flow sees them, and a visit restarted on the same card continues that work: the same key
pair is found on the card, the same request is sent with the same key, the portal answers
from its idempotency record. Recording the result ends the work.
"""

from __future__ import annotations

from dataclasses import replace

from kiosk.errors import (
    CardNotEligible,
    CardRemoved,
    CertificateCheckFailed,
    KioskError,
    PinLocked,
    WrongPin,
)
from kiosk.model import AdminAuthorisation, CardRecord, CardWork
from kiosk.ports import PinRole
from kiosk.settings import Settings
from kiosk.visit.card_read import CardRead
from kiosk.visit.contract import Step, View
from kiosk.visit.effects import BeginCardWork, Effect, SetSignaturePin, SignProbe
from kiosk.visit.events import CardWorkBegun, Outcome, PinSubmit, ProbeSigned, RecordFetched
from kiosk.visit.flow import VisitFlow
from kiosk.visit.key_jobs import KeyJob, KeyJobs, jobs_note, verifies
from kiosk.visit.result_step import ResultStep
from kiosk.visit.secret import Secret
from kiosk.visit.stages import Stage, Transitions, present

LOGIN_DATA = b"SITHS kiosk: the holder logs in with the authentication PIN\n"


class CardKeysFlow(VisitFlow):
    """The visit core with the card read, the holder's login and the key jobs."""

    def __init__(
        self, admin: AdminAuthorisation, settings: Settings, visit_id: str,
        list_issued: bool = False,
    ) -> None:
        super().__init__(admin, settings, visit_id)
        self.results = ResultStep(sync=True)
        self.card_read = CardRead(list_issued)
        self.keys = KeyJobs()

    def transitions(self) -> Transitions:
        return super().transitions().on(
            Stage.PIN_CURRENT, PinSubmit, lambda _: self.on_current_submitted()
        )

    def on_success(self, outcome: Outcome) -> Step:
        match outcome:
            case RecordFetched():
                return self.on_record(outcome.record)
            case CardWorkBegun():
                return self.on_work_begun(outcome.work)
            case ProbeSigned() if outcome.effect.data == LOGIN_DATA:
                return self.on_login_signed(outcome.signature)
        step = self.card_read.outcome(outcome, self) or self.keys.outcome(outcome, self)
        return step if step is not None else super().on_success(outcome)

    def on_record(self, record: CardRecord) -> Step:
        step = self.card.fetched(record, self)
        if step.finished:
            return step  # refused by the card rules (not Aktiv, expired, foreign...)
        if self.card.identity is not None and self.card.identity.pin_pad:
            return self.card.refuse(CardNotEligible("key_work_on_pin_pad"), self)
        return self.card_read.start(self)

    def on_card_read(self) -> Step:
        """Everything is read: refuse, or show the record for review."""
        raise NotImplementedError

    def work_id(self) -> str:
        """The id of the work this visit does: a crashed visit's, else this visit's."""
        if self.keys.work is not None:
            return self.keys.work.work_id
        found = self.card_read.found
        return found.work_id if found is not None else self.visit_id

    # --- logging in with the authentication PIN ------------------------------------------

    def on_current_submitted(self) -> Step:
        self.pins.require_full(self.pins.current)
        auth = self.card_read.authentication_certificate()
        if auth is None:
            return self.after_login()  # nothing to log in with: the key work checks the PIN
        probe = SignProbe(
            self.card.reader, PinRole.AUTHENTICATION, self.pins.current.copy(), auth.key_id,
            LOGIN_DATA,
        )
        return self.run(Stage.LOGGING_IN, probe)

    def on_login_signed(self, signature: bytes) -> Step:
        auth = present(self.card_read.authentication_certificate(), "authentication certificate")
        if not verifies(auth.der, signature, LOGIN_DATA):
            return self.abort(CertificateCheckFailed("the login signature does not verify"))
        return self.after_login()

    def after_login(self) -> Step:
        """The authentication PIN is right: the visit's next PIN stage."""
        raise NotImplementedError

    # --- the work, made durable first -----------------------------------------------------

    def begin_work(self, jobs: list[KeyJob], notes: dict[str, str] | None = None) -> Step:
        """Commit the work (or find the open one) before the card or portal is touched."""
        work = CardWork(
            self.work_id(), self.kind.value, present(self.card.number, "card number"),
            self.admin.hsa_id, self.at(), {"jobs": jobs_note(jobs), **(notes or {})},
        )
        return self.run(Stage.PREPARING, BeginCardWork(work))

    def on_work_begun(self, work: CardWork) -> Step:
        return self.keys.begun(work, self)

    def first_card_step(self) -> Step:
        """The first card effect once the work is durable (the signature PIN, or a key)."""
        return self.keys.next(self)

    def role_pin(self, role: PinRole) -> Secret:
        """A copy of the PIN that guards ``role``'s keys, as typed in this visit."""
        raise NotImplementedError

    def issue_organisation(self) -> str | None:
        """The organisation the certificate is issued for (None: the card's own)."""
        return None

    def after_jobs(self) -> Step:
        """Every new certificate verified on the card."""
        raise NotImplementedError

    def after_removal(self) -> Step:
        """Every old key pair this visit removes is gone from the card."""
        raise NotImplementedError

    def record_result(self, key_suffix: str, payload: dict[str, str]) -> Step:
        """The result, keyed by the work: a continued visit records the same result."""
        return self.results.record(key_suffix, payload, self, keyed_by=self.work_id())

    # --- failures and retries ------------------------------------------------------------

    def fresh(self, effect: Effect) -> Effect:
        """A retried card effect gets fresh copies of its PINs (the runner wiped them)."""
        if isinstance(effect, SetSignaturePin):
            credential = self.ticket.credential_copy()
            return replace(effect, credential=credential, pin=self.pins.new.copy())
        key_effect = self.keys.fresh(effect, self)
        return key_effect if key_effect is not None else super().fresh(effect)

    def on_failure(self, effect: Effect, error: KioskError) -> Step:
        if isinstance(error, PinLocked):
            return self.abort(error)
        if isinstance(effect, SignProbe) and effect.data == LOGIN_DATA:
            if isinstance(error, WrongPin):
                self.pins.current.clear()
                return self.show(Stage.PIN_CURRENT, error)
            if isinstance(error, CardRemoved):
                return self.abort(error)
        step = self.card_read.failed(effect, error, self)
        return step if step is not None else super().on_failure(effect, error)

    # --- views ------------------------------------------------------------------------------

    def pin_message(self, stage: Stage) -> str | None:
        """This visit's own text for a PIN stage (None: the shared one)."""
        return None

    def signature_pin_stages(self) -> tuple[Stage, ...]:
        """The PIN stages where the holder types the signature PIN (the pad says so)."""
        return ()

    def stage_view(self, stage: Stage, error: BaseException | None = None) -> View:
        view = super().stage_view(stage, error)
        message = self.pin_message(stage) if not self.pins.on_reader_pad else None
        if message:
            view = replace(view, message=message)
        if stage in self.signature_pin_stages():
            view = replace(view, params={**view.params, "pin_role": PinRole.SIGNATURE.value})
        return view
