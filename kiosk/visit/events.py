"""Everything that can happen to a visit: one frozen dataclass per event.

Input events come from the screen (a tap, a PIN key, a form), the card reader and the
idle clock; outcome events come from the runner, one per effect it ran: the effect's
own success event carrying the port's typed answer, or ``EffectFailed`` with the
``KioskError``. Flows dispatch on the event's class (``match``). Every event has a
stable ``kind``, the name the demo transcript prints; the time an event happened is
passed to ``Flow.handle`` beside it. Button names in ``View.actions`` become events
through ``action_event``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from kiosk.errors import KioskError
from kiosk.model import (
    AdminAuthorisation,
    CardIdentity,
    CardRecord,
    CardWork,
    CertificateInfo,
    DocumentEvidence,
    VisitKind,
)
from kiosk.ports import ActivationTicket, CardKey, IssuedCertificate
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
    StartTicket,
    SyncResult,
    UnlockPin,
    VerifyPin,
    WritePin,
)


@dataclass(frozen=True)
class Event:
    """Something that happened: user input, a device change, an effect's outcome."""

    kind: ClassVar[str]


# --- the card reader -----------------------------------------------------------------


@dataclass(frozen=True)
class CardInserted(Event):
    kind = "card_inserted"
    reader: str | None = None


@dataclass(frozen=True)
class CardTakenOut(Event):
    """The card left the reader (kiosk.errors.CardRemoved is the error it may cause)."""

    kind = "card_removed"
    reader: str | None = None


@dataclass(frozen=True)
class ReaderChanged(Event):
    """A reader was lost or found (no card change): flows only note the time."""

    kind = "reader_changed"
    reader: str | None = None


# --- the screen: buttons -------------------------------------------------------------


@dataclass(frozen=True)
class Cancel(Event):
    kind = "cancel"


@dataclass(frozen=True)
class Retry(Event):
    kind = "retry"


@dataclass(frozen=True)
class Continue(Event):
    kind = "continue"


@dataclass(frozen=True)
class Home(Event):
    kind = "home"


@dataclass(frozen=True)
class Done(Event):
    kind = "done"


@dataclass(frozen=True)
class Confirm(Event):
    kind = "confirm"


@dataclass(frozen=True)
class Back(Event):
    kind = "back"


@dataclass(frozen=True)
class SignOut(Event):
    kind = "sign_out"


@dataclass(frozen=True)
class PadStart(Event):
    """Start the PIN entry on the reader's own pad."""

    kind = "pad_start"


@dataclass(frozen=True)
class DocumentManual(Event):
    """Type the document's facts instead of scanning."""

    kind = "document_manual"


@dataclass(frozen=True)
class DocumentScan(Event):
    """Back to scanning the document."""

    kind = "document_scan"


@dataclass(frozen=True)
class DocumentConfirmed(Event):
    """The administrator confirmed photo and age by eye."""

    kind = "document_confirmed"
    photo: bool = True
    age: bool = True


@dataclass(frozen=True)
class ChooseVisit(Event):
    kind = "choose_visit"
    visit: VisitKind


# --- the screen: typed input ----------------------------------------------------------


@dataclass(frozen=True)
class PinDigit(Event):
    """One key of the screen's PIN pad (never the PIN in one piece)."""

    kind = "pin_digit"
    digit: str


@dataclass(frozen=True)
class PinBack(Event):
    kind = "pin_back"


@dataclass(frozen=True)
class PinClear(Event):
    kind = "pin_clear"


@dataclass(frozen=True)
class PinSubmit(Event):
    kind = "pin_submit"


@dataclass(frozen=True)
class CardNumberTyped(Event):
    kind = "card_number_typed"
    card_number: str


@dataclass(frozen=True)
class BlockReasonChosen(Event):
    kind = "block_reason"
    reason: str


@dataclass(frozen=True)
class Chosen(Event):
    """One of the choices a CHOOSE view offered (an organisation, replace or remove)."""

    kind = "chosen"
    choice: str


@dataclass(frozen=True)
class DocumentScanned(Event):
    kind = "document_scanned"
    evidence: DocumentEvidence


@dataclass(frozen=True)
class DocumentTyped(Event):
    kind = "document_typed"
    evidence: DocumentEvidence


@dataclass(frozen=True)
class ScanFailed(Event):
    kind = "scan_failed"
    error: KioskError | None = None


# --- time ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IdleTimeout(Event):
    """Nobody touched the screen for ``ui.idle_timeout_s``."""

    kind = "idle_timeout"


@dataclass(frozen=True)
class AdminSessionTimeout(Event):
    """The administrator's session is over (it ends when the running visit ends)."""

    kind = "admin_session_timeout"


@dataclass(frozen=True)
class SessionLock(Event):
    """Nobody touched HOME or an admin screen for ``ui.admin_idle_lock_s``: lock the kiosk."""

    kind = "session_lock"


@dataclass(frozen=True)
class ClockTick(Event):
    """Time passed with no input: lets a flow notice its own timeouts."""

    kind = "clock"


# --- effect outcomes -----------------------------------------------------------------


@dataclass(frozen=True)
class Outcome(Event):
    """An effect's outcome; ``effect`` is the effect that ran."""

    kind = "effect_done"
    effect: Effect


@dataclass(frozen=True)
class EffectFailed(Outcome):
    """The effect's port call failed; the error is shown through the error table."""

    kind = "effect_failed"
    error: KioskError


@dataclass(frozen=True)
class CardIdentified(Outcome):
    effect: IdentifyCard
    identity: CardIdentity


@dataclass(frozen=True)
class RecordFetched(Outcome):
    effect: FetchRecord
    record: CardRecord


@dataclass(frozen=True)
class CertificatesRead(Outcome):
    effect: ReadCertificates
    certificates: tuple[CertificateInfo, ...]


@dataclass(frozen=True)
class AdminSignedIn(Outcome):
    effect: AdminSignIn
    certificate: CertificateInfo


@dataclass(frozen=True)
class AdminAuthorised(Outcome):
    effect: AuthoriseAdmin
    authorisation: AdminAuthorisation


@dataclass(frozen=True)
class TicketIssued(Outcome):
    effect: StartTicket
    ticket: ActivationTicket


@dataclass(frozen=True)
class PinWritten(Outcome):
    effect: WritePin


@dataclass(frozen=True)
class PinUnlocked(Outcome):
    effect: UnlockPin


@dataclass(frozen=True)
class PinVerified(Outcome):
    effect: VerifyPin


@dataclass(frozen=True)
class PinChanged(Outcome):
    effect: ChangePin


@dataclass(frozen=True)
class ReceiptSigned(Outcome):
    effect: SignReceipt
    signed: SignedReceipt


@dataclass(frozen=True)
class CardBlocked(Outcome):
    effect: BlockCard
    record: CardRecord


@dataclass(frozen=True)
class ResultRecorded(Outcome):
    effect: RecordResult
    outbox_id: str


@dataclass(frozen=True)
class ResultSynced(Outcome):
    effect: SyncResult
    record: CardRecord | None


@dataclass(frozen=True)
class SignaturePinSet(Outcome):
    effect: SetSignaturePin


@dataclass(frozen=True)
class KeyPairGenerated(Outcome):
    effect: GenerateKeyPair
    key: CardKey


@dataclass(frozen=True)
class RequestSigned(Outcome):
    effect: SignRequest
    request: bytes


@dataclass(frozen=True)
class CertificateIssued(Outcome):
    effect: IssueCertificate
    certificate: IssuedCertificate


@dataclass(frozen=True)
class CertificateInstalled(Outcome):
    effect: InstallCertificate


@dataclass(frozen=True)
class ProbeSigned(Outcome):
    effect: SignProbe
    signature: bytes


@dataclass(frozen=True)
class KeyPairDeleted(Outcome):
    effect: DeleteKeyPair


@dataclass(frozen=True)
class CardKeysRead(Outcome):
    effect: ReadCardKeys
    certificates: tuple[CertificateInfo, ...]
    has_signature_pin: bool


@dataclass(frozen=True)
class CardWorkFound(Outcome):
    effect: FindCardWork
    work: CardWork | None


@dataclass(frozen=True)
class CardWorkBegun(Outcome):
    effect: BeginCardWork
    work: CardWork


@dataclass(frozen=True)
class IssuedListed(Outcome):
    effect: ListIssued
    certificates: tuple[IssuedCertificate, ...]


# --- buttons to events ---------------------------------------------------------------

VISIT_ACTION_PREFIX = "visit:"  # HOME's actions: visit:<kind> chooses that visit

BUTTON_EVENTS: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        Cancel, Retry, Continue, Home, Done, Confirm, Back, SignOut, PadStart,
        DocumentManual, DocumentScan, DocumentConfirmed, PinBack, PinClear, PinSubmit,
    )
}


def action_event(name: str) -> Event | None:
    """The event a button of ``View.actions`` stands for; None for a name no flow knows."""
    if name.startswith(VISIT_ACTION_PREFIX):
        try:
            return ChooseVisit(VisitKind(name[len(VISIT_ACTION_PREFIX):]))
        except ValueError:
            return None
    button = BUTTON_EVENTS.get(name)
    return button() if button is not None else None
