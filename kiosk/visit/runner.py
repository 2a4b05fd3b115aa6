"""The imperative shell of the visits: run effects through the ports, drive flows headlessly.

``EffectRunner.run`` executes one effect synchronously (the UI calls it on a worker
thread) and returns the outcome event; it never raises for a port failure: the
KioskError comes back in an ``effect_failed`` event. ``run_scripted`` drives a flow
through a list of input events, running every effect each step asks for, and returns
the transcript (used by ``kioskctl demo visit`` and by tests).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from kiosk.errors import KioskError, PortalError, PortalRejected, TokenError
from kiosk.model import CardIdentity, CardRecord, CertificateInfo, PinWriteIntent, VisitResult
from kiosk.ports import (
    ON_READER_PAD,
    CardReader,
    CertificatePortal,
    CertificateToken,
    Clock,
    IssuedCertificate,
    Portal,
    ResultStore,
    Token,
    TokenProvider,
)
from kiosk.sync import deliver
from kiosk.visit.contract import Flow, Step, View
from kiosk.visit.effects import (
    AdminSignIn,
    AuthoriseAdmin,
    BeginCardWork,
    BlockCard,
    ChangePin,
    DeleteKeyPair,
    Effect,
    FetchRecord,
    FindCardWork,
    GenerateKeyPair,
    IdentifyCard,
    InstallCertificate,
    IssueCertificate,
    ListIssued,
    ReadCardKeys,
    ReadCertificates,
    RecordResult,
    SetSignaturePin,
    SignedReceipt,
    SignProbe,
    SignReceipt,
    SignRequest,
    StartActivation,
    StartUnlock,
    SyncResult,
    UnlockPin,
    VerifyPin,
    WritePin,
)
from kiosk.visit.events import (
    AdminAuthorised,
    AdminSignedIn,
    CardBlocked,
    CardIdentified,
    CardKeysRead,
    CardWorkBegun,
    CardWorkFound,
    CertificateInstalled,
    CertificateIssued,
    CertificatesRead,
    EffectFailed,
    Event,
    IssuedListed,
    KeyPairDeleted,
    KeyPairGenerated,
    Outcome,
    PinChanged,
    PinUnlocked,
    PinVerified,
    PinWritten,
    ProbeSigned,
    ReceiptSigned,
    RecordFetched,
    RequestSigned,
    ResultRecorded,
    ResultSynced,
    SignaturePinSet,
    TicketIssued,
)
from kiosk.visit.result import b64
from kiosk.visit.secret import Secret
from kiosk.visit.work_notes import issued_note, request_note

MAX_EFFECTS_PER_INPUT = 50  # a flow asking for more is looping: stop and say so


def revealed(pin: Secret | None) -> str | None:
    """The PIN's text for the port call, or ON_READER_PAD when the reader's pad takes it."""
    return ON_READER_PAD if pin is None else pin.reveal()


def signing_certificate(certificates: list[CertificateInfo], two_pins: bool = False) -> bytes:
    """The DER of the certificate whose key signs the receipt: the signature certificate,
    else the authentication one, else empty. On a card with a signature PIN of its own
    (``two_pins``) the receipt is signed under the authentication PIN, so with the
    authentication key."""
    order = ("authentication",) if two_pins else ("signature", "authentication")
    for usage in order:
        for cert in certificates:
            if cert.usage == usage and cert.der:
                return cert.der
    return b""


class EffectRunner:
    """Executes effects by calling the ports; returns each outcome as an event.

    ``after`` maps an effect class to a hook run right after that effect's port call
    succeeded (the demo's portal going down after the ticket; crash tests' kill points).
    """

    def __init__(
        self,
        reader: CardReader,
        tokens: TokenProvider,
        portal: Portal,
        store: ResultStore,
        clock: Clock,
    ) -> None:
        self.reader = reader
        self.tokens = tokens
        self.portal = portal
        self.store = store
        self.clock = clock
        self.after: dict[type[Effect], Callable[[], None]] = {}

    def run(self, effect: Effect) -> Outcome:
        """Execute ``effect``; its success event, or ``EffectFailed`` with the KioskError."""
        try:
            outcome = self.perform(effect)
            hook = self.after.get(type(effect))
            if hook is not None:
                hook()
        except KioskError as error:
            return EffectFailed(effect, error)
        except Exception as error:  # an adapter broke its contract: report, never crash the UI
            wrapped = KioskError(f"{type(error).__name__} in {effect.kind}", effect=effect.kind)
            return EffectFailed(effect, wrapped)
        finally:
            for secret in effect.secrets():
                secret.wipe()
        return outcome

    def perform(self, effect: Effect) -> Outcome:
        """One port call for ``effect``, its answer as the effect's success event."""
        match effect:
            case IdentifyCard():
                return CardIdentified(effect, self.identify(effect.reader))
            case FetchRecord():
                return RecordFetched(effect, self.portal.card(effect.card_number))
            case ReadCertificates():
                certificates = self.token(effect.reader).certificates()
                return CertificatesRead(effect, tuple(certificates))
            case AdminSignIn():
                cert = self.token(effect.reader).admin_sign_in(revealed(effect.pin))
                return AdminSignedIn(effect, cert)
            case AuthoriseAdmin():
                return AdminAuthorised(effect, self.portal.authorise_admin(effect.hsa_id))
            case StartActivation():
                ticket = self.portal.start_activation(
                    effect.card_number, effect.admin_hsa_id, effect.evidence,
                    effect.idempotency_key,
                )
                return TicketIssued(effect, ticket)
            case StartUnlock():
                ticket = self.portal.start_unlock(
                    effect.card_number, effect.admin_hsa_id, effect.evidence,
                    effect.idempotency_key, effect.purpose,
                )
                return TicketIssued(effect, ticket)
            case WritePin():
                with self.pin_write(effect.intent):
                    self.token(effect.reader).set_initial_pin(
                        effect.credential.reveal(), revealed(effect.pin)
                    )
                return PinWritten(effect)
            case UnlockPin():
                with self.pin_write(effect.intent):
                    self.token(effect.reader).unlock_pin(
                        effect.credential.reveal(), revealed(effect.pin)
                    )
                return PinUnlocked(effect)
            case VerifyPin():
                self.token(effect.reader).verify_pin(revealed(effect.pin))
                return PinVerified(effect)
            case ChangePin():
                self.token(effect.reader).change_pin(
                    revealed(effect.old_pin), revealed(effect.new_pin)
                )
                return PinChanged(effect)
            case SignReceipt():
                return ReceiptSigned(effect, self.sign_receipt(effect))
            case BlockCard():
                record = self.portal.block(
                    effect.card_number, effect.admin_hsa_id, effect.reason,
                    effect.idempotency_key,
                )
                return CardBlocked(effect, record)
            case RecordResult():
                return ResultRecorded(effect, self.store.record(effect.result))
            case SyncResult():
                return ResultSynced(effect, self.sync(effect.result))
        return self.perform_certificate(effect)

    def perform_certificate(self, effect: Effect) -> Outcome:
        """The certificate effects: key pairs and certificates on the card, issuance."""
        match effect:
            case SetSignaturePin():
                self.key_token(effect.reader).set_signature_pin(
                    effect.credential.reveal(), revealed(effect.pin)
                )
                return SignaturePinSet(effect)
            case GenerateKeyPair():
                key = self.key_token(effect.reader).generate_key_pair(
                    effect.role, revealed(effect.pin), effect.key_id, effect.label
                )
                return KeyPairGenerated(effect, key)
            case SignRequest():
                request = self.key_token(effect.reader).certificate_request(
                    effect.role, revealed(effect.pin), effect.key_id, effect.common_name,
                    effect.serial_number,
                )
                if effect.work_id is not None:  # kept before anyone relies on it
                    self.store.note_card_work(
                        effect.work_id, request_note(effect.key_id), b64(request)
                    )
                return RequestSigned(effect, request)
            case IssueCertificate():
                return CertificateIssued(effect, self.issue(effect))
            case InstallCertificate():
                self.key_token(effect.reader).write_certificate(
                    effect.role, revealed(effect.pin), effect.key_id, effect.label,
                    effect.certificate,
                )
                return CertificateInstalled(effect)
            case SignProbe():
                signature = self.key_token(effect.reader).sign(
                    effect.role, revealed(effect.pin), effect.key_id, effect.data
                )
                return ProbeSigned(effect, signature)
            case DeleteKeyPair():
                self.key_token(effect.reader).delete_key_pair(
                    effect.role, revealed(effect.pin), effect.key_id
                )
                return KeyPairDeleted(effect)
            case ReadCardKeys():
                token = self.key_token(effect.reader)
                return CardKeysRead(
                    effect, tuple(token.certificates()), token.has_signature_pin()
                )
            case FindCardWork():
                found = self.store.find_card_work(effect.card_number, effect.visit_kind)
                return CardWorkFound(effect, found)
            case BeginCardWork():
                return CardWorkBegun(effect, self.store.begin_card_work(effect.work))
            case ListIssued():
                issued = self.certificate_portal().card_certificates(effect.card_number)
                return IssuedListed(effect, tuple(issued))
        raise KioskError(f"no runner for effect {effect.kind!r}", effect=effect.kind)

    def issue(self, effect: IssueCertificate) -> IssuedCertificate:
        """The portal's certificate, kept in the card work (if any) before the flow sees
        it; a refusal ends the work (a new visit starts afresh, with new ids)."""
        try:
            issued = self.certificate_portal().issue_certificate(
                effect.card_number, effect.admin_hsa_id, effect.certificate_kind,
                effect.subject_id, effect.request, effect.idempotency_key,
                effect.replaces, effect.organisation,
            )
        except PortalRejected:
            if effect.work_id is not None:
                self.store.end_card_work(effect.work_id)
            raise
        if effect.work_id is not None:
            self.store.note_card_work(
                effect.work_id, issued_note(effect.idempotency_key), b64(issued.der)
            )
        return issued

    @contextmanager
    def pin_write(self, intent: PinWriteIntent | None) -> Iterator[None]:
        """Commit the intent before the card is written; a write the card refused ends it
        (a crash in between leaves it open: status shows it, the visit can be finished)."""
        if intent is None:
            yield
            return
        self.store.begin_pin_write(intent)
        try:
            yield
        except KioskError:
            self.store.end_pin_write(intent.visit_id)
            raise

    def key_token(self, reader: str | None) -> CertificateToken:
        """The card's token, able to make key pairs; TokenError for one that cannot."""
        token = self.token(reader)
        if not isinstance(token, CertificateToken):
            raise TokenError("this card's module cannot make key pairs", reason="no_key_support")
        return token

    def certificate_portal(self) -> CertificatePortal:
        """The portal, able to issue certificates; PortalError for one that cannot."""
        if not isinstance(self.portal, CertificatePortal):
            raise PortalError("this portal does not issue certificates")
        return self.portal

    def identify(self, reader: str | None) -> CardIdentity:
        """The card's identity, and whether its PINs are typed on the reader's own pad."""
        identity = self.reader.identify(reader)
        try:
            pin_pad = self.tokens.open(reader).pin_pad()
        except KioskError:
            pin_pad = False  # no token to ask (not a PKCS#11 card): the flow judges the card
        return replace(identity, pin_pad=pin_pad)

    def token(self, reader: str | None) -> Token:
        """The token of the card in ``reader``."""
        return self.tokens.open(reader)

    def sign_receipt(self, effect: SignReceipt) -> SignedReceipt:
        """Sign the receipt with the holder's new PIN; return signature and certificate."""
        token = self.token(effect.reader)
        signature = token.sign_receipt(revealed(effect.pin), effect.receipt)
        two_pins = isinstance(token, CertificateToken) and token.has_signature_pin()
        return SignedReceipt(signature, signing_certificate(token.certificates(), two_pins))

    def sync(self, result: VisitResult) -> CardRecord | None:
        """Send a recorded result to the portal now."""
        return deliver(self.portal, result)


@dataclass
class ScriptRun:
    """The transcript of a scripted run: every event handled and the step it produced."""

    start: Step
    entries: list[tuple[Event, Step]] = field(default_factory=list)

    @property
    def steps(self) -> list[Step]:
        """Every step in order, the first one included."""
        return [self.start, *(step for _, step in self.entries)]

    @property
    def final(self) -> Step:
        """The last step."""
        return self.entries[-1][1] if self.entries else self.start

    @property
    def views(self) -> list[View]:
        """Every view shown, in order."""
        return [step.view for step in self.steps]


def run_scripted(
    flow: Flow,
    script: Iterable[Event],
    runner: EffectRunner,
    on_step: Callable[[Event | None, Step], None] | None = None,
) -> ScriptRun:
    """Start ``flow``, feed it the events of ``script``, run every effect each step asks for."""
    first = flow.start(runner.clock.now())
    transcript = ScriptRun(first)
    if on_step is not None:
        on_step(None, first)

    def settle(step: Step) -> None:
        queue: deque[Effect] = deque(step.effects)
        count = 0
        while queue:
            count += 1
            if count > MAX_EFFECTS_PER_INPUT:
                raise KioskError("the flow asked for too many effects in a row")
            outcome = runner.run(queue.popleft())
            next_step = flow.handle(outcome, runner.clock.now())
            transcript.entries.append((outcome, next_step))
            if on_step is not None:
                on_step(outcome, next_step)
            queue.extend(next_step.effects)

    settle(first)
    for event in script:
        step = flow.handle(event, runner.clock.now())
        transcript.entries.append((event, step))
        if on_step is not None:
            on_step(event, step)
        settle(step)
    return transcript
