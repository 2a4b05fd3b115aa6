"""The FastAPI application of the reference portal: routes, idempotency and error bodies."""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from kiosk.devicekey import canonical_json
from portal import certificates, db, kiosks, service
from portal.ca import IssuingCA
from portal.clock import PortalClock, iso
from portal.faults import FaultInjector, install_test_hooks
from portal.kiosks import Kiosk
from portal.schemas import (
    MAX_BATCH_ITEMS,
    AdminBody,
    AuditHeadBody,
    BlockRequest,
    CardCertificatesBody,
    CardRecordBody,
    CertificateBody,
    CompleteActivationRequest,
    CompletionBatchBody,
    CompletionBatchRequest,
    CompletionItem,
    ErrorBody,
    HealthBody,
    HeartbeatBody,
    HeartbeatRequest,
    IssueCertificateRequest,
    PinLetterBody,
    PinLetterRequest,
    RevokeCertificateRequest,
    StartActivationRequest,
    TicketBody,
    UnlockRequest,
)

API_VERSION = "1"
PREFIX = "/api/v1"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200

log = logging.getLogger("portal")

Action = Callable[[sqlite3.Connection], dict[str, Any]]
Change = Callable[[sqlite3.Connection, dict[str, Any]], dict[str, Any]]
IdempotencyKey = Annotated[
    str,
    Header(
        alias=IDEMPOTENCY_HEADER,
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        description="Repeating a key returns the first answer and changes nothing.",
    ),
]

MAX_BODY_BYTES = 256 * 1024
"""The largest request body the portal reads (a receipt with its certificate is ~4 KiB)."""
DRAIN_BYTES = 4 * 1024 * 1024
"""How much of a refused body is read and dropped before the 413, so that the client has
sent it all and reads the answer (a connection closed on unread data is reset, and the
client sees a broken connection instead); a larger one is answered at once."""
HTTP_REASONS = {
    400: "invalid_request", 404: "not_found", 405: "method_not_allowed", 413: "body_too_large",
}

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 403, 404, 409, 422)
}


def json_bytes(data: Any) -> bytes:
    """The canonical JSON encoding of an answer."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(status: int, body: bytes) -> Response:
    """A JSON response with exactly these bytes."""
    return Response(content=body, status_code=status, media_type="application/json")


def error_response(status: int, reason: str, detail: str) -> Response:
    """A JSON error body with a stable reason code."""
    return json_response(status, json_bytes({"reason": reason, "detail": detail}))


async def raw_body(request: Request) -> bytes:
    """The request body as sent, for the idempotency fingerprint."""
    return await request.body()


RawBody = Annotated[bytes, Depends(raw_body)]


def client_certificate(scope: Any) -> str | None:
    """The client's leaf certificate (PEM) from the ASGI TLS extension, if TLS carried one."""
    tls = (scope.get("extensions") or {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    return str(chain[0]) if chain else None


class Portal:
    """The database path and clock behind the routes, and who is calling.

    ``loopback_kiosk`` names the kiosk every caller without a client certificate is
    taken to be: only for a portal on plain-HTTP loopback (demo, tests). Under TLS it is
    None and a request without an enrolled certificate is refused.
    """

    def __init__(
        self,
        db_path: str | Path,
        clock: PortalClock,
        synchronous: str = "FULL",
        loopback_kiosk: str | None = None,
        receipt_trust: tuple[Path, ...] = (),
        ca_dir: str | Path | None = None,
    ) -> None:
        self.db_path = Path(db_path)
        self.receipt_trust = receipt_trust
        self.clock = clock
        self.synchronous = synchronous
        self.loopback_kiosk = loopback_kiosk
        self.ca_dir = Path(ca_dir) if ca_dir is not None else self.db_path.parent / "issuing-ca"
        self._ca: IssuingCA | None = None
        self._ca_lock = threading.Lock()
        self._local = threading.local()

    def ca(self) -> IssuingCA:
        """The issuing CA, loaded (or, in a new directory, created) at first use."""
        with self._ca_lock:
            if self._ca is None:
                self._ca = IssuingCA.load_or_create(self.ca_dir, self.clock.today())
            return self._ca

    def publish_revocations(self) -> None:
        """Put every certificate the portal revoked on its CA's CRLs (the files the portal's
        receipt trust and the demo kiosk read), after the commit. A replaced certificate
        is not revoked: it works until the kiosk, having verified its successor on the
        card, removes it and revokes it (a card pulled in between keeps a working one)."""
        rows = self.connection().execute(
            "SELECT serial FROM certificates WHERE state = 'revoked'"
        ).fetchall()
        if rows:
            self.ca().publish_revocations([int(r["serial"], 16) for r in rows], self.clock.now())

    def identify(self, scope: Any) -> Kiosk:
        """The enrolled kiosk behind this request (ApiError 403 when there is none)."""
        pem = client_certificate(scope)
        conn = self.connection()
        if pem is not None:
            kiosk = kiosks.by_fingerprint(conn, kiosks.pem_fingerprint(pem))
            if kiosk is None:
                raise service.ApiError(
                    403, "kiosk_not_enrolled",
                    "this client certificate is not enrolled to a kiosk, or was revoked",
                )
            return kiosk
        if self.loopback_kiosk is not None:
            kiosk = kiosks.by_id(conn, self.loopback_kiosk)
            if kiosk is not None:
                return kiosk
        raise service.ApiError(
            403, "kiosk_not_enrolled", "no enrolled kiosk certificate came with the request"
        )

    def connection(self) -> sqlite3.Connection:
        """This worker thread's connection (opening one costs more than most requests)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = db.connect(self.db_path, self.synchronous)
            self._local.conn = conn
        return conn

    def read(self, action: Action) -> Response:
        """Run ``action`` outside a transaction (it opens one if it must change something)."""
        try:
            status, body = 200, json_bytes(action(self.connection()))
        except service.ApiError as exc:
            status, body = exc.status, json_bytes(exc.body())
        return json_response(status, body)

    def change(
        self, write: Write, payload: BaseModel, action: Change, status: int = 200
    ) -> Response:
        """Run a state change (``action`` with the payload as JSON data) once per kiosk and
        idempotency key, storing the answer in the same transaction; a repeated key returns
        the stored bytes, a reused key with another request is refused. Keys are the calling
        kiosk's own: another kiosk repeating a key starts afresh and never sees the first
        kiosk's answer."""
        request, key, body, kiosk = write.request, write.key, write.body, write.kiosk
        fingerprint = request_fingerprint(request.method, request.url.path, body)
        data = payload.model_dump(mode="json")
        conn = self.connection()
        with db.transaction(conn):
            answer_status, answer, _ = self.once(
                conn, kiosk, key, fingerprint, lambda: action(conn, data), status
            )
        return json_response(answer_status, answer)

    def once(
        self,
        conn: sqlite3.Connection,
        kiosk: Kiosk,
        key: str,
        fingerprint: str,
        run: Callable[[], dict[str, Any]],
        status: int = 200,
    ) -> tuple[int, bytes, bool]:
        """Inside the caller's transaction: the stored answer to (kiosk, key), else ``run``'s
        answer stored with the change; (status, body, replayed). A 4xx refusal is stored
        like a success; a 5xx ApiError is raised (its change is to be rolled back)."""
        row = conn.execute(
            "SELECT fingerprint, status, body FROM idempotency WHERE kiosk_id = ? AND key = ?",
            (kiosk.kiosk_id, key),
        ).fetchone()
        if row is not None:
            if row["fingerprint"] != fingerprint:
                return 409, json_bytes({
                    "reason": "idempotency_conflict",
                    "detail": "this idempotency key was used for a different request",
                }), False
            return int(row["status"]), bytes(row["body"]), True
        try:
            answer_status, answer = status, json_bytes(run())
        except service.ApiError as exc:
            if exc.status >= 500:
                raise  # transient: rolled back, not stored, the same key may retry
            answer_status, answer = exc.status, json_bytes(exc.body())
        conn.execute(
            "INSERT INTO idempotency(kiosk_id, key, fingerprint, status, body, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (kiosk.kiosk_id, key, fingerprint, answer_status, answer, iso(self.clock.now())),
        )
        return answer_status, answer, False

    def complete_batch(self, kiosk: Kiosk, items: Sequence[CompletionItem]) -> Response:
        """Complete each item's activation as its own single call would, under its own
        idempotency key (the same answer whichever route carried it first), in one write
        transaction: every receipt is checked before it; an item refused is answered and
        stored like a single refusal, an item that failed transiently (5xx) is rolled back
        alone (a savepoint) and answered, never stored; the others are unaffected."""
        keys = [item.idempotency_key for item in items]
        if len(set(keys)) != len(keys):
            seen = sorted({k for k in keys if keys.count(k) > 1})
            raise service.ApiError(
                422, "duplicate_idempotency_key",
                f"items {', '.join(repr(k) for k in seen[:3])} share an idempotency key: "
                "each item needs its own",
            )
        conn, clock, trust = self.connection(), self.clock, self.receipt_trust
        bodies = [item.model_dump(mode="json", include=RECEIPT_FIELDS) for item in items]
        marks = ",".join("?" * len(keys))
        answered = {str(r["key"]) for r in conn.execute(
            f"SELECT key FROM idempotency WHERE kiosk_id = ? AND key IN ({marks})",  # noqa: S608 -- only placeholders
            (kiosk.kiosk_id, *keys),
        )}
        # the receipts' chains are checked before the write transaction, not holding its lock
        checks = [
            None if item.idempotency_key in answered else
            service.check_receipt(conn, clock, item.activation_id, body, trust)
            for item, body in zip(items, bodies, strict=True)
        ]
        results: list[dict[str, Any]] = []
        with db.transaction(conn):
            for item, body, check in zip(items, bodies, checks, strict=True):
                fingerprint = request_fingerprint(
                    "POST", f"{PREFIX}/activations/{item.activation_id}/complete",
                    canonical_json(body),
                )
                conn.execute("SAVEPOINT item")
                try:
                    status, answer, replayed = self.once(
                        conn, kiosk, item.idempotency_key, fingerprint,
                        partial(service.complete_activation, conn, clock, item.activation_id,
                                body, kiosk, trust, check),
                    )
                except service.ApiError as exc:  # transient (5xx): this item only, not stored
                    conn.execute("ROLLBACK TO item")
                    status, answer, replayed = exc.status, json_bytes(exc.body()), False
                except Exception:
                    conn.execute("ROLLBACK TO item")
                    log.exception("batch item %s failed", item.idempotency_key)
                    status, replayed = 500, False
                    answer = json_bytes({"reason": "internal", "detail": "the portal failed "
                                         "on this item; it can be retried"})
                conn.execute("RELEASE item")
                results.append({"idempotency_key": item.idempotency_key,
                                "activation_id": item.activation_id, "status": status,
                                "replayed": replayed, "body": json.loads(answer)})
        return json_response(200, json_bytes({"results": results}))


RECEIPT_FIELDS = {"receipt", "signature", "certificate"}


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """What an idempotency key is bound to: the method, the path and the body's bytes."""
    return hashlib.sha256(f"{method} {path}\n".encode() + body).hexdigest()


def caller(request: Request) -> Kiosk:
    """The kiosk calling (identified once per request)."""
    known: Kiosk | None = getattr(request.state, "kiosk", None)
    if known is None:
        portal: Portal = request.app.state.portal
        known = portal.identify(request.scope)
        request.state.kiosk = known
    return known


Caller = Annotated[Kiosk, Depends(caller)]


@dataclass(frozen=True)
class Write:
    """A state-changing request: its idempotency key, its bytes as sent, and the caller."""

    request: Request
    key: str
    body: bytes
    kiosk: Kiosk


def write_request(request: Request, key: IdempotencyKey, body: RawBody, kiosk: Caller) -> Write:
    """What every state-changing route needs for ``Portal.change``."""
    return Write(request, key, body, kiosk)


Writing = Annotated[Write, Depends(write_request)]


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is refused with 413 before
    the application sees any of it (declared by Content-Length or counted as it streams)."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            if declared.isdigit() and int(declared) <= DRAIN_BYTES:
                await self._drain(receive, 0)
            await self._too_large(send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            more = bool(message.get("more_body", False))
            if size > self.limit:
                if more:
                    await self._drain(receive, size)
                await self._too_large(send)
                return
            chunks.append(chunk)
        body, replayed = b"".join(chunks), False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    async def _drain(receive: Any, size: int) -> None:
        """Read and drop the rest of a refused body, up to DRAIN_BYTES in all."""
        while size <= DRAIN_BYTES:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    async def _too_large(self, send: Any) -> None:
        body = json_bytes({
            "reason": "body_too_large",
            "detail": f"the request body is over {self.limit} bytes",
        })
        await send({
            "type": "http.response.start", "status": 413,
            "headers": [(b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close")],
        })
        await send({"type": "http.response.body", "body": body})


def create_app(
    db_path: str | Path,
    clock: PortalClock | None = None,
    test_hooks: bool = False,
    synchronous: str = "FULL",
    loopback_kiosk: str | None = None,
    receipt_trust: Sequence[str | Path] = (),
    ca_dir: str | Path | None = None,
) -> FastAPI:
    """The portal application over the database at ``db_path`` (which must be initialised).

    Behind TLS the server must put the client certificate into the ASGI TLS extension
    (``portal.server`` does); ``loopback_kiosk`` is for plain-HTTP loopback only.
    ``ca_dir``: the issuing CA's files (default: ``issuing-ca`` beside the database).
    """
    if synchronous not in db.SYNCHRONOUS_MODES:
        raise ValueError(f"synchronous must be one of {db.SYNCHRONOUS_MODES}")
    portal = Portal(db_path, clock or PortalClock(), synchronous, loopback_kiosk,
                    tuple(Path(p) for p in receipt_trust), ca_dir)
    app = FastAPI(
        title="Card-office portal API",
        version=f"{API_VERSION}.0.0",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.portal = portal
    app.add_middleware(BodyLimit)
    _install_error_handlers(app)
    if test_hooks:
        install_test_hooks(app, FaultInjector(), portal.clock, portal.db_path)
    _install_routes(app, portal)
    return app


def allowed_methods(request: Request) -> list[str]:
    """The methods of every route whose path matches the request's (several routes may
    share a path, each with its own method)."""
    methods: set[str] = set()
    for route in request.app.routes:
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(request.url.path):
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods - {"HEAD"}) or ["GET"]


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(service.ApiError)
    async def refused(request: Request, exc: service.ApiError) -> Response:
        return json_response(exc.status, json_bytes(exc.body()))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(e.get("loc") == ("header", IDEMPOTENCY_HEADER) for e in errors):
            return error_response(
                400, "missing_idempotency_key", f"a state change needs an {IDEMPOTENCY_HEADER}"
            )
        if any(e.get("loc") == ("body", "items") and e.get("type") == "too_long"
               for e in errors):
            return error_response(
                400, "too_many_items", f"a batch carries at most {MAX_BATCH_ITEMS} items"
            )
        where = "; ".join(
            ".".join(str(p) for p in e.get("loc", ())) + ": " + str(e.get("msg", ""))
            for e in errors
        )
        return error_response(400, "invalid_request", where or "the request is not valid")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        status = exc.status_code
        reason = HTTP_REASONS.get(status, "internal" if status >= 500 else "invalid_request")
        response = error_response(status, reason, str(exc.detail))
        response.headers.update(exc.headers or {})
        if status == 405:  # every method the path takes, not only the first route's
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error in %s %s", request.method, request.url.path)
        return error_response(500, "internal", "the portal failed; the request can be retried")


def route(
    model: type[BaseModel], tag: str, status: int = 200
) -> dict[str, Any]:
    """The keyword arguments every API route declares: its answer, status, errors, tag."""
    return {"response_model": model, "status_code": status, "responses": ERRORS, "tags": [tag]}


def _install_routes(app: FastAPI, portal: Portal) -> None:
    clock = portal.clock

    @app.get(f"{PREFIX}/health", response_model=HealthBody, tags=["kiosk"])
    def health() -> Response:
        """The portal is up and its database answers."""
        return portal.read(
            lambda conn: {
                "status": "ok" if conn.execute("SELECT 1").fetchone() else "down",
                "api_version": API_VERSION,
                "time": iso(clock.now()),
            }
        )

    @app.get(f"{PREFIX}/audit-head", **route(AuditHeadBody, "kiosk"))
    def get_audit_head(kiosk: Caller) -> Response:
        """The newest audit head the calling kiosk sent (its anchor outside the kiosk)."""
        return portal.read(lambda conn: service.audit_head(conn, kiosk))

    @app.get(f"{PREFIX}/cards/{{card_number}}", **route(CardRecordBody, "cards"))
    def get_card(card_number: str, kiosk: Caller) -> Response:
        """The card's record (a card past a deadline is blocked first)."""
        return portal.read(lambda conn: service.get_card(conn, clock, card_number, kiosk))

    @app.get(f"{PREFIX}/admins/{{hsa_id}}", **route(AdminBody, "admins"))
    def get_admin(hsa_id: str, kiosk: Caller) -> Response:
        """The ID administrator's authorisation at the card office."""
        return portal.read(lambda conn: service.get_admin(conn, clock, hsa_id, kiosk))

    trust = portal.receipt_trust

    @app.post(
        f"{PREFIX}/cards/{{card_number}}/activations", **route(TicketBody, "cards", 201)
    )
    def start_activation(
        card_number: str, payload: StartActivationRequest, write: Writing
    ) -> Response:
        """Start an activation; the answer carries the credential for the first PIN."""
        return portal.change(write, payload, lambda conn, data: service.start_activation(
            conn, clock, card_number, data, write.kiosk, trust), 201)

    @app.post(
        f"{PREFIX}/activations/{{activation_id}}/complete", **route(CardRecordBody, "cards")
    )
    def complete_activation(
        activation_id: str, payload: CompleteActivationRequest, write: Writing
    ) -> Response:
        """Complete an activation with the holder's signed receipt; the card becomes Aktiv."""
        # the receipt's chain is checked before the write transaction, not holding its lock
        checked = service.check_receipt(
            portal.connection(), clock, activation_id, payload.model_dump(mode="json"), trust
        )
        return portal.change(write, payload, lambda conn, data: service.complete_activation(
            conn, clock, activation_id, data, write.kiosk, trust, checked))

    @app.post(f"{PREFIX}/activations/complete-batch", **route(CompletionBatchBody, "cards"))
    def complete_activations(payload: CompletionBatchRequest, kiosk: Caller) -> Response:
        """Complete up to 50 activations (a kiosk's backlog); each item answered on its own."""
        return portal.complete_batch(kiosk, payload.items)

    @app.post(f"{PREFIX}/cards/{{card_number}}/unlock", **route(TicketBody, "cards", 201))
    def start_unlock(card_number: str, payload: UnlockRequest, write: Writing) -> Response:
        """The unlock credential of an active card, after an ID check."""
        return portal.change(write, payload, lambda conn, data: service.start_unlock(
            conn, clock, card_number, data, write.kiosk, trust), 201)

    @app.post(f"{PREFIX}/cards/{{card_number}}/block", **route(CardRecordBody, "cards"))
    def block(card_number: str, payload: BlockRequest, write: Writing) -> Response:
        """Block (spärra) a card with a reason; the card becomes Spärrad."""
        answer = portal.change(write, payload, lambda conn, data: service.block(
            conn, clock, card_number, data, write.kiosk, trust))
        portal.publish_revocations()  # the blocked card's certificates
        return answer

    @app.post(f"{PREFIX}/heartbeat", **route(HeartbeatBody, "kiosk"))
    def heartbeat(payload: HeartbeatRequest, write: Writing) -> Response:
        """A kiosk's health: versions, outbox depth, hardware."""
        return portal.change(write, payload, lambda conn, data: service.heartbeat(
            conn, clock, data, write.kiosk))

    _install_certificate_routes(app, portal)


def _install_certificate_routes(app: FastAPI, portal: Portal) -> None:
    clock = portal.clock
    cards = f"{PREFIX}/cards/{{card_number}}"

    @app.post(
        f"{cards}/certificate-requests", **route(CertificateBody, "certificates", 201)
    )
    def issue_certificate(
        card_number: str, payload: IssueCertificateRequest, write: Writing
    ) -> Response:
        """Issue a certificate for a request signed by a key pair made on the holder's card."""
        ca = portal.ca()
        return portal.change(write, payload, lambda conn, data: certificates.issue_certificate(
            conn, clock, ca, card_number, data, write.kiosk), 201)

    @app.get(f"{cards}/certificates", **route(CardCertificatesBody, "certificates"))
    def card_certificates(card_number: str, kiosk: Caller) -> Response:
        """The certificates issued for the card: state, days to expiry, expiring soon."""
        ca = portal.ca()
        return portal.read(
            lambda conn: certificates.card_certificates(conn, clock, ca, card_number)
        )

    @app.post(
        f"{cards}/certificates/{{serial}}/revoke", **route(CertificateBody, "certificates")
    )
    def revoke_certificate(
        card_number: str, serial: str, payload: RevokeCertificateRequest, write: Writing
    ) -> Response:
        """Revoke one of the card's certificates (one removed from the card)."""
        ca = portal.ca()
        answer = portal.change(write, payload, lambda conn, data: certificates.revoke_certificate(
            conn, clock, ca, card_number, serial, data, write.kiosk))
        portal.publish_revocations()
        return answer

    @app.post(f"{cards}/pin-letters", **route(PinLetterBody, "certificates", 201))
    def order_pin_letter(card_number: str, payload: PinLetterRequest, write: Writing) -> Response:
        """Order a PIN/PUK letter to the holder's registered address, after an ID check."""
        return portal.change(write, payload, lambda conn, data: certificates.order_pin_letter(
            conn, clock, card_number, data, write.kiosk), 201)
