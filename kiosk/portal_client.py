"""The kiosk's client of the card-office portal API v1 (implements kiosk.ports.Portal).

One requests Session; TLS verified against the configured CA; the kiosk's client
certificate; (connect, read) timeouts on every call. Transient failures (connection
errors, timeouts, 502/503/504) are retried with exponential backoff and jitter; a POST
is retried only because it carries an idempotency key and the exact same body bytes.
Everything a library raises is translated to kiosk.errors here. The credential in an
activation ticket is never logged.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import requests

from kiosk.document.evidence import evidence_summary
from kiosk.errors import (
    AdminNotAuthorised,
    CardNotFound,
    PortalAuthError,
    PortalError,
    PortalRejected,
    PortalUnreachable,
)
from kiosk.handout import Holder, StatementSigner
from kiosk.i18n import catalog, translate
from kiosk.model import (
    AdminAuthorisation,
    CardKind,
    CardRecord,
    CardStatus,
    DocumentEvidence,
    TrustLevel,
    UnlockPurpose,
)
from kiosk.ports import ActivationTicket, Completion, IssuedCertificate, PinLetterOrder
from kiosk.settings import PortalSettings
from kiosk.urls import check_service_url, check_tls_file

log = logging.getLogger("kiosk.portal")

API_PREFIX = "/api/v1"
BATCH_PATH = "/activations/complete-batch"
BATCH_RETRY_S = 600.0
"""How long a portal without the batch route is sent results one by one before asking again."""
IDEMPOTENCY_HEADER = "Idempotency-Key"
RETRY_STATUSES = frozenset({502, 503, 504})

T = TypeVar("T")


def reason_text(reason: str, lang: str = "sv") -> str:
    """The translated text of a portal reason code (kiosk/locale/*/portal.json)."""
    key = f"portal.reason.{reason}"
    if key in catalog(lang):
        return translate(key, lang)
    return translate("portal.reason.unknown", lang, reason=reason)


def canonical_json(data: Any) -> bytes:
    """The same bytes for the same data, so a retried request matches its first try."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode("utf-8")


def _seg(value: str) -> str:
    """One URL path segment: a card number with '/' or '?' cannot reach another route."""
    return quote(value, safe="")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _datetime(text: Any) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def parse_card(data: Mapping[str, Any]) -> CardRecord:
    """A CardRecord from the portal's JSON."""
    started = data.get("activation_started")
    valid_until = data.get("valid_until")
    return CardRecord(
        card_number=str(data["card_number"]),
        status=CardStatus(data["status"]),
        kind=CardKind(data["kind"]),
        issuer=str(data["issuer"]),
        holder_name=str(data["holder_name"]),
        personnummer=str(data["personnummer"]),
        hsa_id=str(data["hsa_id"]),
        trust_level=TrustLevel(int(data["trust_level"])),
        manufactured=date.fromisoformat(str(data["manufactured"])),
        activation_started=_datetime(started) if started else None,
        valid_until=date.fromisoformat(str(valid_until)) if valid_until else None,
    )


def parse_admin(data: Mapping[str, Any]) -> AdminAuthorisation:
    """An AdminAuthorisation from the portal's JSON."""
    return AdminAuthorisation(
        hsa_id=str(data["hsa_id"]),
        name=str(data["name"]),
        card_office=str(data["card_office"]),
        training_valid_until=date.fromisoformat(str(data["training_valid_until"])),
    )


def parse_ticket(data: Mapping[str, Any]) -> ActivationTicket:
    """An ActivationTicket from the portal's JSON."""
    return ActivationTicket(
        activation_id=str(data["activation_id"]),
        card_number=str(data["card_number"]),
        credential=str(data["credential"]),
        started_at=_datetime(data["started_at"]),
        deadline=_datetime(data["deadline"]),
    )


def parse_certificate(data: Mapping[str, Any]) -> IssuedCertificate:
    """An IssuedCertificate from the portal's JSON."""
    return IssuedCertificate(
        serial=str(data["serial"]),
        card_number=str(data["card_number"]),
        kind=str(data["kind"]),
        subject_id=str(data["subject_id"]),
        subject=str(data["subject"]),
        issuer=str(data["issuer"]),
        not_before=_datetime(data["not_before"]),
        not_after=_datetime(data["not_after"]),
        days_left=int(data["days_left"]),
        expires_soon=bool(data["expires_soon"]),
        state=str(data["state"]),
        der=base64.b64decode(str(data["certificate"]), validate=True),
        chain=tuple(base64.b64decode(str(c), validate=True) for c in data["chain"]),
        replaces=str(data["replaces"]) if data.get("replaces") else None,
        organisation=str(data.get("organisation") or ""),
    )


def parse_certificates(data: Mapping[str, Any]) -> list[IssuedCertificate]:
    """A card's certificates from the portal's JSON."""
    return [parse_certificate(item) for item in data["certificates"]]


def parse_letter(data: Mapping[str, Any]) -> PinLetterOrder:
    """A PinLetterOrder from the portal's JSON."""
    return PinLetterOrder(
        order_id=str(data["order_id"]),
        card_number=str(data["card_number"]),
        ordered_at=_datetime(data["ordered_at"]),
        expected_by=_datetime(data["expected_by"]),
    )


def _is_tls_failure(exc: BaseException) -> bool:
    """Whether a connection error came from TLS (bad server cert, refused client cert)."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ssl.SSLError | requests.exceptions.SSLError):
            return True
        if isinstance(item, BaseException):
            stack.extend([item.__cause__, item.__context__, *item.args])
            stack.append(getattr(item, "reason", None))
    return False


KIOSK_IDENTITY_REASONS = ("kiosk_not_enrolled", "kiosk_mismatch")
"""Refusals of the kiosk itself (its certificate is not enrolled, or not this kiosk's)."""


class PortalClient:
    """The card-office portal over HTTPS (kiosk.ports.Portal)."""

    def __init__(
        self,
        base_url: str,
        *,
        ca_file: str | None = None,
        client_cert: str | None = None,
        client_key: str | None = None,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        backoff_max_s: float = 8.0,
        kiosk_id: str = "",
        api_token: str = "",
        jitter: Callable[[], float] = random.random,
        sleep: Callable[[float], None] = time.sleep,
        signer: StatementSigner | None = None,
        now: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = check_service_url(base_url, "portal.url").rstrip("/")
        for what, path in (("portal.ca_file", ca_file), ("portal.client_cert", client_cert),
                           ("portal.client_key", client_key)):
            if path:
                check_tls_file(path, what)
        # The administrator's session key (kiosk.handout): activation, unlock and block
        # carry a statement signed with it; one statement per idempotency key, so that a
        # retried request sends the same bytes.
        self.signer = signer
        self._now = now or (lambda: datetime.now(UTC))
        self._statements: dict[str, dict[str, Any]] = {}
        self._records: dict[str, CardRecord] = {}
        # durations (how long the portal is taken to have no batch route) on a clock that
        # NTP or a manual setting never steps; ``now`` is the wall clock statements carry
        self._monotonic = monotonic
        self._no_batch_until: float | None = None
        self.timeout = (connect_timeout_s, read_timeout_s)
        self.retries = max(0, retries)
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.kiosk_id = kiosk_id
        self._jitter = jitter
        self._sleep = sleep
        self.session = requests.Session()
        # Passed on every request too: REQUESTS_CA_BUNDLE would override Session.verify.
        self.verify: str | bool = ca_file if ca_file else True
        self.session.verify = self.verify
        if client_cert:
            self.session.cert = (client_cert, client_key) if client_key else client_cert
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = "siths-kiosk-portal-client/1"
        if api_token:
            self.session.headers["Authorization"] = f"Bearer {api_token}"

    @classmethod
    def from_settings(
        cls,
        settings: PortalSettings,
        kiosk_id: str = "",
        signer: StatementSigner | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> PortalClient:
        """A client configured by the kiosk's [portal] settings (``signer``: kiosk.handout)."""
        return cls(
            settings.url,
            ca_file=settings.ca_file or None,
            client_cert=settings.client_cert or None,
            client_key=settings.client_key or None,
            connect_timeout_s=settings.connect_timeout_s,
            read_timeout_s=settings.read_timeout_s,
            retries=settings.retries,
            backoff_s=settings.backoff_s,
            backoff_max_s=settings.backoff_max_s,
            kiosk_id=kiosk_id,
            api_token=settings.api_token,
            signer=signer,
            now=now,
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    def __enter__(self) -> PortalClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the Portal port ---------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The portal's health answer."""
        return self._call("GET", "/health")

    def card(self, card_number: str) -> CardRecord:
        """The card's record."""
        data = self._call("GET", f"/cards/{_seg(card_number)}", card_number=card_number)
        record = self._parse(parse_card, data)
        self._records[card_number] = record
        return record

    def authorise_admin(self, hsa_id: str) -> AdminAuthorisation:
        """The administrator's authorisation at this card office."""
        return self._parse(parse_admin, self._call("GET", f"/admins/{_seg(hsa_id)}"))

    def start_activation(
        self,
        card_number: str,
        admin_hsa_id: str,
        evidence: DocumentEvidence,
        idempotency_key: str,
    ) -> ActivationTicket:
        """Start an activation; the answer carries the credential for the first PIN."""
        return self._start("activations", card_number, admin_hsa_id, evidence, idempotency_key)

    def complete_activation(
        self,
        activation_id: str,
        receipt: bytes,
        signature: bytes,
        certificate: bytes,
        idempotency_key: str,
    ) -> CardRecord:
        """Complete an activation with the holder's signed receipt."""
        body = {
            "receipt": _b64(receipt),
            "signature": _b64(signature),
            "certificate": _b64(certificate),
        }
        data = self._call(
            "POST", f"/activations/{_seg(activation_id)}/complete", body, idempotency_key
        )
        return self._parse(parse_card, data)

    def complete_activations(
        self, items: Sequence[Completion]
    ) -> list[CardRecord | PortalError] | None:
        """Complete a backlog's activations in one request (kiosk.ports.BatchPortal): per
        item its card record or the error its single call would raise. None when the
        portal has no batch route (an older one answers 404 or 405): that is remembered for
        BATCH_RETRY_S, during which this answers None at once."""
        if self._no_batch_until is not None and self._monotonic() < self._no_batch_until:
            return None
        body = {"items": [
            {"activation_id": item.activation_id, "idempotency_key": item.idempotency_key,
             "receipt": _b64(item.receipt), "signature": _b64(item.signature),
             "certificate": _b64(item.certificate)}
            for item in items
        ]}
        try:  # every item carries its own key: the batch may be retried as it is
            data = self._call("POST", BATCH_PATH, body, idempotent=True)
        except PortalError as exc:
            if exc.data.get("status") in (404, 405) and not isinstance(exc, PortalUnreachable):
                self._no_batch_until = self._monotonic() + BATCH_RETRY_S
                log.info("the portal has no batch route (HTTP %s): sending one by one",
                         exc.data.get("status"))
                return None
            raise
        answers = data.get("results")
        if not isinstance(answers, list) or [
            a.get("idempotency_key") if isinstance(a, dict) else None for a in answers
        ] != [item.idempotency_key for item in items]:
            raise PortalError("the portal's batch answer does not match the items sent")
        return [self._item_outcome(answer) for answer in answers]

    def _item_outcome(self, answer: dict[str, Any]) -> CardRecord | PortalError:
        status, body = answer.get("status"), answer.get("body")
        if not isinstance(status, int) or not isinstance(body, dict):
            return PortalError("the portal's answer to a batch item has no status or body")
        if 200 <= status < 300:
            try:
                return parse_card(body)
            except (KeyError, ValueError, TypeError) as exc:
                return PortalError(f"the portal's answer is missing or has a bad field: {exc}")
        item = f"{BATCH_PATH} (activation {answer.get('activation_id')})"
        return self._refusal(status, body, "POST", item, None)

    def start_unlock(
        self,
        card_number: str,
        admin_hsa_id: str,
        evidence: DocumentEvidence,
        idempotency_key: str,
        purpose: UnlockPurpose = UnlockPurpose.UNLOCK,
    ) -> ActivationTicket:
        """The unlock credential after an ID check, for ``purpose`` (the statement names a
        signature PIN as its reason, so the portal logs what the credential was for)."""
        return self._start(
            "unlock", card_number, admin_hsa_id, evidence, idempotency_key, purpose
        )

    def _start(
        self,
        action: str,
        card_number: str,
        admin_hsa_id: str,
        evidence: DocumentEvidence,
        idempotency_key: str,
        purpose: UnlockPurpose = UnlockPurpose.UNLOCK,
    ) -> ActivationTicket:
        body: dict[str, Any] = {"admin_hsa_id": admin_hsa_id,
                                "evidence": evidence_summary(evidence, suffixes=True)}
        kind = "activation" if action == "activations" else "unlock"
        reason = None
        if purpose is not UnlockPurpose.UNLOCK:  # an unlock's body stays as it was
            body["purpose"] = reason = purpose.value
        self._sign(body, idempotency_key, kind, card_number, admin_hsa_id, evidence=evidence,
                   reason=reason)
        data = self._call(
            "POST", f"/cards/{_seg(card_number)}/{action}", body, idempotency_key, card_number
        )
        return self._parse(parse_ticket, data)

    def block(
        self,
        card_number: str,
        admin_hsa_id: str,
        reason: str,
        idempotency_key: str,
        admin_statement: dict[str, Any] | None = None,
    ) -> CardRecord:
        """Block (spärra) a card (with the statement made at the time, for a queued block)."""
        if admin_statement is not None:
            self._statements.setdefault(idempotency_key, admin_statement)
        body: dict[str, Any] = {"admin_hsa_id": admin_hsa_id, "reason": reason}
        self._sign(body, idempotency_key, "block", card_number, admin_hsa_id, reason=reason)
        data = self._call(
            "POST", f"/cards/{_seg(card_number)}/block", body, idempotency_key, card_number
        )
        return self._parse(parse_card, data)

    def issue_certificate(
        self,
        card_number: str,
        admin_hsa_id: str,
        kind: str,
        subject_id: str,
        request: bytes,
        idempotency_key: str,
        replaces: str | None = None,
        organisation: str | None = None,
    ) -> IssuedCertificate:
        """Issue a certificate for a PKCS#10 request signed by a key on the card."""
        body: dict[str, Any] = {
            "admin_hsa_id": admin_hsa_id,
            "kind": kind,
            "subject_id": subject_id,
            "request": _b64(request),
            "replaces": replaces,
            "organisation": organisation,
        }
        data = self._call(
            "POST", f"/cards/{_seg(card_number)}/certificate-requests", body, idempotency_key,
            card_number,
        )
        return self._parse(parse_certificate, data)

    def card_certificates(self, card_number: str) -> list[IssuedCertificate]:
        """The certificates the portal issued for the card."""
        data = self._call(
            "GET", f"/cards/{_seg(card_number)}/certificates", card_number=card_number
        )
        return self._parse(parse_certificates, data)

    def revoke_certificate(
        self,
        card_number: str,
        serial: str,
        admin_hsa_id: str,
        reason: str,
        idempotency_key: str,
        certificate: bytes | None = None,
    ) -> IssuedCertificate:
        """Revoke one of the card's certificates (``certificate``: its DER, for one the
        portal's CA issued but has no record of)."""
        body = {"admin_hsa_id": admin_hsa_id, "reason": reason}
        if certificate:
            body["certificate"] = base64.b64encode(certificate).decode("ascii")
        path = f"/cards/{_seg(card_number)}/certificates/{_seg(serial)}/revoke"
        data = self._call("POST", path, body, idempotency_key, card_number)
        return self._parse(parse_certificate, data)

    def order_pin_letter(
        self,
        card_number: str,
        admin_hsa_id: str,
        evidence: Mapping[str, Any],
        idempotency_key: str,
    ) -> PinLetterOrder:
        """Order a PIN/PUK letter to the holder's registered address, after an ID check
        (``evidence``: its summary, as the outbox keeps it)."""
        body = {"admin_hsa_id": admin_hsa_id, "evidence": dict(evidence)}
        data = self._call(
            "POST", f"/cards/{_seg(card_number)}/pin-letters", body, idempotency_key, card_number
        )
        return self._parse(parse_letter, data)

    def audit_head(self) -> dict[str, Any] | None:
        """The newest audit head the portal keeps for this kiosk (sent with its
        heartbeats); None when it keeps none yet."""
        try:
            data = self._call("GET", "/audit-head")
        except PortalRejected as exc:
            if exc.reason == "audit_head_not_found":
                return None
            raise
        head = data.get("head")
        return dict(head) if isinstance(head, dict) else None
    def statement_for(self, idempotency_key: str) -> dict[str, Any] | None:
        """The statement sent (or to be sent) with this idempotency key, if one was made."""
        return self._statements.get(idempotency_key)

    def _sign(
        self,
        body: dict[str, Any],
        idempotency_key: str,
        action: str,
        card_number: str,
        admin_hsa_id: str,
        evidence: DocumentEvidence | None = None,
        reason: str | None = None,
    ) -> None:
        """Add the administrator's signed hand-out statement (the same one on a retry)."""
        statement = self._statements.get(idempotency_key)
        if statement is None and self.signer is not None:
            record = self._records.get(card_number) or self.card(card_number)
            holder = Holder(record.holder_name, record.hsa_id)
            try:
                statement = self.signer.statement(
                    action, card_number, admin_hsa_id, self._now(), holder, evidence, reason
                )
            except AdminNotAuthorised:
                # no administrator's session now (e.g. a background sync of an old queued
                # block): sent as it is, the portal refuses it and the outbox shows why
                log.warning("%s sent without an administrator's statement (no session)",
                            action)
                return
            self._statements[idempotency_key] = statement
        if statement is not None:
            body["admin_statement"] = statement

    def heartbeat(self, status: dict[str, Any], idempotency_key: str | None = None) -> None:
        """Report the kiosk's health. The portal files it under the kiosk its certificate
        is enrolled to; the kiosk_id sent (this client's, by default) only lets it refuse a
        kiosk configured with another kiosk's id."""
        body = dict(status)
        if self.kiosk_id:
            body.setdefault("kiosk_id", self.kiosk_id)
        self._call("POST", "/heartbeat", body, idempotency_key or str(uuid.uuid4()))

    # --- transport ---------------------------------------------------------------------

    def backoff_delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry ``attempt`` (0-based): capped exponential backoff,
        half of it random ("equal jitter"), never shorter than the server's Retry-After."""
        ceiling = min(self.backoff_max_s, self.backoff_s * (2.0**attempt))
        delay = ceiling / 2 + self._jitter() * ceiling / 2
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.backoff_max_s))
        return delay

    def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        card_number: str | None = None,
        idempotent: bool = False,
    ) -> dict[str, Any]:
        """``idempotent``: a POST whose body makes it safe to repeat without a key (a
        batch whose items carry their own)."""
        url = f"{self.base_url}{API_PREFIX}{path}"
        headers = {}
        data = None
        if body is not None:
            data = canonical_json(body)
            headers["Content-Type"] = "application/json"
        if idempotency_key is not None:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        elif method != "GET" and not idempotent:
            raise ValueError("a state-changing call needs an idempotency key")
        failure: PortalUnreachable | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                delay = self.backoff_delay(attempt - 1, _retry_after(failure))
                log.info("portal %s %s: retry %d in %.2fs", method, path, attempt, delay)
                self._sleep(delay)
            try:
                response = self.session.request(
                    method, url, data=data, headers=headers, timeout=self.timeout,
                    verify=self.verify,
                    # a 307 would send the same body (a holder's receipt) wherever it points,
                    # past check_service_url: plain http on another host too
                    allow_redirects=False,
                )
            except requests.exceptions.Timeout as exc:
                failure = PortalUnreachable(
                    f"the portal did not answer {method} {path} in time", url=self.base_url
                )
                failure.__cause__ = exc
                continue
            except requests.exceptions.RequestException as exc:
                if _is_tls_failure(exc):
                    raise PortalAuthError(
                        f"TLS with the portal failed (server certificate or client "
                        f"certificate refused): {_short(exc)}",
                        url=self.base_url,
                    ) from exc
                if not isinstance(exc, requests.exceptions.ConnectionError):
                    raise PortalError(f"bad request to the portal: {_short(exc)}") from exc
                if _is_aborted(exc) and self._refused_after_handshake():
                    raise PortalAuthError(
                        "the portal closed the TLS connection right after the handshake: "
                        "it does not accept this kiosk's client certificate",
                        url=self.base_url,
                    ) from exc
                failure = PortalUnreachable(
                    f"cannot connect to the portal: {_short(exc)}", url=self.base_url
                )
                failure.__cause__ = exc
                continue
            if response.status_code in RETRY_STATUSES:
                failure = PortalUnreachable(
                    f"the portal answered {response.status_code} to {method} {path}",
                    url=self.base_url,
                    status=response.status_code,
                )
                failure.data["retry_after"] = response.headers.get("Retry-After")
                continue
            return self._answer(response, method, path, card_number)
        if failure is None:
            raise PortalError(f"no attempt was made to call {method} {path}")
        failure.data["attempts"] = self.retries + 1
        raise failure

    def _answer(
        self, response: requests.Response, method: str, path: str, card_number: str | None
    ) -> dict[str, Any]:
        status = response.status_code
        try:
            payload = response.json()
        except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
            payload = None
        if not isinstance(payload, dict):
            if status < 500:
                raise PortalError(
                    f"the portal's answer to {method} {path} is not JSON (HTTP {status})",
                    status=status,
                )
            payload = {}
        if 200 <= status < 300:
            return payload
        raise self._refusal(status, payload, method, path, card_number)

    def _refusal(
        self, status: int, payload: Mapping[str, Any], method: str, path: str,
        card_number: str | None,
    ) -> PortalError:
        """The kiosk error for a portal's non-2xx answer (``payload``: its JSON body)."""
        reason = str(payload.get("reason") or f"http_{status}")
        detail = str(payload.get("detail") or "")
        if status >= 500:
            return PortalUnreachable(
                f"the portal failed on {method} {path} (HTTP {status}): {detail or reason}",
                url=self.base_url,
                status=status,
            )
        if reason == "card_not_found" and card_number is not None:
            return CardNotFound(card_number, detail)
        if status == 401 or reason in KIOSK_IDENTITY_REASONS:
            return PortalAuthError(f"the portal refused this kiosk: {detail}", reason=reason)
        return PortalRejected(reason, detail, status=status)

    def _refused_after_handshake(self) -> bool:
        """Probe once whether the portal hangs up on every request after a TLS handshake.

        With TLS 1.3 a server that rejects the client certificate does so after the client
        has finished its handshake; Python's asyncio servers close without sending the
        alert, so the client sees only a closed connection. Repeating that on a fresh
        connection tells a refused certificate from a transient drop.
        """
        parts = urlsplit(self.base_url)
        if parts.scheme != "https" or parts.hostname is None:
            return False
        context = ssl.create_default_context(
            cafile=self.verify if isinstance(self.verify, str) else None
        )
        cert = self.session.cert
        if isinstance(cert, tuple):
            context.load_cert_chain(cert[0], cert[1])
        elif isinstance(cert, str):
            context.load_cert_chain(cert)
        request = (
            f"GET {API_PREFIX}/health HTTP/1.1\r\nHost: {parts.hostname}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        try:
            with socket.create_connection(
                (parts.hostname, parts.port or 443), timeout=self.timeout[0]
            ) as raw, context.wrap_socket(raw, server_hostname=parts.hostname) as tls:
                tls.settimeout(self.timeout[1])
                tls.sendall(request)
                return tls.recv(1) == b""
        except ssl.SSLError:
            return True
        except OSError:
            return False

    @staticmethod
    def _parse(parser: Callable[[Mapping[str, Any]], T], data: dict[str, Any]) -> T:
        try:
            return parser(data)
        except (KeyError, ValueError, TypeError) as exc:
            raise PortalError(f"the portal's answer is missing or has a bad field: {exc}") from exc


def _retry_after(failure: PortalUnreachable | None) -> float | None:
    if failure is None:
        return None
    value = failure.data.get("retry_after")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _is_aborted(exc: BaseException) -> bool:
    """Whether the connection was closed or reset before any answer (not refused)."""
    text = repr(exc)
    return any(m in text for m in ("RemoteDisconnected", "ConnectionResetError", "EOF"))


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:197] + "..."
