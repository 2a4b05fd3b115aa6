"""The key jobs: a part of the certificate visits, new key pairs and certificates on a card.

Each ``KeyJob`` runs through the same safe order: a key pair generated on the card, the
request signed on the card, issued by the portal, installed, and test data signed that
must verify with the new certificate. Only once every job verified may old key pairs be
removed (``remove_old``). The jobs are read back from the card work that
``BeginCardWork`` committed before the card or the portal was touched; the work's id gives
every key id and idempotency key, and the effect runner keeps each signed request and
issued certificate in the work's notes (kiosk/visit/work_notes.py), so a visit continuing
the work finds the same key pair, sends the same request and installs what was issued.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Protocol

from kiosk.errors import CertificateCheckFailed, KioskError
from kiosk.model import CardWork
from kiosk.pki import (
    certificate_key,
    certificate_not_after,
    certificate_serial,
    signature_verifies,
)
from kiosk.ports import CardKey, PinRole
from kiosk.visit.card_step import CardStep
from kiosk.visit.contract import Step
from kiosk.visit.effects import (
    DeleteKeyPair,
    Effect,
    GenerateKeyPair,
    InstallCertificate,
    IssueCertificate,
    SignProbe,
    SignRequest,
)
from kiosk.visit.events import (
    CertificateInstalled,
    CertificateIssued,
    KeyPairDeleted,
    KeyPairGenerated,
    Outcome,
    ProbeSigned,
    RequestSigned,
)
from kiosk.visit.secret import Secret
from kiosk.visit.stages import Progress, Stage, present
from kiosk.visit.work_notes import issued_note, request_note

TEST_DATA = b"SITHS kiosk: test signature with the new certificate\n"
# the card effects of a key job, each with the PIN that guards its role's keys
KEY_EFFECTS = (GenerateKeyPair, SignRequest, InstallCertificate, SignProbe, DeleteKeyPair)
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


class KeyHost(Protocol):
    """What the key jobs need from the visit they are part of."""

    card: CardStep
    progress: Progress

    def run(self, stage: Stage, *effects: Effect) -> Step:
        """Enter a working ``stage`` and ask for ``effects``."""
        ...

    def abort(self, error: KioskError) -> Step:
        """End early, explaining the card's state."""
        ...

    def role_pin(self, role: PinRole) -> Secret:
        """A copy of the PIN that guards ``role``'s keys, as typed in this visit."""
        ...

    def issue_organisation(self) -> str | None:
        """The organisation the certificate is issued for (None: the card's own)."""
        ...

    def first_card_step(self) -> Step:
        """The first card effect once the work is durable."""
        ...

    def after_jobs(self) -> Step:
        """Every new certificate verified on the card."""
        ...

    def after_removal(self) -> Step:
        """Every old key pair named to ``remove_old`` is gone from the card."""
        ...


class KeyJobs:
    """The committed work's jobs, the one in hand, what was made, and what old ones go."""

    def __init__(self) -> None:
        self.work: CardWork | None = None
        self.jobs: list[KeyJob] = []
        self.job = 0
        self.key: CardKey | None = None
        self.der = b""
        self.made: list[tuple[KeyJob, str, str]] = []  # (job, new serial, not_after)
        self.olds: list[tuple[PinRole, bytes]] = []  # (role, key id) of the pairs to remove
        self.removed = 0

    @property
    def current(self) -> KeyJob:
        """The job in hand."""
        return self.jobs[self.job]

    @property
    def work_id(self) -> str:
        """The id of the committed work."""
        return present(self.work, "card work").work_id

    def begun(self, work: CardWork, host: KeyHost) -> Step:
        """The work is durable: its jobs from the first, the card changes from now on."""
        self.work = work
        self.jobs = jobs_from_note(work.notes.get("jobs", "[]"))
        self.job = 0
        self.made = []
        host.progress = Progress.WRITING
        return host.first_card_step()

    def outcome(self, outcome: Outcome, host: KeyHost) -> Step | None:
        """The next step after a key job's effect; None for any other outcome."""
        match outcome:
            case KeyPairGenerated():
                return self.generated(outcome.key, host)
            case RequestSigned():
                return self.issue(outcome.request, host)
            case CertificateIssued():
                return self.install(outcome.certificate.der, host)
            case CertificateInstalled():
                return self.test(host)
            case ProbeSigned():
                return self.tested(outcome.signature, host)
            case KeyPairDeleted():
                self.removed += 1
                return self.remove_next(host)
        return None

    def next(self, host: KeyHost) -> Step:
        """Generate the next job's key pair; after the last job, ``host.after_jobs``."""
        if self.job >= len(self.jobs):
            return host.after_jobs()
        job = self.current
        self.key, self.der = None, b""
        effect = GenerateKeyPair(
            host.card.reader, job.role, host.role_pin(job.role),
            key_id_of(self.work_id, job.slot), job.label,
        )
        return host.run(Stage.GENERATING, effect)

    def generated(self, key: CardKey, host: KeyHost) -> Step:
        """The key pair is on the card: install, issue or sign what the work has not yet."""
        self.key = key
        notes = present(self.work, "card work").notes
        issued = notes.get(issued_note(self.issue_key()))
        if issued:  # a crashed visit got it: install what the portal issued
            return self.install(base64.b64decode(issued), host)
        request = notes.get(request_note(key.key_id))
        if request:  # the same request again: the portal answers from its record
            return self.issue(base64.b64decode(request), host)
        job = self.current
        record = present(host.card.record, "card record")
        effect = SignRequest(
            host.card.reader, job.role, host.role_pin(job.role), key.key_id,
            record.holder_name, job.serial_number, self.work_id,
        )
        return host.run(Stage.REQUESTING, effect)

    def issue_key(self) -> str:
        """The idempotency key of the job's issuance."""
        return f"{self.work_id}:issue:{self.current.slot}"

    def issue(self, request: bytes, host: KeyHost) -> Step:
        """Ask the portal to issue the certificate for the signed request."""
        job, work = self.current, present(self.work, "card work")
        effect = IssueCertificate(
            work.card_number, work.admin_hsa_id, job.certificate_kind, job.subject_id, request,
            self.issue_key(), job.replaces, host.issue_organisation(), work.work_id,
        )
        return host.run(Stage.ISSUING, effect)

    def install(self, der: bytes, host: KeyHost) -> Step:
        """Install the certificate, once it is for the card's new key pair."""
        key = present(self.key, "key pair")
        try:
            matches = certificate_key(der) == key.public_key
        except ValueError:  # not a certificate
            matches = False
        if not matches:
            return host.abort(
                CertificateCheckFailed("the certificate is not for the card's key pair")
            )
        self.der = der
        job = self.current
        effect = InstallCertificate(
            host.card.reader, job.role, host.role_pin(job.role), key.key_id, job.label, der
        )
        return host.run(Stage.INSTALLING, effect)

    def test(self, host: KeyHost) -> Step:
        """Have the card sign test data with the new key pair."""
        job, key = self.current, present(self.key, "key pair")
        pin = host.role_pin(job.role)
        probe = SignProbe(host.card.reader, job.role, pin, key.key_id, TEST_DATA)
        return host.run(Stage.TESTING, probe)

    def tested(self, signature: bytes, host: KeyHost) -> Step:
        """The test signature must verify with the new certificate; then the next job."""
        if not verifies(self.der, signature, TEST_DATA):
            return host.abort(
                CertificateCheckFailed("the test signature does not verify", slot=self.current.slot)
            )
        der = self.der
        self.made.append((self.current, certificate_serial(der), certificate_not_after(der)))
        self.job += 1
        return self.next(host)

    def remove_old(self, olds: list[tuple[PinRole, bytes]], host: KeyHost) -> Step:
        """Remove these old key pairs one by one; then ``host.after_removal``."""
        self.olds, self.removed = olds, 0
        return self.remove_next(host)

    def remove_next(self, host: KeyHost) -> Step:
        """Remove the next old key pair, or go on once all are gone."""
        if self.removed < len(self.olds):
            role, key_id = self.olds[self.removed]
            effect = DeleteKeyPair(host.card.reader, role, host.role_pin(role), key_id)
            return host.run(Stage.REMOVING_OLD, effect)
        return host.after_removal()

    def fresh(self, effect: Effect, host: KeyHost) -> Effect | None:
        """A retried key effect with a fresh copy of its PIN; None for any other effect."""
        if isinstance(effect, KEY_EFFECTS):
            return replace(effect, pin=host.role_pin(effect.role))
        return None
