"""The administrator's session: sign in with own card and PIN, choose visits, time out.

Sign-in: card inserted (``identify_card`` tells whether the reader's own PIN pad takes the
PIN) -> PIN typed on the screen's pad, or on the reader's -> ``admin_sign_in`` (the card's
authentication certificate gives the HSA-id) -> ``authorise_admin`` (the portal's
authorisation, judged by kiosk.rules.admin) -> HOME. From HOME, ``choose_visit`` with
``kind`` runs one visit flow, whose events the session passes through until it ends.
The session ends after ``ui.admin_session_timeout_s`` (never in the middle of a visit:
it ends when that visit ends; a clock set back below the sign-in time ends it too) or on
``sign_out``, and **locks** (docs/visits.md):
- with two readers (``hardware.admin_reader`` names the administrator's reader): when the
  administrator's card leaves that reader, at once, mid-visit included. A visit with an
  effect in flight (a PIN write, the result's commit, its sync) finishes that effect first,
  then ends the way an idle visit ends (what is on the card and in the outbox stays);
- with one reader: on ``SessionLock``, which the shell sends after ``ui.admin_idle_lock_s``
  untouched on HOME or an ended visit's screen. The administrator's own card, left in the
  reader or inserted where the holder's card is expected, is answered with
  ``AdminCardInserted`` ("take out your own card"). A step's ``finished`` is the visit's:
true on the step that ends a visit; the session itself goes on (``home`` returns to HOME).
A visit started while a card (not the administrator's) is in the holder's reader takes
that card at once (``track_holder_card``): no second ``CardInserted`` comes for it.
HOME's actions are ``visit:<kind>`` (``ChooseVisit`` with that kind) and ``sign_out``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum

from kiosk.errors import (
    AdminCardInserted,
    AdminNotAuthorised,
    KioskError,
    PinRuleViolation,
    PortalRejected,
    WrongPin,
)
from kiosk.model import AdminAuthorisation, CardIdentity, CertificateInfo, VisitKind
from kiosk.rules.admin import admin_refusal
from kiosk.settings import Settings
from kiosk.visit.activation import ActivationFlow
from kiosk.visit.additional_certificate import AdditionalCertificateFlow
from kiosk.visit.block import BlockFlow
from kiosk.visit.card_check import CardCheckFlow
from kiosk.visit.change_pin import ChangePinFlow
from kiosk.visit.contract import ErrorView, Param, Step, View, ViewName
from kiosk.visit.effects import AdminSignIn, AuthoriseAdmin, Effect, IdentifyCard
from kiosk.visit.errorview import can_retry, error_view
from kiosk.visit.events import (
    VISIT_ACTION_PREFIX,
    AdminAuthorised,
    AdminSessionTimeout,
    AdminSignedIn,
    Cancel,
    CardIdentified,
    CardInserted,
    CardTakenOut,
    ChooseVisit,
    ClockTick,
    Continue,
    Done,
    EffectFailed,
    Event,
    Home,
    IdleTimeout,
    Outcome,
    PinBack,
    PinClear,
    PinDigit,
    PinSubmit,
    Retry,
    SessionLock,
    SignOut,
)
from kiosk.visit.flow import VisitFlow
from kiosk.visit.pin_entry import PAD_REFUSALS
from kiosk.visit.pin_letter import PinLetterFlow
from kiosk.visit.renew_certificates import RenewCertificatesFlow
from kiosk.visit.secret import PinBuffer
from kiosk.visit.signature_certificate import SignatureCertificateFlow
from kiosk.visit.unlock import UnlockFlow

VISIT_FLOWS: dict[VisitKind, type[VisitFlow]] = {
    VisitKind.ACTIVATION: ActivationFlow,
    VisitKind.UNLOCK: UnlockFlow,
    VisitKind.CHANGE_PIN: ChangePinFlow,
    VisitKind.CARD_CHECK: CardCheckFlow,
    VisitKind.BLOCK: BlockFlow,
    VisitKind.PIN_LETTER: PinLetterFlow,
    VisitKind.SIGNATURE_CERTIFICATE: SignatureCertificateFlow,
    VisitKind.RENEW_CERTIFICATES: RenewCertificatesFlow,
    VisitKind.ADDITIONAL_CERTIFICATE: AdditionalCertificateFlow,
}

TRAINING_ALERT_DAYS = 30


class SessionStage(StrEnum):
    """Where the administrator's session is."""

    SIGNED_OUT = "signed_out"
    ADMIN_PIN = "admin_pin"
    ADMIN_PAD = "admin_pad"  # the reader's own PIN pad takes the administrator's PIN
    SIGNING_IN = "signing_in"
    AUTHORISING = "authorising"
    AUTH_FAILED = "auth_failed"
    HOME = "home"
    IN_VISIT = "in_visit"
    VISIT_ENDED = "visit_ended"


def event_time(now: datetime | None) -> datetime:
    """The latest event's time; a KioskError before the session started."""
    if now is None:
        raise KioskError("the session has not started")
    return now


class KioskSession:
    """The top-level flow of the kiosk: sign-in, home, one visit at a time."""

    def __init__(self, settings: Settings, session_id: str) -> None:
        self.settings = settings
        self.session_id = session_id
        self.stage = SessionStage.SIGNED_OUT
        self.now: datetime | None = None
        self.reader: str | None = None
        self.pin = PinBuffer(settings.pin_policy.length)
        self.pending: Effect | None = None
        self.card_hsa_id: str | None = None
        self.admin: AdminAuthorisation | None = None
        self.signed_in_at: datetime | None = None
        self.expire_after_visit = False
        self.visit: VisitFlow | None = None
        self.visits_started = 0
        self.ended_view: View | None = None
        self.admin_card: str | None = None  # the administrator's card number (sign-in)
        self.admin_card_in = False  # one reader: the administrator's card is still in it
        self.lock_after_effects = False  # two readers: locked mid-visit, an effect in flight
        self.holder_reader: str | None = None  # a card not the administrator's is in it

    def start(self, at: datetime) -> Step:
        """The sign-in screen."""
        self.now = at
        return self.show(SessionStage.SIGNED_OUT)

    def handle(self, event: Event, at: datetime) -> Step:
        """The next step after ``event``, which happened ``at``."""
        self.now = at
        try:
            return self.route(event, at)
        except KioskError as error:
            return self.show(self.stage, error)

    # --- routing ----------------------------------------------------------------------

    # --- reader roles and the lock ----------------------------------------------------

    def two_readers(self) -> bool:
        """Whether the administrator's card has its own reader (hardware.admin_reader)."""
        return bool(self.settings.hardware.admin_reader)

    def on_admin_reader(self, reader: str | None) -> bool:
        """Whether ``reader`` is the administrator's reader (two-reader operation)."""
        role = self.settings.hardware.admin_reader
        return bool(role) and reader is not None and role in reader

    def sign_in_stage(self) -> bool:
        return self.stage in (SessionStage.SIGNED_OUT, SessionStage.ADMIN_PIN,
                              SessionStage.ADMIN_PAD, SessionStage.SIGNING_IN,
                              SessionStage.AUTHORISING, SessionStage.AUTH_FAILED)

    def reader_roles(self, event: Event, at: datetime) -> Step | None:
        """Card events sorted by reader role; a Step when the role decides, else None."""
        if not isinstance(event, CardInserted | CardTakenOut):
            return None
        if not self.two_readers():
            if isinstance(event, CardTakenOut) and self.admin is not None:
                self.admin_card_in = False
            return None
        if self.on_admin_reader(event.reader):
            if isinstance(event, CardInserted):
                return None if self.stage is SessionStage.SIGNED_OUT else self.show(self.stage)
            if self.sign_in_stage():
                self.pin.wipe()
                self.pending = None  # a sign-in in flight is dropped with the card
                return self.show(SessionStage.SIGNED_OUT)
            return self.lock(at)
        if self.sign_in_stage():  # the holder's reader does not sign anyone in
            message = "visit.session.own_card_reader"
            return Step(replace(self.view(self.stage), message=message))
        return None

    def lock(self, at: datetime) -> Step:
        """The administrator's card left its reader: lock now; a visit ends safely."""
        visit = self.visit
        if self.stage is not SessionStage.IN_VISIT or visit is None:
            return self.sign_out("visit.session.locked.card")
        step = visit.handle(IdleTimeout(), at)  # an effect in flight finishes first
        if step.finished:
            return self.sign_out("visit.session.locked.visit")
        self.lock_after_effects = True
        return step

    def track_holder_card(self, event: Event) -> None:
        """Which reader holds a card that may be a holder's (from card events): a visit
        started from HOME takes that card (``start_visit``). Never the administrator's:
        not one in the administrator's reader, nor (one reader) the one that signs in or
        that a visit identified as the administrator's (``own_card_as_holders``)."""
        if not isinstance(event, CardInserted | CardTakenOut) or \
                self.on_admin_reader(event.reader):
            return
        if isinstance(event, CardTakenOut):
            self.holder_reader = None
        elif self.two_readers() or not self.sign_in_stage():
            self.holder_reader = event.reader
            self.admin_card_in = False  # one reader holds one card: the new one
        else:
            self.holder_reader = None  # one reader: the administrator's card signs in

    def route(self, event: Event, at: datetime) -> Step:
        self.track_holder_card(event)
        by_role = self.reader_roles(event, at)
        if by_role is not None:
            return by_role
        if self.stage is SessionStage.IN_VISIT and self.visit is not None and \
                self.lock_after_effects:
            step = self.visit.handle(event, at)
            if not step.finished and not self.visit.pending:
                step = self.visit.handle(IdleTimeout(), at)
            if step.finished:
                return self.sign_out("visit.session.locked.visit")
            return step
        if isinstance(event, SessionLock) and self.admin is not None and \
                self.stage is not SessionStage.IN_VISIT:
            return self.sign_out("visit.session.locked.idle")
        if self.stage is SessionStage.IN_VISIT and self.visit is not None:
            if isinstance(event, AdminSessionTimeout):
                self.expire_after_visit = True
                return self.visit.handle(ClockTick(), at)  # the visit goes on; shown again
            outcome = self.own_card_as_holders(event)
            step = self.visit.handle(outcome or event, at)
            if step.finished:
                self.stage = SessionStage.VISIT_ENDED
                self.ended_view = step.view
            return step
        if self.signed_in() and self.session_expired(event, at):
            return self.sign_out("visit.session.expired")
        if isinstance(event, Outcome):
            return self.on_outcome(event)
        handler = {
            SessionStage.SIGNED_OUT: self.on_signed_out,
            SessionStage.ADMIN_PIN: self.on_admin_pin,
            SessionStage.ADMIN_PAD: self.on_admin_pad,
            SessionStage.AUTH_FAILED: self.on_auth_failed,
            SessionStage.HOME: self.on_home,
            SessionStage.VISIT_ENDED: self.on_visit_ended,
        }.get(self.stage)
        if handler is None:
            return self.show(self.stage)  # waiting for an effect
        return handler(event)

    def signed_in(self) -> bool:
        return self.stage in (SessionStage.HOME, SessionStage.VISIT_ENDED)

    def session_expired(self, event: Event, at: datetime) -> bool:
        if isinstance(event, AdminSessionTimeout) or self.expire_after_visit:
            return True
        if self.signed_in_at is None:
            return False
        if at < self.signed_in_at:
            # the clock was set back (NTP, by hand): how long the session has run is not
            # known, and a day set back would let it run a day longer; it ends
            return True
        limit = timedelta(seconds=self.settings.ui.admin_session_timeout_s)
        return at >= self.signed_in_at + limit

    def on_signed_out(self, event: Event) -> Step:
        if isinstance(event, CardInserted):
            self.reader = event.reader
            self.pin.clear()
            # The screen's pad shows at once; the card's answer may move the PIN to the reader.
            return self.run(SessionStage.ADMIN_PIN, IdentifyCard(self.reader))
        return self.show(self.stage)

    def on_admin_pad(self, event: Event) -> Step:
        if isinstance(event, CardTakenOut):
            self.pending = None
            return self.show(SessionStage.SIGNED_OUT)
        if self.pending is not None:
            return self.show(self.stage)  # the reader holds the PIN entry: cancel there
        match event:
            case Retry():
                return self.pad_sign_in()
            case IdleTimeout() | Cancel():
                return self.show(SessionStage.SIGNED_OUT)
        return self.show(self.stage)

    def pad_sign_in(self) -> Step:
        """Sign in with the PIN typed on the reader's own pad (it never reaches the kiosk)."""
        return self.run(SessionStage.ADMIN_PAD, AdminSignIn(self.reader, pin=None))

    def on_admin_pin(self, event: Event) -> Step:
        match event:
            case PinDigit():
                self.pin.add(event.digit)
            case PinBack():
                self.pin.back()
            case PinClear():
                self.pin.clear()
            case CardTakenOut() | IdleTimeout() | Cancel():
                self.pin.wipe()
                self.pending = None
                return self.show(SessionStage.SIGNED_OUT)
            case PinSubmit():
                if len(self.pin) != self.settings.pin_policy.length:
                    raise PinRuleViolation("length", length=self.settings.pin_policy.length)
                effect = AdminSignIn(self.reader, self.pin.copy())
                self.pin.wipe()
                return self.run(SessionStage.SIGNING_IN, effect)
        return self.show(self.stage)

    def on_auth_failed(self, event: Event) -> Step:
        match event:
            case Retry() if self.card_hsa_id:
                return self.authorise(self.card_hsa_id)
            case Cancel() | IdleTimeout():
                return self.show(SessionStage.SIGNED_OUT)
        return self.show(self.stage)

    def on_home(self, event: Event) -> Step:
        match event:
            case ChooseVisit():
                return self.start_visit(event.visit)
            case SignOut():
                return self.sign_out("visit.session.signed_out")
        return self.show(self.stage)

    def on_visit_ended(self, event: Event) -> Step:
        if isinstance(event, Home | Done | Continue):
            return self.show(SessionStage.HOME)
        return self.on_home(event)

    def start_visit(self, kind: VisitKind) -> Step:
        if self.admin is None:
            return self.sign_out("visit.session.signed_out")
        self.visits_started += 1
        visit_id = f"{self.session_id}-v{self.visits_started}"
        self.visit = VISIT_FLOWS[kind](self.admin, self.settings, visit_id)
        self.stage = SessionStage.IN_VISIT
        step = self.visit.start(event_time(self.now))
        if step.view.name is not ViewName.INSERT_CARD:
            return step
        if self.admin_card_in:
            # one reader, and the administrator's card is still in it: it must come out
            return replace(step, view=replace(step.view, error=error_view(AdminCardInserted())))
        if self.holder_reader is not None:
            # the holder's card is already in (e.g. the card check offered this visit): no
            # new card_inserted will come for it, so the visit takes it now
            return self.visit.handle(CardInserted(self.holder_reader), event_time(self.now))
        return step

    def own_card_as_holders(self, event: Event) -> Event | None:
        """One reader: the administrator's own card identified where the holder's card is
        expected becomes a failed identification ("take out your own card")."""
        if (isinstance(event, CardIdentified) and self.admin_card is not None
                and event.identity.card_number == self.admin_card):
            self.admin_card_in = True
            self.holder_reader = None
            return EffectFailed(event.effect, AdminCardInserted())
        return None

    def sign_out(self, message: str) -> Step:
        self.pin.wipe()
        if self.visit is not None:
            self.visit.wipe()
        self.lock_after_effects = False
        self.admin_card = None
        self.admin_card_in = False
        self.admin = None
        self.card_hsa_id = None
        self.signed_in_at = None
        self.expire_after_visit = False
        self.visit = None
        self.stage = SessionStage.SIGNED_OUT
        return Step(replace(self.view(SessionStage.SIGNED_OUT), message=message))

    # --- effects ----------------------------------------------------------------------

    def run(self, stage: SessionStage, effect: Effect) -> Step:
        self.stage = stage
        self.pending = effect
        return Step(self.view(stage), (effect,))

    def authorise(self, hsa_id: str) -> Step:
        return self.run(SessionStage.AUTHORISING, AuthoriseAdmin(hsa_id))

    def on_outcome(self, outcome: Outcome) -> Step:
        effect = self.pending
        if effect is None or outcome.effect.kind != effect.kind:
            return self.show(self.stage)
        self.pending = None
        match outcome:
            case EffectFailed():
                return self.on_failure(effect, outcome.error)
            case CardIdentified():
                return self.on_admin_card_identified(outcome.identity)
            case AdminSignedIn():
                return self.on_signed_in(outcome.certificate)
            case AdminAuthorised():
                return self.on_authorised(outcome.authorisation)
        return self.show(self.stage)

    def on_admin_card_identified(self, identity: CardIdentity) -> Step:
        self.admin_card = identity.card_number
        if identity.pin_pad:
            self.pin.wipe()
            return self.pad_sign_in()
        return self.show(SessionStage.ADMIN_PIN)

    def on_signed_in(self, cert: CertificateInfo) -> Step:
        if not cert.hsa_id:
            return self.show(SessionStage.SIGNED_OUT, AdminNotAuthorised("no_hsa_id"))
        self.card_hsa_id = cert.hsa_id
        return self.authorise(cert.hsa_id)

    def on_authorised(self, authorisation: AdminAuthorisation) -> Step:
        now = event_time(self.now)
        refused = admin_refusal(
            authorisation, now.date(), self.settings.kiosk.card_office, self.card_hsa_id
        )
        if refused is not None:
            return self.show(SessionStage.SIGNED_OUT, refused)
        self.admin = authorisation
        self.signed_in_at = now
        self.admin_card_in = not self.two_readers()  # one reader: it must come out first
        return self.show(SessionStage.HOME)

    def on_failure(self, effect: Effect, error: KioskError) -> Step:
        if isinstance(effect, IdentifyCard):
            return self.show(SessionStage.ADMIN_PIN)  # the PIN is typed on the screen
        if isinstance(effect, AdminSignIn) and isinstance(error, (WrongPin, *PAD_REFUSALS)):
            # A sign-in on the reader's pad ran in ADMIN_PAD; one typed here in SIGNING_IN.
            on_pad = self.stage is SessionStage.ADMIN_PAD
            return self.show(SessionStage.ADMIN_PAD if on_pad else SessionStage.ADMIN_PIN, error)
        if isinstance(effect, AuthoriseAdmin) and can_retry(error):
            if not isinstance(error, PortalRejected):
                return self.show(SessionStage.AUTH_FAILED, error)
        return self.show(SessionStage.SIGNED_OUT, error)

    # --- views ------------------------------------------------------------------------

    def show(self, stage: SessionStage, error: BaseException | None = None) -> Step:
        self.stage = stage
        if stage is SessionStage.VISIT_ENDED and self.ended_view is not None:
            return Step(self.ended_view)
        return Step(self.view(stage, error))

    def view(self, stage: SessionStage, error: BaseException | None = None) -> View:
        shown = error_view(error) if error is not None else None
        title = "visit.session.title"
        if stage is SessionStage.ADMIN_PIN:
            return View(
                ViewName.ADMIN_SIGN_IN,
                title,
                "visit.session.type_pin",
                {"stage": "pin", "length": self.settings.pin_policy.length},
                shown,
                ("cancel",),
                pin_length=len(self.pin),
            )
        if stage is SessionStage.ADMIN_PAD:
            waiting = self.pending is not None
            return View(
                ViewName.ADMIN_SIGN_IN,
                title,
                "visit.session.pad_pin",
                {"stage": "pin", "pin_pad": True, "waiting": waiting},
                shown,
                () if waiting else ("retry", "cancel"),
            )
        if stage in (SessionStage.SIGNING_IN, SessionStage.AUTHORISING):
            message = f"visit.working.{stage.value}"
            return View(ViewName.WORKING, title, message, {"what": stage.value})
        if stage is SessionStage.AUTH_FAILED:
            if shown is not None:  # at sign-in no visit is saved: say what helps here
                shown = replace(shown, next_step="next.sign_in_portal_unreachable")
            return View(
                ViewName.ADMIN_SIGN_IN,
                title,
                "visit.session.authorise_failed",
                {"stage": "authorise"},
                shown,
                ("retry", "cancel"),
            )
        if stage in (SessionStage.HOME, SessionStage.VISIT_ENDED, SessionStage.IN_VISIT):
            return self.home_view(shown)
        return View(
            ViewName.ADMIN_SIGN_IN, title, "visit.session.insert_card", {"stage": "insert"}, shown
        )

    def home_view(self, error: ErrorView | None) -> View:
        admin = self.admin
        params: dict[str, Param] = {}
        if admin is not None and self.now is not None:
            days = (admin.training_valid_until - self.now.date()).days
            params = {
                "admin_name": admin.name,
                "admin_hsa_id": admin.hsa_id,
                "card_office": admin.card_office,
                "training_valid_until": admin.training_valid_until.isoformat(),
                "training_days_left": days,
                "training_alert": days <= TRAINING_ALERT_DAYS,
            }
        return View(
            ViewName.HOME,
            "visit.session.home_title",
            "visit.session.home",
            params,
            error,
            (*(f"{VISIT_ACTION_PREFIX}{kind.value}" for kind in VISIT_FLOWS), "sign_out"),
        )
