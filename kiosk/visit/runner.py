"""The imperative shell of the visits: run effects through the ports, drive flows headlessly.

``EffectRunner.run`` executes one effect synchronously (the UI calls it on a worker
thread) and returns the outcome event; it never raises for a port failure: the
KioskError comes back in an ``effect_failed`` event. ``run_scripted`` drives a flow
through a list of input events, running every effect each step asks for, and returns
the transcript (used by ``kioskctl demo visit`` and by tests).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from kiosk.errors import KioskError
from kiosk.model import CardIdentity, CertificateInfo, VisitKind, VisitResult
from kiosk.ports import ON_READER_PAD, CardReader, Clock, Portal, ResultStore, TokenProvider
from kiosk.visit.base import Effect, Event, Step, View
from kiosk.visit.effects import EFFECT_DONE, EFFECT_FAILED, SECRET_ARGS, EffectKind, SignedReceipt
from kiosk.visit.secret import Secret

MAX_EFFECTS_PER_INPUT = 50  # a flow asking for more is looping: stop and say so


class ScriptableFlow(Protocol):
    """What run_scripted drives: the Flow protocol."""

    def start(self, at: Any) -> Step: ...

    def handle(self, event: Event) -> Step: ...


def _secret(args: dict[str, Any], name: str) -> str | None:
    """The revealed secret, or ON_READER_PAD (None) when the flow passed None for it."""
    value = args.get(name)
    if value is ON_READER_PAD and name in args:
        return ON_READER_PAD
    if not isinstance(value, Secret):
        raise KioskError(f"effect argument {name!r} must be a Secret", argument=name)
    return value.reveal()


def _credential(args: dict[str, Any]) -> str:
    """The unlock/activation credential: always held by the kiosk, never typed on a pad."""
    value = _secret(args, "credential")
    if value is None:
        raise KioskError("effect argument 'credential' must be a Secret", argument="credential")
    return value


def _bytes_arg(args: dict[str, Any], name: str) -> bytes:
    value = args.get(name)
    if not isinstance(value, bytes):
        raise KioskError(f"effect argument {name!r} must be bytes", argument=name)
    return value


def signing_certificate(certificates: list[CertificateInfo]) -> bytes:
    """The DER of the signature certificate, else the authentication one, else empty."""
    for usage in ("signature", "authentication"):
        for cert in certificates:
            if cert.usage == usage and cert.der:
                return cert.der
    return b""


def push_result(portal: Portal, result: VisitResult) -> Any:
    """Send one recorded result to the portal (idempotent by its key); None if nothing to send."""
    payload = result.payload
    if result.kind is VisitKind.ACTIVATION:
        import base64

        return portal.complete_activation(
            payload["activation_id"],
            base64.b64decode(payload["receipt"]),
            base64.b64decode(payload["signature"]),
            base64.b64decode(payload["certificate"]),
            result.idempotency_key,
        )
    if result.kind is VisitKind.BLOCK and payload.get("synced") != "yes":
        reason = payload.get("reason", "")
        return portal.block(
            result.card_number, result.admin_hsa_id, reason, result.idempotency_key
        )
    return None


class EffectRunner:
    """Executes effects by calling the ports; returns each outcome as an event."""

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
        self.handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            EffectKind.IDENTIFY_CARD: self.identify,
            EffectKind.FETCH_RECORD: lambda a: self.portal.card(a["card_number"]),
            EffectKind.READ_CERTIFICATES: lambda a: self.token(a).certificates(),
            EffectKind.ADMIN_SIGN_IN: lambda a: self.token(a).admin_sign_in(_secret(a, "pin")),
            EffectKind.AUTHORISE_ADMIN: lambda a: self.portal.authorise_admin(a["hsa_id"]),
            EffectKind.START_ACTIVATION: lambda a: self.portal.start_activation(
                a["card_number"], a["admin_hsa_id"], a["evidence"], a["idempotency_key"]
            ),
            EffectKind.START_UNLOCK: lambda a: self.portal.start_unlock(
                a["card_number"], a["admin_hsa_id"], a["evidence"], a["idempotency_key"]
            ),
            EffectKind.WRITE_PIN: lambda a: self.token(a).set_initial_pin(
                _credential(a), _secret(a, "pin")
            ),
            EffectKind.UNLOCK_PIN: lambda a: self.token(a).unlock_pin(
                _credential(a), _secret(a, "pin")
            ),
            EffectKind.CHANGE_PIN: lambda a: self.token(a).change_pin(
                _secret(a, "old_pin"), _secret(a, "new_pin")
            ),
            EffectKind.SIGN_RECEIPT: self.sign_receipt,
            EffectKind.BLOCK_CARD: lambda a: self.portal.block(
                a["card_number"], a["admin_hsa_id"], a["reason"], a["idempotency_key"]
            ),
            EffectKind.RECORD_RESULT: lambda a: self.store.record(a["result"]),
            EffectKind.SYNC_RESULT: lambda a: push_result(self.portal, a["result"]),
        }

    def identify(self, args: dict[str, Any]) -> CardIdentity:
        """The card's identity, and whether its PINs are typed on the reader's own pad."""
        identity = self.reader.identify(args.get("reader"))
        try:
            pin_pad = self.tokens.open(args.get("reader")).pin_pad()
        except KioskError:
            pin_pad = False  # no token to ask (not a PKCS#11 card): the flow judges the card
        return replace(identity, pin_pad=pin_pad)

    def token(self, args: dict[str, Any]) -> Any:
        """The token of the card in the effect's reader."""
        return self.tokens.open(args.get("reader"))

    def sign_receipt(self, args: dict[str, Any]) -> SignedReceipt:
        """Sign the receipt with the holder's new PIN; return signature and certificate."""
        token = self.token(args)
        signature = token.sign_receipt(_secret(args, "pin"), _bytes_arg(args, "receipt"))
        return SignedReceipt(signature, signing_certificate(token.certificates()))

    def run(self, effect: Effect) -> Event:
        """Execute ``effect``; its outcome as ``effect_done`` or ``effect_failed``."""
        handler = self.handlers.get(effect.kind)
        try:
            if handler is None:
                raise KioskError(f"no runner for effect {effect.kind!r}", effect=effect.kind)
            result = handler(effect.args)
        except KioskError as error:
            return Event(EFFECT_FAILED, self.clock.now(), {"effect": effect.kind, "error": error})
        except Exception as error:  # an adapter broke its contract: report, never crash the UI
            wrapped = KioskError(f"{type(error).__name__} in {effect.kind}", effect=effect.kind)
            return Event(EFFECT_FAILED, self.clock.now(), {"effect": effect.kind, "error": wrapped})
        finally:
            for name in SECRET_ARGS:
                secret = effect.args.get(name)
                if isinstance(secret, Secret):
                    secret.wipe()
        return Event(EFFECT_DONE, self.clock.now(), {"effect": effect.kind, "result": result})


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


ScriptItem = Event | tuple[str, dict[str, Any]] | str


def _as_event(item: ScriptItem, clock: Clock) -> Event:
    if isinstance(item, Event):
        return item
    if isinstance(item, str):
        return Event(item, clock.now())
    kind, data = item
    return Event(kind, clock.now(), dict(data))


def run_scripted(
    flow: ScriptableFlow,
    script: Iterable[ScriptItem],
    runner: EffectRunner,
    on_step: Callable[[Event | None, Step], None] | None = None,
) -> ScriptRun:
    """Start ``flow``, feed it ``script`` (events, (kind, data) or kind), run every effect."""
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
            next_step = flow.handle(outcome)
            transcript.entries.append((outcome, next_step))
            if on_step is not None:
                on_step(outcome, next_step)
            queue.extend(next_step.effects)

    settle(first)
    for item in script:
        event = _as_event(item, runner.clock)
        step = flow.handle(event)
        transcript.entries.append((event, step))
        if on_step is not None:
            on_step(event, step)
        settle(step)
    return transcript
