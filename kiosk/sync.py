"""The sync worker: sends the outbox's results to the portal, in order, with their keys.

Used by the app (a background thread) and by `kioskctl outbox flush` (a systemd timer);
both may run at once: each row is sent only while its sender holds the row's lease.
A transient failure (portal unreachable, 5xx, timeout) backs the row off exponentially
with jitter and ends the round; a rejection (4xx) marks the row rejected for an
administrator to resolve, and raises an alert in the log.

A backlog's activations go to the portal in batches (kiosk.ports.BatchPortal: up to
BATCH_ITEMS a request, each item answered as its single call): the per-request cost
(TLS, HTTP, routing, the SQLite commit) is paid once per batch. Every item ends exactly
as its single send would end it; a batch that fails as a whole leaves all its rows
queued; a portal without the batch route, or one that refuses a batch whole, gets the
rows one by one. The visit's own send (``send_now``) stays a single call.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kiosk.errors import PortalError, PortalRejected
from kiosk.model import CardRecord, VisitKind, VisitResult
from kiosk.outbox import Claimed, Outbox, new_worker_id
from kiosk.ports import BatchPortal, CertificatePortal, Completion, Portal

log = logging.getLogger("kiosk.sync")

BATCH_ITEMS = 50  # the most the portal takes in one batch (portal.schemas.MAX_BATCH_ITEMS)
BATCH_BYTES = 160 * 1024  # a batch's body stays well under the portal's 256 KiB limit
ITEM_OVERHEAD = 256  # an item's JSON beside its base64 blobs: keys, ids, quotes
Outcome = tuple[str, Any]  # sent / rejected / deferred / lost / skipped, and its value


@dataclass
class FlushReport:
    """What one flush did."""

    sent: int = 0
    rejected: int = 0
    deferred: int = 0
    lost_lease: int = 0
    last_error: str | None = None
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return {
            "sent": self.sent,
            "rejected": self.rejected,
            "deferred": self.deferred,
            "lost_lease": self.lost_lease,
            "last_error": self.last_error,
        }


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with equal jitter: half the (capped) window fixed, half random."""

    base_s: float = 2.0
    cap_s: float = 600.0

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Seconds to wait after the ``attempts``-th failure (1-based)."""
        ceiling = min(self.cap_s, self.base_s * 2.0 ** max(0, attempts - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def record_answer(record: CardRecord) -> dict[str, Any]:
    """The parts of the portal's answer the outbox keeps."""
    return {"card_number": record.card_number, "status": record.status.value}


def deliver(portal: Portal, result: VisitResult) -> CardRecord | None:
    """Send one recorded result through the portal API (idempotent by its key): the
    portal's card record, None if the API has nothing to receive for it.

    The one delivery rule, for the visit's own sync step (EffectRunner.sync) and the
    outbox flush alike: blobs must be valid base64, a block without a reason is "other".
    """
    payload = result.payload
    if result.kind is VisitKind.ACTIVATION:
        done = completion(result)
        return portal.complete_activation(
            done.activation_id, done.receipt, done.signature, done.certificate,
            done.idempotency_key,
        )
    if result.kind is VisitKind.BLOCK and payload.get("synced") != "yes":
        statement = payload.get("admin_statement")  # made when the administrator blocked it
        return portal.block(
            result.card_number, result.admin_hsa_id, payload.get("reason") or "other",
            result.idempotency_key, json.loads(statement) if statement else None,
        )
    if result.kind is VisitKind.PIN_LETTER:
        if not isinstance(portal, CertificatePortal):
            raise PortalError("this portal takes no PIN/PUK letter orders")
        portal.order_pin_letter(
            result.card_number, result.admin_hsa_id, json.loads(payload["evidence"]),
            result.idempotency_key,
        )
        return None
    if result.kind in (VisitKind.RENEW_CERTIFICATES, VisitKind.ADDITIONAL_CERTIFICATE):
        revoke_replaced(portal, result)
        return None
    # A signature certificate was issued online during the visit (the portal holds it);
    # unlock and PIN change completed at the card, and a block made online during the
    # visit already reached the portal: the API has nothing more to receive for them.
    return None


def completion(result: VisitResult) -> Completion:
    """An activation result as the portal API completes it (KeyError or ValueError when
    the payload cannot be sent: a missing field, a blob that is not base64)."""
    payload = result.payload
    return Completion(
        payload["activation_id"], _b64(payload["receipt"]), _b64(payload["signature"]),
        _b64(payload.get("certificate", "")), result.idempotency_key,
    )


# A certificate the portal has no record of and does not take as its CA's (issued by
# another CA, or not the holder's): not the portal's to revoke, nothing to retry.
NOT_THE_PORTALS = (
    "certificate_not_found", "untrusted_certificate", "certificate_mismatch", "bad_certificate",
)


def revoke_replaced(portal: Portal, result: VisitResult) -> None:
    """Revoke the certificates a renewal or an additional-certificate visit replaced or
    removed (the new ones verified on the card and the old key pairs are gone), each with
    its own idempotency key. A certificate the portal never issued (the card's first ones,
    made at manufacture) is shown to it when the result carries it (``revoke_certificates``:
    the portal takes it on record if its CA issued it for this holder, then revokes it);
    one the portal cannot take as its own is not its to revoke (NOT_THE_PORTALS)."""
    if not isinstance(portal, CertificatePortal):
        raise PortalError("this portal cannot revoke certificates")
    shown = json.loads(result.payload.get("revoke_certificates", "{}"))  # serial -> base64 DER
    for serial in json.loads(result.payload.get("revoke", "[]")):
        der = shown.get(str(serial)) if isinstance(shown, dict) else None
        try:
            portal.revoke_certificate(
                result.card_number, str(serial), result.admin_hsa_id,
                result.payload.get("revoke_reason") or "superseded",
                f"{result.idempotency_key}:revoke:{serial}",
                base64.b64decode(der) if isinstance(der, str) and der else None,
            )
        except PortalRejected as exc:
            if exc.reason not in NOT_THE_PORTALS:
                raise
            log.info("certificate %s is not the portal's to revoke: %s", serial, exc.reason)


def send_result(portal: Portal, claimed: Claimed) -> dict[str, Any]:
    """Send one result; the answer the outbox keeps."""
    record = deliver(portal, claimed.result)
    return {"local": True} if record is None else record_answer(record)


def _already_done(claimed: Claimed, exc: PortalRejected) -> bool:
    """An activation the portal reports as already active has reached its goal."""
    return claimed.result.kind is VisitKind.ACTIVATION and exc.reason == "already_active"


def _batch_weight(result: VisitResult) -> int | None:
    """About the bytes an activation adds to a batch's body; None for a row that does not
    go in a batch (another kind, or a payload the API cannot take)."""
    if result.kind is not VisitKind.ACTIVATION:
        return None
    try:
        completion(result)
    except (KeyError, ValueError):
        return None
    payload = result.payload
    return ITEM_OVERHEAD + sum(
        len(payload.get(name, "")) for name in ("activation_id", "receipt", "signature",
                                                  "certificate")
    ) + len(result.idempotency_key)


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


class SyncWorker:
    """Claims rows from the outbox and sends them; safe to run beside other senders."""

    def __init__(
        self,
        outbox: Outbox,
        portal: Portal,
        worker_id: str | None = None,
        batch: int = 4 * BATCH_ITEMS,  # rows claimed at once: 4 batches in flight
        lease_s: float = 120.0,
        concurrency: int = 4,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        on_sending: Callable[[Claimed], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self.portal = portal
        self.worker_id = worker_id or new_worker_id()
        self.batch = batch
        self.lease_s = lease_s
        self.concurrency = max(1, concurrency)
        self.backoff = backoff or Backoff()
        self._rng = rng or random.Random()  # noqa: S311 -- jitter, not a secret
        self._on_sending = on_sending
        # Other health facts for the heartbeat (versions, hardware), set by the app.
        self.heartbeat_extra: Callable[[], dict[str, Any]] | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()

    def flush(self, max_rounds: int | None = None, ignore_backoff: bool = False) -> FlushReport:
        """Send until nothing is sendable or the portal is unreachable.

        ``ignore_backoff`` (an operator's explicit flush) retries rows at once.
        """
        report = FlushReport()
        rounds = 0
        while max_rounds is None or rounds < max_rounds:
            rounds += 1
            claimed = self.outbox.claim(
                self.worker_id, self.batch, self.lease_s, ignore_backoff=ignore_backoff,
                max_wait_s=self.backoff.cap_s,  # due further ahead: the clock was set back
            )
            ignore_backoff = False  # a row that fails again now waits its backoff
            if not claimed:
                break
            if not self._send_batch(claimed, report):
                break
        for alert in self.outbox.alerts():
            log.warning(
                "outbox alert: %s for card %s due %s (%.1f h left)",
                alert.kind, alert.card_number, alert.deadline.isoformat(), alert.hours_left,
            )
        return report

    def _send_batch(self, claimed: list[Claimed], report: FlushReport) -> bool:
        # A claim never holds two rows of one card (see kiosk.outbox.CLAIMABLE), so its
        # rows may be sent concurrently without breaking the per-card order. Activations
        # go to a portal that takes batches in batches; the rest one by one.
        halt = threading.Event()
        jobs = self._jobs(claimed)
        if self.concurrency > 1 and len(jobs) > 1:
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="outbox-send") as pool:
                done = list(pool.map(lambda job: self._run_job(job, halt), jobs))
        else:
            done = [self._run_job(job, halt) for job in jobs]
        outcomes = {outbox_id: o for part in done for outbox_id, o in part.items()}
        sent: list[tuple[Claimed, dict[str, Any]]] = []
        try:
            for item in claimed:
                outcome, value = outcomes[item.outbox_id]
                if outcome == "sent":
                    sent.append((item, value))
                elif outcome == "lost":
                    report.lost_lease += 1
                elif outcome == "skipped":
                    self.outbox.release(self.worker_id, item)
                elif outcome == "deferred":
                    self._defer(item, value, report)
                else:
                    self._reject(item, value, report)
        finally:
            report.sent += self.outbox.mark_sent(self.worker_id, sent)
        return not halt.is_set()

    def _jobs(self, claimed: list[Claimed]) -> list[tuple[bool, list[Claimed]]]:
        """(as a batch?, rows): activations in batches of at most BATCH_ITEMS rows and
        BATCH_BYTES, when the portal takes batches; every other row alone."""
        if not isinstance(self.portal, BatchPortal):
            return [(False, [item]) for item in claimed]
        jobs: list[tuple[bool, list[Claimed]]] = []
        chunk: list[Claimed] = []
        size = 0
        for item in claimed:
            weight = _batch_weight(item.result)
            if weight is None or weight > BATCH_BYTES:
                jobs.append((False, [item]))  # sent alone: refused there if it is malformed
                continue
            if len(chunk) == BATCH_ITEMS or size + weight > BATCH_BYTES:
                jobs.append((True, chunk))
                chunk, size = [], 0
            chunk.append(item)
            size += weight
        if chunk:
            jobs.append((True, chunk))
        return jobs

    def _run_job(self, job: tuple[bool, list[Claimed]], halt: threading.Event
                 ) -> dict[int, Outcome]:
        as_batch, items = job
        if as_batch and isinstance(self.portal, BatchPortal):
            return self._send_completions(self.portal, items, halt)
        return {item.outbox_id: self._send_one(item, halt) for item in items}

    def _send_completions(self, portal: BatchPortal, items: list[Claimed],
                          halt: threading.Event) -> dict[int, Outcome]:
        """Send activations in one batch; each row's outcome as its single send gives it."""
        if halt.is_set():
            return {item.outbox_id: ("skipped", None) for item in items}
        now = self.outbox.now().timestamp()
        outcomes: dict[int, Outcome] = {}
        live = []
        for item in items:
            if now >= item.lease_until:
                outcomes[item.outbox_id] = ("lost", None)  # never send it twice
            else:
                live.append(item)
        if not live:
            return outcomes
        for item in live:
            if self._on_sending is not None:
                self._on_sending(item)
        try:
            answers = portal.complete_activations([completion(i.result) for i in live])
        except PortalRejected as exc:  # the batch as a whole (never one item's fault alone)
            log.warning("portal refused a batch of %d (%s): sending them one by one",
                        len(live), exc.reason)
            answers = None
        except PortalError as exc:  # unreachable, 5xx, timeout, TLS: every row stays queued
            halt.set()
            outcomes.update((item.outbox_id, ("deferred", exc)) for item in live)
            return outcomes
        if answers is None:  # no batch route (an older portal), or the batch was refused
            outcomes.update((i.outbox_id, self._send_one(i, halt, announce=False))
                            for i in live)
            return outcomes
        for item, answer in zip(live, answers, strict=True):
            if isinstance(answer, PortalError):
                outcomes[item.outbox_id] = self._failed(item, answer, halt)
            else:
                outcomes[item.outbox_id] = ("sent", record_answer(answer))
        return outcomes

    def _send_one(self, item: Claimed, halt: threading.Event, announce: bool = True
                  ) -> Outcome:
        if halt.is_set():
            return "skipped", None
        if self.outbox.now().timestamp() >= item.lease_until:
            return "lost", None  # another sender may hold it now: never send it twice
        try:
            if announce and self._on_sending is not None:
                self._on_sending(item)
            return "sent", send_result(self.portal, item)
        except PortalError as exc:
            return self._failed(item, exc, halt)
        except (KeyError, ValueError) as exc:  # a result the API cannot take
            return "rejected", f"malformed_result: {exc}"

    @staticmethod
    def _failed(item: Claimed, exc: PortalError, halt: threading.Event) -> Outcome:
        """A send's outcome from the portal's error: a refusal (4xx) rejects the row, any
        other failure (unreachable, 5xx, timeout, TLS) defers it and ends the round."""
        if isinstance(exc, PortalRejected):
            if _already_done(item, exc):
                return "sent", {"status": "Aktiv", "note": exc.reason}
            return "rejected", f"{exc.code}: {exc.reason}"
        halt.set()
        return "deferred", exc

    def send_now(self, result: VisitResult) -> CardRecord | None:
        """Sync one just-recorded result at once (the visit's SYNC_RESULT effect).

        Returns the portal's card record, or None when there is nothing to send or the
        row is not this sender's to send now (another sender holds it, or an earlier
        result of the card is still queued): it stays queued and is sent in order.
        Raises the portal's error after queueing the row for a retry (or rejecting it).
        """
        claimed = self.outbox.claim_key(self.worker_id, result.idempotency_key, self.lease_s)
        if claimed is None:
            return None
        report = FlushReport()
        try:
            if self._on_sending is not None:
                self._on_sending(claimed)
            record = deliver(self.portal, claimed.result)
        except PortalRejected as exc:
            if _already_done(claimed, exc):
                self.outbox.mark_sent(self.worker_id, [(claimed, {"status": "Aktiv",
                                                                  "note": exc.reason})])
                return None
            self._reject(claimed, f"{exc.code}: {exc.reason}", report)
            raise
        except PortalError as exc:
            self._defer(claimed, exc, report)
            raise
        except BaseException:
            self.outbox.release(self.worker_id, claimed)
            raise
        answer = {"local": True} if record is None else record_answer(record)
        self.outbox.mark_sent(self.worker_id, [(claimed, answer)])
        return record

    def _reject(self, item: Claimed, reason: str, report: FlushReport) -> None:
        self.outbox.release(self.worker_id, item, reason, rejected=True)
        report.rejected += 1
        report.last_error = reason
        report.errors.append(reason)
        log.error(
            "portal rejected %s for card %s: %s",
            item.result.kind.value, item.result.card_number, reason,
        )

    def _defer(self, item: Claimed, exc: PortalError, report: FlushReport) -> None:
        delay = self.backoff.delay(item.attempts + 1, self._rng)
        message = f"{exc.code}: {exc.detail or exc.code}"
        self.outbox.release(self.worker_id, item, message, retry_in_s=delay)
        report.deferred += 1
        report.last_error = message
        report.errors.append(message)
        log.info("portal unreachable; result %d retried in %.1f s", item.outbox_id, delay)

    # --- the app's background thread -----------------------------------------------

    def start(self, interval_s: float = 30.0, heartbeat_s: float = 300.0) -> None:
        """Run flushes (and a heartbeat every ``heartbeat_s``) on a daemon thread."""
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(interval_s, heartbeat_s), name="outbox-sync", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        """Flush now (a result was just recorded)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the background thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def heartbeat_status(self) -> dict[str, Any]:
        """The outbox part of the kiosk's heartbeat: depth, oldest age, deadline alerts."""
        status = self.outbox.status()
        body: dict[str, Any] = {
            "outbox_depth": status.depth,  # the portal API's heartbeat field
            "outbox": status.as_json(),
            "alerts": len(status.alerts),
        }
        head = self.outbox.audit.current_head()
        if head is not None:  # anchored at the portal: a cut-off tail shows at verify
            body["audit_head"] = head
        return body

    def send_heartbeat(self, extra: dict[str, Any] | None = None) -> bool:
        """Report the outbox (and ``extra`` health facts) to the portal; False if it failed."""
        body = {**(extra or {}), **self.heartbeat_status()}
        try:
            self.portal.heartbeat(body)
        except PortalError as exc:
            log.info("heartbeat not delivered: %s", exc.code)
            return False
        return True

    def _loop(self, interval_s: float, heartbeat_s: float) -> None:
        next_heartbeat = 0.0
        while not self._stop.is_set():
            try:
                flushed = self.flush()
                now = time.monotonic()
                if now >= next_heartbeat or flushed.sent:  # each sync anchors the audit head
                    self.send_heartbeat(self.heartbeat_extra() if self.heartbeat_extra else None)
                    next_heartbeat = now + heartbeat_s
            except Exception:  # the worker must survive and retry; the error is logged
                log.exception("outbox flush failed")
            wait = self.outbox.next_attempt_in()
            self._wake.wait(interval_s if wait is None else min(interval_s, max(wait, 0.05)))
            self._wake.clear()
