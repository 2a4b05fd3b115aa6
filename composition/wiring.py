"""The private composition root: which adapters implement the kiosk's ports.

Used by `kioskctl demo` and by the Kivy app. ``build_services(settings, state_dir, demo)``
returns every service a visit needs; in demo mode that includes the simulated card deck
and a reference portal on loopback (seeded with the demo cast) in a child process, so the
kiosk process never loads FastAPI or uvicorn. A configured backend that fails to load
fails loudly: a production kiosk never falls back to simulation.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hardware.heap import HeapTrimmer
from kiosk.audit import AuditLog
from kiosk.devicekey import load_or_create
from kiosk.document.evidence import evidence_summary
from kiosk.errors import ConfigError, KioskError
from kiosk.handout import AdminSignature, HandOutSigner
from kiosk.model import CardRecord, CertificateInfo, VisitKind, VisitResult
from kiosk.outbox import Outbox, SystemClock
from kiosk.ports import (
    CardDeck,
    CardReader,
    Clock,
    FrameSource,
    PinStatus,
    Portal,
    Token,
    TokenProvider,
)
from kiosk.settings import Settings
from kiosk.sync import SyncWorker
from kiosk.visit.effects import (
    AdminSignIn,
    AuthoriseAdmin,
    BlockCard,
    ChangePin,
    DeleteKeyPair,
    Effect,
    FetchRecord,
    GenerateKeyPair,
    InstallCertificate,
    IssueCertificate,
    RecordResult,
    SetSignaturePin,
    SignProbe,
    SignReceipt,
    SignRequest,
    StartTicket,
    SyncResult,
    UnlockPin,
    VerifyPin,
    WritePin,
)
from kiosk.visit.events import AdminAuthorised, AdminSignedIn, EffectFailed, Outcome
from kiosk.visit.runner import EffectRunner

if TYPE_CHECKING:
    from hardware.scan.worker import ScanWorker
    from hardware.sim.pinpad import SimulatedPinPad

log = logging.getLogger("kiosk.wiring")


def audit_details(effect: Effect) -> dict[str, Any] | None:
    """What an audit entry copies from an effect worth one (never a secret); None if not."""
    match effect:
        case AuthoriseAdmin():
            return {"hsa_id": effect.hsa_id}
        case FetchRecord():
            return {"card_number": effect.card_number}
        case StartTicket():  # how each fact of the document was established
            return {
                "card_number": effect.card_number,
                "idempotency_key": effect.idempotency_key,
                "evidence": evidence_summary(effect.evidence),
            }
        case BlockCard():
            return {
                "card_number": effect.card_number,
                "reason": effect.reason,
                "idempotency_key": effect.idempotency_key,
            }
        case IssueCertificate():
            return {
                "card_number": effect.card_number,
                "certificate_kind": effect.certificate_kind,
                "idempotency_key": effect.idempotency_key,
                "replaces": effect.replaces or "",
            }
        case GenerateKeyPair() | SignRequest() | InstallCertificate() | DeleteKeyPair():
            return {"role": effect.role.value, "key_id": effect.key_id.hex()}
        case (
            AdminSignIn() | WritePin() | UnlockPin() | VerifyPin() | ChangePin() | SignReceipt()
            | SyncResult() | SetSignaturePin() | SignProbe()
        ):
            return {}
    return None


@dataclass
class Services:
    """Everything a visit needs, and how to release it."""

    settings: Settings
    state_dir: Path
    clock: Clock
    reader: CardReader
    tokens: TokenProvider
    portal: Portal
    outbox: Outbox
    sync: SyncWorker
    deck: CardDeck | None = None
    camera: FrameSource | None = None
    scanner: ScanWorker | None = None  # the scanner's own process (hardware.scan.worker)
    running_portal: Any = None  # portal.process.PortalProcess in demo mode
    pin_pad: SimulatedPinPad | None = None  # the simulated reader's keypad (sim_pin_pad)
    handout: HandOutSigner | None = None  # the administrator's session key (kiosk.handout)
    admin_hsa_id: str = "kiosk"  # the signed-in administrator, the actor in the audit log
    trimmer: HeapTrimmer = field(default_factory=HeapTrimmer)
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def audit(self) -> AuditLog:
        """The audit log (it shares the outbox's database)."""
        return self.outbox.audit

    def effect_runner(self) -> EffectRunner:
        """An effect runner on these services that audits each step and syncs via the outbox."""
        return AuditedRunner(self)

    def close(self) -> None:
        """Stop workers, close devices and the portal, in reverse order of creation."""
        while self._closers:
            closer = self._closers.pop()
            try:
                closer()
            except Exception:  # closing must go on: log and continue
                log.exception("closing a service failed")


class AuditedRunner(EffectRunner):
    """The visit runner with an audit entry per significant effect and outbox-backed sync."""

    def __init__(self, services: Services) -> None:
        super().__init__(
            services.reader, services.tokens, services.portal, services.outbox, services.clock
        )
        self.services = services
        self.card_number: str | None = None

    def sync(self, result: VisitResult) -> CardRecord | None:
        """Send through the outbox's sync worker (its lease keeps two senders apart)."""
        return self.services.sync.send_now(result)

    def run(self, effect: Effect) -> Outcome:
        """Run the effect, then record who did what to which card (never a secret)."""
        details = audit_details(effect)
        if isinstance(effect, FetchRecord | StartTicket | BlockCard):
            self.card_number = effect.card_number
        effect = queued_block_statement(self.services.portal, effect)
        outcome = super().run(effect)
        self.services.trimmer.poke()  # a visit step's garbage goes back to the system when quiet
        if details is None:
            return outcome
        if isinstance(outcome, AdminAuthorised):
            self.services.admin_hsa_id = outcome.authorisation.hsa_id
        elif isinstance(outcome, AdminSignedIn) and outcome.certificate.hsa_id:
            self.services.admin_hsa_id = outcome.certificate.hsa_id  # signed in, not authorised
        if isinstance(outcome, EffectFailed):
            details["outcome"] = "failed"
            details["error"] = outcome.error.code
        else:
            details["outcome"] = "done"
        try:
            self.services.audit.append(
                str(effect.kind),
                self.services.admin_hsa_id,
                self.clock.now(),
                self.card_number,
                details,
            )
        except KioskError as exc:  # the effect happened: report it, never undo it here
            log.error("audit entry for %s not written: %s", effect.kind, exc.detail)
        return outcome


def queued_block_statement(portal: Any, effect: Effect) -> Effect:
    """A block queued offline keeps the statement signed when the administrator blocked it
    (the same idempotency key), so the sync later sends it without a session key."""
    statement_for = getattr(portal, "statement_for", None)
    if not isinstance(effect, RecordResult) or not callable(statement_for):
        return effect
    result = effect.result
    if result.kind is not VisitKind.BLOCK or result.payload.get("synced") == "yes":
        return effect
    statement = statement_for(result.idempotency_key)
    if statement is None:
        return effect
    payload = {**result.payload, "admin_statement": json.dumps(statement, sort_keys=True)}
    return replace(effect, result=replace(result, payload=payload))


class SigningToken:
    """A card's token whose administrator sign-in also signs the session delegation.

    The administrator types their PIN once: the same login returns their certificate and
    signs the delegation of a fresh session key (kiosk.handout), which then signs each
    hand-out statement the portal client sends.
    """

    def __init__(self, inner: Token, signer: HandOutSigner, clock: Clock) -> None:
        self.inner, self.signer, self.clock = inner, signer, clock

    def admin_sign_in(self, pin: str | None) -> CertificateInfo:
        """Sign in and sign the session delegation in one PIN entry."""
        delegation = self.signer.delegation(self.clock.now())
        info, signature = self.inner.admin_sign_in_and_sign(pin, delegation)
        self.signer.signed(delegation, signature)
        return info

    def admin_sign_in_and_sign(
        self, pin: str | None, data: bytes
    ) -> tuple[CertificateInfo, AdminSignature]:
        """The inner token's."""
        return self.inner.admin_sign_in_and_sign(pin, data)

    def pin_pad(self) -> bool:
        """The inner token's."""
        return self.inner.pin_pad()

    def pin_status(self) -> PinStatus:
        """The inner token's."""
        return self.inner.pin_status()

    def set_initial_pin(self, credential: str, new_pin: str | None) -> None:
        """The inner token's."""
        self.inner.set_initial_pin(credential, new_pin)

    def verify_pin(self, pin: str | None) -> None:
        """The inner token's."""
        self.inner.verify_pin(pin)

    def change_pin(self, old_pin: str | None, new_pin: str | None) -> None:
        """The inner token's."""
        self.inner.change_pin(old_pin, new_pin)

    def unlock_pin(self, credential: str, new_pin: str | None) -> None:
        """The inner token's."""
        self.inner.unlock_pin(credential, new_pin)

    def certificates(self) -> list[CertificateInfo]:
        """The inner token's."""
        return self.inner.certificates()

    def sign_receipt(self, pin: str | None, receipt: bytes) -> bytes:
        """The inner token's."""
        return self.inner.sign_receipt(pin, receipt)

    def __getattr__(self, name: str) -> Any:  # the certificate-token calls (CertificateToken)
        return getattr(self.inner, name)


class SigningTokenProvider:
    """Opens tokens whose administrator sign-in signs the session delegation."""

    def __init__(self, inner: TokenProvider, signer: HandOutSigner, clock: Clock) -> None:
        self.inner, self.signer, self.clock = inner, signer, clock

    def open(self, reader: str | None = None) -> SigningToken:
        """The inner provider's token, wrapped."""
        return SigningToken(self.inner.open(reader), self.signer, self.clock)

    def __getattr__(self, name: str) -> Any:  # e.g. the simulated provider's pad and deck
        return getattr(self.inner, name)


def handout_signer(settings: Settings, pseudonym: Callable[[str], str]) -> HandOutSigner:
    """The holder of the administrator's session key (kiosk.handout) for this kiosk."""
    return HandOutSigner(
        settings.kiosk.kiosk_id,
        settings.kiosk.card_office,
        settings.ui.admin_session_timeout_s,
        pseudonym,
        reader_mode="two_readers" if settings.hardware.admin_reader else "single_reader",
    )


def build_services(
    settings: Settings,
    state_dir: Path,
    demo: bool,
    *,
    today: date | None = None,
    portal_url: str | None = None,
    with_camera: bool = True,
    wait_for_portal: bool = True,
    demo_portal: Any = None,
) -> Services:
    """Compose the adapters the settings name; demo adds the card deck and a loopback portal.

    ``with_camera=False`` (headless runs with a scripted document) builds no camera source
    and no scanner. The camera source is built, not started: the document screen starts it.
    ``demo_portal``: the demo portal already started (composition.demo_portal) on this
    state directory; the services stop it when they close, also when they fail to start.
    """
    clock = SystemClock()
    closers: list[Callable[[], None]] = []
    running = demo_portal
    if running is not None:
        closers.append(running.stop)
        portal_url = running.url
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        if demo and portal_url is None:
            from composition.demo_portal import start_demo_portal

            running = start_demo_portal(state_dir, today)
            closers.append(running.stop)
            portal_url = running.url
        device_key = load_or_create(state_dir)
        signer = handout_signer(settings, device_key.pseudonym)
        portal = _portal_client(settings, portal_url, signer, clock)  # the child starts meanwhile
        closers.append(portal.close)
        outbox = Outbox(
            state_dir,
            device_key,
            clock,
            alert_hours=settings.card_rules.deadline_alert_hours,
            actor=settings.kiosk.kiosk_id,
        )
        closers.append(outbox.close)
        sync = SyncWorker(outbox, portal, lease_s=_lease_seconds(settings))
        closers.append(sync.stop)
        if demo:
            from hardware.sim import build_demo_hardware
            from hardware.sim.material import demo_material_dir

            hardware = build_demo_hardware(
                state_dir, today or clock.now().date(), settings, demo_material_dir()
            )
            closers.append(hardware.close)
            reader, tokens, deck = hardware.reader, hardware.tokens, hardware.deck
            pin_pad = hardware.pin_pad
        else:
            reader, tokens = _production_hardware(settings)
            deck = None
            pin_pad = None
        tokens = SigningTokenProvider(tokens, signer, clock)
        camera, scanner = _camera_and_scanner(settings, demo) if with_camera else (None, None)
        if camera is not None:
            closers.append(camera.stop)
        if scanner is not None:
            closers.append(scanner.close)
        if running is not None:
            if wait_for_portal:
                running.wait_until_ready()
            else:
                _watch_portal_start(running)
        return Services(
            settings,
            state_dir,
            clock,
            reader,
            tokens,
            portal,
            outbox,
            sync,
            deck,
            camera,
            scanner,
            running_portal=running,
            pin_pad=pin_pad,
            handout=signer,
            _closers=closers,
        )
    except BaseException:
        for closer in reversed(closers):
            try:
                closer()
            except Exception:
                log.exception("closing after a failed start failed")
        raise


def _watch_portal_start(running: Any) -> None:
    """Wait for the demo portal on a thread: its port already listens, so requests sent
    meanwhile queue until it serves; a portal that fails to start is logged (and the kiosk
    then works offline, as with any unreachable portal)."""

    def wait() -> None:
        try:
            running.wait_until_ready()
        except Exception:
            if not running.stopped:  # not when the kiosk itself stopped it meanwhile
                log.exception("the demo portal did not start")

    threading.Thread(target=wait, name="demo-portal-start", daemon=True).start()


def _portal_client(settings: Settings, url: str | None, signer: HandOutSigner,
                   clock: Clock) -> Any:
    from kiosk.portal_client import PortalClient

    portal_settings = settings.portal if url is None else replace(settings.portal, url=url)
    return PortalClient.from_settings(portal_settings, settings.kiosk.kiosk_id,
                                      signer=signer, now=clock.now)


def _lease_seconds(settings: Settings) -> float:
    portal = settings.portal
    per_try = portal.connect_timeout_s + portal.read_timeout_s + portal.backoff_s * 8
    return max(60.0, per_try * (portal.retries + 1) * 2)


def _production_hardware(settings: Settings) -> tuple[CardReader, TokenProvider]:
    hardware = settings.hardware
    if hardware.reader != "pcsc":
        raise ConfigError(
            f"hardware.reader = {hardware.reader!r} is a simulation; a kiosk outside demo mode "
            "needs 'pcsc'",
            path="hardware.reader",
        )
    if not hardware.pkcs11_module:
        raise ConfigError("hardware.pkcs11_module is not set", path="hardware.pkcs11_module")
    from hardware.pcsc.reader import PcscReader
    from hardware.pkcs11.module import Pkcs11Module
    from hardware.pkcs11.token import Pkcs11TokenProvider

    reader = PcscReader.from_settings(hardware)
    module = Pkcs11Module.load(hardware.pkcs11_module)
    tokens = Pkcs11TokenProvider.from_settings(
        module, settings, card_number_of=lambda name: reader.identify(name).card_number
    )
    return reader, tokens


def _camera_and_scanner(settings: Settings, demo: bool) -> tuple[FrameSource, ScanWorker]:
    """The camera (described, not opened) and the scanner's worker process.

    The camera, OpenCV and the OCR engine live in the worker (hardware.scan.worker), never
    in the kiosk's process. A production kiosk starts the worker and loads the scanner once
    at start, so that a bad scanner setting fails here, loudly; the demo starts the worker
    without waiting for it. Either way the OCR engine is let go after each document check.
    """
    from hardware.scan.worker import ScanWorker, WorkerCamera

    camera = WorkerCamera(settings.camera.source, settings.camera)
    scanner = ScanWorker(settings.scanner)
    try:
        if demo:
            scanner.warm()  # its own process: the kiosk does not wait for it
        else:
            scanner.check()
    except BaseException:
        scanner.close()
        raise
    return camera, scanner
