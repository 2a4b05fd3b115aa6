"""A part of the visits that put new key pairs and certificates on a card.

The signature-certificate and renew-certificates visits share it: read what the card
holds (ReadCardKeys) and whether a crashed visit left work on it (FindCardWork), log the
holder in with the authentication PIN (a test signature that must verify with the card's
authentication certificate), then run each ``KeyJob`` through the same safe order:
generate the key pair on the card, have the card sign the request, let the portal
issue, install, and sign test data that must verify with the new certificate.

Nothing a crash could make twice is made before it is durable: ``BeginCardWork`` commits
the work (its id gives every key id and idempotency key) before the card or the portal is
touched, the runner keeps each signed request and issued certificate in it before the
flow sees them, and a visit restarted on the same card continues that work: the same key
pair is found on the card, the same request is sent with the same key, the portal answers
from its idempotency record. Recording the result ends the work.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace

from kiosk.errors import (
    CardNotEligible,
    CardRemoved,
    CertificateCheckFailed,
    KioskError,
    PinLocked,
    WrongPin,
)
from kiosk.model import AdminAuthorisation, CardRecord, CardWork, CertificateInfo
from kiosk.pki import certificate_key, certificate_serial, signature_verifies
from kiosk.ports import CardKey, PinRole
from kiosk.settings import Settings
from kiosk.visit.contract import Step, View
from kiosk.visit.effects import (
    BeginCardWork,
    Effect,
    FindCardWork,
    GenerateKeyPair,
    InstallCertificate,
    IssueCertificate,
    ReadCardKeys,
    SetSignaturePin,
    SignProbe,
    SignRequest,
)
from kiosk.visit.events import (
    CardKeysRead,
    CardWorkBegun,
    CardWorkFound,
    CertificateInstalled,
    CertificateIssued,
    KeyPairGenerated,
    Outcome,
    PinSubmit,
    ProbeSigned,
    RecordFetched,
    RequestSigned,
)
from kiosk.visit.flow import VisitFlow
from kiosk.visit.result_step import ResultStep
from kiosk.visit.secret import Secret
from kiosk.visit.stages import Progress, Stage, Transitions, present
from kiosk.visit.work_notes import issued_note, request_note

LOGIN_DATA = b"SITHS kiosk: the holder logs in with the authentication PIN\n"
TEST_DATA = b"SITHS kiosk: test signature with the new certificate\n"
LABELS = {
    "authentication": "Legitimering", "signature": "Underskrift",
    "additional": "Tilläggscertifikat",
}


@dataclass(frozen=True)
class KeyJob:
    """One new key pair and its certificate; on renewal, the old one it replaces."""

    slot: str  # names the job within the work (and derives its key id)
    certificate_kind: str  # authentication or signature
    role: PinRole
    subject_id: str  # hsa_id or personnummer: what the certificate is based on
    serial_number: str  # that id's value, in the request's subject
    old_key_id: str = ""  # hex CKA_ID of the key pair it replaces ("" for a new one)
    old_serial: str = ""  # hex serial of the certificate it replaces
    replaces: str | None = None  # old_serial when the portal issued it (else unknown there)

    @property
    def label(self) -> str:
        """The label of the key pair and certificate on the card."""
        return LABELS.get(self.certificate_kind, self.certificate_kind)


def jobs_note(jobs: list[KeyJob]) -> str:
    """The jobs as the card work keeps them (JSON)."""
    return json.dumps([asdict(job) for job in jobs], sort_keys=True)


def jobs_from_note(text: str) -> list[KeyJob]:
    """The jobs a card work kept; hostile or damaged text gives none."""
    try:
        items = json.loads(text)
        names = {f.name for f in fields(KeyJob)}
        return [
            KeyJob(**{**{k: v for k, v in item.items() if k in names},
                      "role": PinRole(item["role"])})
            for item in items
        ]
    except (ValueError, TypeError, KeyError, AttributeError):
        return []


def key_id_of(work_id: str, slot: str) -> bytes:
    """The CKA_ID of the job's new key pair: the same for every visit continuing the work."""
    return hashlib.sha256(f"{work_id}:{slot}".encode()).digest()[:8]


def verifies(der: bytes, signature: bytes, data: bytes) -> bool:
    """Whether the signature verifies with the certificate (False for a broken one)."""
    try:
        return signature_verifies(der, signature, data)
    except ValueError:
        return False


class CardKeysFlow(VisitFlow):
    """The shared machine of the visits that put key pairs and certificates on a card."""

    def __init__(self, admin: AdminAuthorisation, settings: Settings, visit_id: str) -> None:
        super().__init__(admin, settings, visit_id)
        self.results = ResultStep(sync=True)
        self.certificates: tuple[CertificateInfo, ...] = ()
        self.has_signature_pin = False
        self.found: CardWork | None = None
        self.work: CardWork | None = None
        self.reads: set[type[Outcome]] = set()
        self.jobs: list[KeyJob] = []
        self.job = 0
        self.key: CardKey | None = None
        self.der = b""
        self.made: list[tuple[KeyJob, str, str]] = []  # (job, new serial, not_after)

    # --- the table ------------------------------------------------------------------------

    def transitions(self) -> Transitions:
        return super().transitions().on(
            Stage.PIN_CURRENT, PinSubmit, lambda _: self.on_current_submitted()
        )

    def on_success(self, outcome: Outcome) -> Step:
        match outcome:
            case RecordFetched():
                return self.on_record(outcome.record)
            case CardKeysRead():
                self.certificates = outcome.certificates
                self.has_signature_pin = outcome.has_signature_pin
                return self.after_read(CardKeysRead)
            case CardWorkFound():
                self.found = outcome.work
                return self.after_read(CardWorkFound)
            case CardWorkBegun():
                return self.on_work_begun(outcome.work)
            case KeyPairGenerated():
                return self.on_key(outcome.key)
            case RequestSigned():
                return self.issue(outcome.request)
            case CertificateIssued():
                return self.install(outcome.certificate.der)
            case CertificateInstalled():
                return self.test()
            case ProbeSigned():
                return self.on_probe(outcome.effect, outcome.signature)
        return super().on_success(outcome)

    # --- reading the card -----------------------------------------------------------------

    def read_effects(self) -> tuple[Effect, ...]:
        """What the visit reads once the record is accepted by the card rules."""
        number = present(self.card.number, "card number")
        return (ReadCardKeys(self.card.reader), FindCardWork(number, self.kind.value))

    def on_record(self, record: CardRecord) -> Step:
        step = self.card.fetched(record, self)
        if step.finished:
            return step  # refused by the card rules (not Aktiv, expired, foreign...)
        if self.card.identity is not None and self.card.identity.pin_pad:
            return self.card.refuse(CardNotEligible("key_work_on_pin_pad"), self)
        self.reads = set()
        return self.run(Stage.READING, *self.read_effects())

    def reads_needed(self) -> set[type[Outcome]]:
        return {CardKeysRead, CardWorkFound}

    def after_read(self, what: type[Outcome]) -> Step:
        self.reads.add(what)
        if self.stage is not Stage.READING:  # a sibling read failed: the retry reads again
            return self.show(self.stage)
        if not self.reads_needed() <= self.reads:
            return self.show(Stage.READING)
        return self.on_card_read()

    def on_card_read(self) -> Step:
        """Everything is read: refuse, or show the record for review."""
        raise NotImplementedError

    def work_id(self) -> str:
        """The id of the work this visit does: a crashed visit's, else this visit's."""
        if self.work is not None:
            return self.work.work_id
        return self.found.work_id if self.found is not None else self.visit_id

    def authentication_certificate(self) -> CertificateInfo | None:
        """The card's authentication certificate whose key pair is known (for logging in)."""
        return next(
            (c for c in self.certificates if c.usage == "authentication" and c.key_id and c.der),
            None,
        )

    # --- logging in with the authentication PIN ------------------------------------------

    def on_current_submitted(self) -> Step:
        self.pins.require_full(self.pins.current)
        auth = self.authentication_certificate()
        if auth is None:
            return self.after_login()  # nothing to log in with: the key work checks the PIN
        probe = SignProbe(
            self.card.reader, PinRole.AUTHENTICATION, self.pins.current.copy(), auth.key_id,
            LOGIN_DATA,
        )
        return self.run(Stage.LOGGING_IN, probe)

    def after_login(self) -> Step:
        """The authentication PIN is right: the visit's next PIN stage."""
        raise NotImplementedError

    def on_probe(self, effect: SignProbe, signature: bytes) -> Step:
        if effect.data == LOGIN_DATA:
            auth = present(self.authentication_certificate(), "authentication certificate")
            if not verifies(auth.der, signature, LOGIN_DATA):
                return self.abort(CertificateCheckFailed("the login signature does not verify"))
            return self.after_login()
        if not verifies(self.der, signature, TEST_DATA):
            return self.abort(
                CertificateCheckFailed("the test signature does not verify", slot=self.current.slot)
            )
        self.made.append((self.current, certificate_serial(self.der), self.not_after()))
        self.job += 1
        return self.next_job()

    # --- the work, made durable first -----------------------------------------------------

    def begin_work(self, jobs: list[KeyJob]) -> Step:
        """Commit the work (or find the open one) before the card or portal is touched."""
        work = CardWork(
            self.work_id(), self.kind.value, present(self.card.number, "card number"),
            self.admin.hsa_id, self.at(), {"jobs": jobs_note(jobs)},
        )
        return self.run(Stage.PREPARING, BeginCardWork(work))

    def on_work_begun(self, work: CardWork) -> Step:
        self.work = work
        self.jobs = jobs_from_note(work.notes.get("jobs", "[]"))
        self.job = 0
        self.made = []
        self.progress = Progress.WRITING  # the card changes from now on
        return self.first_card_step()

    def first_card_step(self) -> Step:
        """The first card effect once the work is durable (the signature PIN, or a key)."""
        return self.next_job()

    @property
    def current(self) -> KeyJob:
        return self.jobs[self.job]

    def role_pin(self, role: PinRole) -> Secret:
        """A copy of the PIN that guards ``role``'s keys, as typed in this visit."""
        raise NotImplementedError

    def next_job(self) -> Step:
        if self.job >= len(self.jobs):
            return self.after_jobs()
        job = self.current
        self.key, self.der = None, b""
        effect = GenerateKeyPair(
            self.card.reader, job.role, self.role_pin(job.role),
            key_id_of(self.work_id(), job.slot), job.label,
        )
        return self.run(Stage.GENERATING, effect)

    def after_jobs(self) -> Step:
        """Every new certificate verified on the card."""
        raise NotImplementedError

    def on_key(self, key: CardKey) -> Step:
        self.key = key
        notes = present(self.work, "card work").notes
        issued = notes.get(issued_note(self.issue_key()))
        if issued:  # a crashed visit got it: install what the portal issued
            return self.install(base64.b64decode(issued))
        request = notes.get(request_note(key.key_id))
        if request:  # the same request again: the portal answers from its record
            return self.issue(base64.b64decode(request))
        job = self.current
        record = present(self.card.record, "card record")
        effect = SignRequest(
            self.card.reader, job.role, self.role_pin(job.role), key.key_id, record.holder_name,
            job.serial_number, self.work_id(),
        )
        return self.run(Stage.REQUESTING, effect)

    def issue_key(self) -> str:
        return f"{self.work_id()}:issue:{self.current.slot}"

    def issue(self, request: bytes) -> Step:
        job, work = self.current, present(self.work, "card work")
        effect = IssueCertificate(
            work.card_number, work.admin_hsa_id, job.certificate_kind, job.subject_id, request,
            self.issue_key(), job.replaces, self.issue_organisation(), work.work_id,
        )
        return self.run(Stage.ISSUING, effect)

    def issue_organisation(self) -> str | None:
        """The organisation the certificate is issued for (None: the card's own)."""
        return None

    def install(self, der: bytes) -> Step:
        key = present(self.key, "key pair")
        try:
            matches = certificate_key(der) == key.public_key
        except ValueError:  # not a certificate
            matches = False
        if not matches:
            return self.abort(
                CertificateCheckFailed("the certificate is not for the card's key pair")
            )
        self.der = der
        job = self.current
        effect = InstallCertificate(
            self.card.reader, job.role, self.role_pin(job.role), key.key_id, job.label, der
        )
        return self.run(Stage.INSTALLING, effect)

    def test(self) -> Step:
        job, key = self.current, present(self.key, "key pair")
        reader, pin = self.card.reader, self.role_pin(job.role)
        effect = SignProbe(reader, job.role, pin, key.key_id, TEST_DATA)
        return self.run(Stage.TESTING, effect)

    def not_after(self) -> str:
        from cryptography import x509

        return x509.load_der_x509_certificate(self.der).not_valid_after_utc.date().isoformat()

    def record_result(self, key_suffix: str, payload: dict[str, str]) -> Step:
        """The result, keyed by the work: a continued visit records the same result."""
        return self.results.record(key_suffix, payload, self, keyed_by=self.work_id())

    # --- failures and retries ------------------------------------------------------------

    def fresh(self, effect: Effect) -> Effect:
        """A retried card effect gets fresh copies of its PINs (the runner wiped them)."""
        if isinstance(effect, SetSignaturePin):
            credential = self.ticket.credential_copy()
            return replace(effect, credential=credential, pin=self.pins.new.copy())
        if isinstance(effect, GenerateKeyPair | SignRequest | InstallCertificate | SignProbe):
            return replace(effect, pin=self.role_pin(effect.role))
        return super().fresh(effect)

    def on_failure(self, effect: Effect, error: KioskError) -> Step:
        if isinstance(error, PinLocked):
            return self.abort(error)
        if isinstance(effect, SignProbe) and effect.data == LOGIN_DATA:
            if isinstance(error, WrongPin):
                self.pins.current.clear()
                return self.show(Stage.PIN_CURRENT, error)
            if isinstance(error, CardRemoved):
                return self.abort(error)
        if self.stage is Stage.READING and effect.kind in {e.kind for e in self.read_effects()}:
            # the reads run side by side: one failure stops the reading, a retry runs them all
            if not self.can_retry_read(error):
                return self.abort(error)
            self.reads = set()
            return self.fail(error, *self.read_effects())
        if self.stage is Stage.FAILED and self.failed_stage is Stage.READING:
            return self.show(Stage.FAILED)  # a sibling read failed too: already shown
        return super().on_failure(effect, error)

    def can_retry_read(self, error: KioskError) -> bool:
        from kiosk.visit.errorview import can_retry

        return can_retry(error) and not isinstance(error, CardRemoved)

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
