"""The outbox: every visit result is committed durably before the holder hears it is done.

Results live in the kiosk's state database (SQLite, WAL, synchronous=FULL) beside the
audit log; recording a result and its audit entry is one transaction. Senders (the
app's sync worker and `kioskctl outbox flush` from a systemd timer) claim rows with a
lease inside BEGIN IMMEDIATE, so two senders never hold the same row; a crashed
claimer's lease expires, or is broken at once when its process is gone. Rows of one
card are sent strictly in order: a later row waits while an earlier one is pending.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kiosk.audit import AuditLog, immediate, open_database
from kiosk.devicekey import (
    DeviceKey,
    canonical_json,
    fingerprint,
    load_public_key,
    public_key_text,
    verify_signature,
)
from kiosk.errors import StorageError
from kiosk.model import CardWork, PinWriteIntent, VisitKind, VisitResult
from kiosk.ports import Clock

DATABASE_FILE = "outbox.sqlite3"  # kiosk.paths.KioskPaths.outbox_db
EXPORT_FORMAT = "siths-kiosk-outbox-export/1"
BLOB_FIELDS = ("receipt", "signature", "certificate", "revoke_certificates")
SECRET_PARTS = ("pin", "puk", "credential", "password", "secret")

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    card_number TEXT NOT NULL,
    admin_hsa_id TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    deadline TEXT,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'rejected')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    claimed_by TEXT,
    lease_until REAL,
    last_error TEXT,
    last_error_at TEXT,
    recorded_at TEXT NOT NULL,
    sent_at TEXT,
    answer TEXT
);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox (state, id);
CREATE TABLE IF NOT EXISTS pin_intents (
    visit_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    card_number TEXT NOT NULL,
    admin_hsa_id TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    deadline TEXT,
    started_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_card ON outbox (card_number, state, id);
CREATE TABLE IF NOT EXISTS card_work (
    work_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    card_number TEXT NOT NULL,
    admin_hsa_id TEXT NOT NULL,
    started_at TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '{}'
);
"""

CLAIMABLE = """
SELECT id FROM outbox AS o
WHERE o.state = 'pending'
  AND (o.lease_until IS NULL OR o.lease_until < :now)
  AND (o.next_attempt_at <= :due OR o.next_attempt_at > :latest)
  AND NOT EXISTS (
      SELECT 1 FROM outbox AS e
      WHERE e.card_number = o.card_number AND e.state = 'pending' AND e.id < o.id
  )
ORDER BY o.id
LIMIT :limit
"""


class SystemClock:
    """The real UTC wall clock (kiosk.ports.Clock)."""

    def now(self) -> datetime:
        """The current time in UTC."""
        return datetime.now(UTC)


def new_worker_id() -> str:
    """A sender's identity: host, process id and process start, so a dead one is known."""
    return f"{socket.gethostname()}:{os.getpid()}:{process_start(os.getpid())}"


def process_start(pid: int) -> str:
    """When process ``pid`` started, in clock ticks after boot (/proc), "?" if hidden."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return "?"
    return stat.rsplit(")", 1)[1].split()[19]


def claimer_alive(worker_id: str) -> bool:
    """False only when the claimer was a process on this host that surely no longer runs.

    Doubt counts as alive (its lease then simply expires): a process hidden from /proc
    (systemd ProtectProc=) or not ours to signal is never taken for dead.
    """
    host, _, rest = worker_id.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    now_started = process_start(pid)
    return now_started in ("?", started) or started == "?"


@dataclass(frozen=True)
class Claimed:
    """A row a sender holds under lease."""

    outbox_id: int
    result: VisitResult
    attempts: int
    lease_until: float


@dataclass(frozen=True)
class DeadlineAlert:
    """A pending result whose 5-day completion deadline is near or past."""

    outbox_id: int
    card_number: str
    kind: str
    deadline: datetime
    hours_left: float


@dataclass(frozen=True)
class OutboxStatus:
    """What `kioskctl outbox status`, the heartbeat and the UI banner show."""

    depth: int
    oldest_age_s: float | None
    sent: int
    rejected: int
    alerts: list[DeadlineAlert] = field(default_factory=list)
    last_error: str | None = None
    last_error_at: str | None = None
    interrupted: list[PinWriteIntent] = field(default_factory=list)
    card_work: list[CardWork] = field(default_factory=list)  # key-pair work left open

    def as_json(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return {
            "depth": self.depth,
            "oldest_age_s": self.oldest_age_s,
            "sent": self.sent,
            "rejected": self.rejected,
            "alerts": [
                {
                    "outbox_id": a.outbox_id,
                    "card_number": a.card_number,
                    "kind": a.kind,
                    "deadline": a.deadline.isoformat(),
                    "hours_left": round(a.hours_left, 1),
                }
                for a in self.alerts
            ],
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "interrupted": [intent_json(i) for i in self.interrupted],
            "card_work": [
                {"work_id": w.work_id, "kind": w.kind, "card_number": w.card_number,
                 "admin_hsa_id": w.admin_hsa_id, "started_at": w.started_at.isoformat()}
                for w in self.card_work
            ],
        }


def intent_json(intent: PinWriteIntent) -> dict[str, Any]:
    """An open PIN-write intent as JSON (no secret is in it)."""
    return {
        "visit_id": intent.visit_id,
        "kind": intent.kind,
        "card_number": intent.card_number,
        "admin_hsa_id": intent.admin_hsa_id,
        "ticket_id": intent.ticket_id,
        "deadline": intent.deadline.isoformat() if intent.deadline else None,
        "started_at": intent.started_at.isoformat(),
    }


def _card_work(row: sqlite3.Row) -> CardWork:
    return CardWork(
        row["work_id"], row["kind"], row["card_number"], row["admin_hsa_id"],
        datetime.fromisoformat(row["started_at"]), dict(json.loads(row["notes"])),
    )


def result_to_row(result: VisitResult) -> dict[str, Any]:
    """The stored columns of a result; refuses a payload that carries a secret."""
    for name in result.payload:
        if any(part in name.lower().split("_") for part in SECRET_PARTS):
            raise ValueError(f"a visit result must not carry a secret ({name!r})")
    return {
        "idempotency_key": result.idempotency_key,
        "kind": result.kind.value,
        "card_number": result.card_number,
        "admin_hsa_id": result.admin_hsa_id,
        "finished_at": result.finished_at.isoformat(),
        "deadline": result.deadline.isoformat() if result.deadline else None,
        "payload": json.dumps(result.payload, sort_keys=True),
    }


def row_to_result(row: sqlite3.Row) -> VisitResult:
    """A stored row as a VisitResult."""
    deadline = row["deadline"]
    return VisitResult(
        kind=VisitKind(row["kind"]),
        card_number=row["card_number"],
        admin_hsa_id=row["admin_hsa_id"],
        idempotency_key=row["idempotency_key"],
        finished_at=datetime.fromisoformat(row["finished_at"]),
        payload=dict(json.loads(row["payload"])),
        deadline=datetime.fromisoformat(deadline) if deadline else None,
    )


class Outbox:
    """The durable queue of visit results (implements kiosk.ports.ResultStore)."""

    def __init__(
        self,
        state_dir: Path,
        key: DeviceKey,
        clock: Clock,
        alert_hours: float = 24.0,
        actor: str = "kiosk",
    ) -> None:
        self.state_dir = state_dir
        self.path = state_dir / DATABASE_FILE
        self._clock = clock
        self._key = key
        self._alert_hours = alert_hours
        self._actor = actor
        self._conn = open_database(self.path)
        self._conn.row_factory = sqlite3.Row
        self.audit = AuditLog(self._conn, key, state_dir)
        self._lock = self.audit.lock
        with self._lock:
            self._conn.executescript(SCHEMA)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    def now(self) -> datetime:
        """The outbox clock's time (leases and backoff are measured with it)."""
        return self._clock.now()

    # --- recording -----------------------------------------------------------------

    def record(self, result: VisitResult) -> str:
        """Commit ``result`` durably (fsync) with its audit entry; idempotent by key."""
        row = result_to_row(result)
        now = self.now()
        try:
            with self._lock:
                with immediate(self._conn):
                    existing = self._conn.execute(
                        "SELECT id FROM outbox WHERE idempotency_key = ?",
                        (result.idempotency_key,),
                    ).fetchone()
                    if existing is not None:
                        return str(existing["id"])
                    cursor = self._conn.execute(
                        "INSERT INTO outbox (idempotency_key, kind, card_number, admin_hsa_id,"
                        " finished_at, deadline, payload, recorded_at) VALUES (:idempotency_key,"
                        " :kind, :card_number, :admin_hsa_id, :finished_at, :deadline, :payload,"
                        " :recorded_at)",
                        {**row, "recorded_at": now.isoformat()},
                    )
                    outbox_id = int(cursor.lastrowid or 0)
                    self._conn.execute(  # the result is the trace now: the intent is done
                        "DELETE FROM pin_intents WHERE card_number = ?", (result.card_number,)
                    )
                    self._conn.execute(  # and the key-pair work of this kind on the card
                        "DELETE FROM card_work WHERE card_number = ? AND kind = ?",
                        (result.card_number, result.kind.value),
                    )
                    head = self.audit.append_in_transaction(
                        "result_recorded",
                        result.admin_hsa_id,
                        now,
                        result.card_number,
                        {"outbox_id": outbox_id, **_audit_summary(result)},
                    )
                self.audit.write_head(*head)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot record the result: {exc}", path=str(self.path)) from exc
        return str(outbox_id)

    # --- PIN-write intents -------------------------------------------------------------

    def begin_pin_write(self, intent: PinWriteIntent) -> None:
        """Commit (fsync) that a PIN is about to be written, with an audit entry, before
        the card is touched: a crash after the write leaves this row open."""
        now = self.now()
        try:
            with self._lock:
                with immediate(self._conn):
                    self._conn.execute(
                        "INSERT OR REPLACE INTO pin_intents (visit_id, kind, card_number,"
                        " admin_hsa_id, ticket_id, deadline, started_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (intent.visit_id, intent.kind, intent.card_number, intent.admin_hsa_id,
                         intent.ticket_id,
                         intent.deadline.isoformat() if intent.deadline else None,
                         intent.started_at.isoformat()),
                    )
                    head = self.audit.append_in_transaction(
                        "pin_write_started", intent.admin_hsa_id, now, intent.card_number,
                        {"kind": intent.kind, "ticket_id": intent.ticket_id},
                    )
                self.audit.write_head(*head)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot record the PIN write: {exc}", path=str(self.path)) from exc

    def end_pin_write(self, visit_id: str) -> None:
        """The card refused the write: the intent is no longer open."""
        try:
            with self._lock, immediate(self._conn):
                self._conn.execute("DELETE FROM pin_intents WHERE visit_id = ?", (visit_id,))
        except sqlite3.Error as exc:
            raise StorageError(f"cannot end the PIN write: {exc}", path=str(self.path)) from exc

    def interrupted(self) -> list[PinWriteIntent]:
        """Visits that began writing a PIN and recorded no result: each is to be finished
        (the receipt signed before its deadline) or its card looked at."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM pin_intents ORDER BY started_at"
            ).fetchall()
        return [
            PinWriteIntent(
                r["visit_id"], r["kind"], r["card_number"], r["admin_hsa_id"], r["ticket_id"],
                datetime.fromisoformat(r["deadline"]) if r["deadline"] else None,
                datetime.fromisoformat(r["started_at"]),
            )
            for r in rows
        ]

    # --- key-pair work on a card ---------------------------------------------------------

    def begin_card_work(self, work: CardWork) -> CardWork:
        """The open work of ``work.kind`` on its card, else ``work`` committed (fsync) with
        an audit entry: a visit restarted after a crash continues the first one's work."""
        now = self.now()
        try:
            with self._lock:
                with immediate(self._conn):
                    row = self._conn.execute(
                        "SELECT * FROM card_work WHERE card_number = ? AND kind = ?"
                        " ORDER BY started_at LIMIT 1",
                        (work.card_number, work.kind),
                    ).fetchone()
                    if row is not None:
                        return _card_work(row)
                    self._conn.execute(
                        "INSERT INTO card_work (work_id, kind, card_number, admin_hsa_id,"
                        " started_at, notes) VALUES (?, ?, ?, ?, ?, ?)",
                        (work.work_id, work.kind, work.card_number, work.admin_hsa_id,
                         work.started_at.isoformat(), json.dumps(work.notes, sort_keys=True)),
                    )
                    head = self.audit.append_in_transaction(
                        "card_work_started", work.admin_hsa_id, now, work.card_number,
                        {"kind": work.kind, "work_id": work.work_id},
                    )
                self.audit.write_head(*head)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot record the card work: {exc}", path=str(self.path)) from exc
        return work

    def find_card_work(self, card_number: str, kind: str) -> CardWork | None:
        """The open work of ``kind`` on the card, if a visit began it and recorded nothing."""
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM card_work WHERE card_number = ? AND kind = ?"
                " ORDER BY started_at LIMIT 1",
                (card_number, kind),
            ).fetchone()
        return _card_work(row) if row is not None else None

    def note_card_work(self, work_id: str, key: str, value: str) -> None:
        """Keep what the work made (a request, a certificate; never a secret), durably."""
        if any(part in key.lower().split("_") for part in SECRET_PARTS):
            raise ValueError(f"card work must not keep a secret ({key!r})")
        try:
            with self._lock, immediate(self._conn):
                row = self._conn.execute(
                    "SELECT notes FROM card_work WHERE work_id = ?", (work_id,)
                ).fetchone()
                if row is None:
                    return  # ended meanwhile (its result is recorded)
                notes = {**json.loads(row["notes"]), key: value}
                self._conn.execute(
                    "UPDATE card_work SET notes = ? WHERE work_id = ?",
                    (json.dumps(notes, sort_keys=True), work_id),
                )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot note the card work: {exc}", path=str(self.path)) from exc

    def end_card_work(self, work_id: str) -> None:
        """The portal refused the work: a new visit starts afresh (new keys and ids)."""
        try:
            with self._lock, immediate(self._conn):
                self._conn.execute("DELETE FROM card_work WHERE work_id = ?", (work_id,))
        except sqlite3.Error as exc:
            raise StorageError(f"cannot end the card work: {exc}", path=str(self.path)) from exc

    def open_card_work(self) -> list[CardWork]:
        """Key-pair work begun and not ended by a recorded result (status shows it)."""
        with self._lock:
            rows = self._conn.execute("SELECT * FROM card_work ORDER BY started_at").fetchall()
        return [_card_work(r) for r in rows]

    # --- claiming and settling -----------------------------------------------------

    def claim(
        self, worker_id: str, limit: int, lease_s: float, ignore_backoff: bool = False,
        max_wait_s: float | None = None,
    ) -> list[Claimed]:
        """Lease up to ``limit`` sendable rows, oldest first, in one IMMEDIATE transaction.

        ``ignore_backoff`` (an operator's flush) also takes rows still waiting to retry.
        ``max_wait_s``: the longest backoff a row is ever given; a row due further ahead
        was scheduled before the wall clock was set back (NTP, by hand) and is due now,
        not once the clock has caught up (a day set back held it a day).
        """
        now = self.now().timestamp()
        due = float("inf") if ignore_backoff else now
        latest = float("inf") if max_wait_s is None else now + max_wait_s
        try:
            with self._lock, immediate(self._conn):
                self._break_dead_leases(now)
                ids = [
                    int(r["id"])
                    for r in self._conn.execute(
                        CLAIMABLE, {"now": now, "due": due, "latest": latest, "limit": limit}
                    )
                ]
                if not ids:
                    return []
                marks = ",".join("?" * len(ids))
                self._conn.execute(
                    f"UPDATE outbox SET claimed_by = ?, lease_until = ? WHERE id IN ({marks})",  # noqa: S608 -- only placeholders
                    (worker_id, now + lease_s, *ids),
                )
                rows = self._conn.execute(
                    f"SELECT * FROM outbox WHERE id IN ({marks}) ORDER BY id",  # noqa: S608 -- only placeholders
                    ids,
                ).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot claim results: {exc}", path=str(self.path)) from exc
        return [
            Claimed(int(r["id"]), row_to_result(r), int(r["attempts"]), now + lease_s)
            for r in rows
        ]

    def claim_key(self, worker_id: str, idempotency_key: str, lease_s: float) -> Claimed | None:
        """Lease one row by its key, if it is sendable now and first in its card's queue."""
        now = self.now().timestamp()
        try:
            with self._lock, immediate(self._conn):
                self._break_dead_leases(now)
                row = self._conn.execute(
                    "SELECT * FROM outbox AS o WHERE o.idempotency_key = ?"
                    " AND o.state = 'pending' AND (o.lease_until IS NULL OR o.lease_until < ?)"
                    " AND NOT EXISTS (SELECT 1 FROM outbox AS e WHERE e.card_number ="
                    " o.card_number AND e.state = 'pending' AND e.id < o.id)",
                    (idempotency_key, now),
                ).fetchone()
                if row is None:
                    return None
                self._conn.execute(
                    "UPDATE outbox SET claimed_by = ?, lease_until = ? WHERE id = ?",
                    (worker_id, now + lease_s, row["id"]),
                )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot claim a result: {exc}", path=str(self.path)) from exc
        return Claimed(int(row["id"]), row_to_result(row), int(row["attempts"]), now + lease_s)

    def _break_dead_leases(self, now: float) -> None:
        holders = self._conn.execute(
            "SELECT DISTINCT claimed_by FROM outbox WHERE state = 'pending'"
            " AND claimed_by IS NOT NULL AND lease_until >= ?",
            (now,),
        ).fetchall()
        for (holder,) in holders:
            if not claimer_alive(str(holder)):
                self._conn.execute(
                    "UPDATE outbox SET claimed_by = NULL, lease_until = NULL"
                    " WHERE claimed_by = ? AND state = 'pending'",
                    (holder,),
                )

    def still_held(self, worker_id: str, outbox_id: int) -> bool:
        """Whether ``worker_id`` still holds an unexpired lease on the row."""
        now = self.now().timestamp()
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM outbox WHERE id = ? AND state = 'pending' AND claimed_by = ?"
                " AND lease_until >= ?",
                (outbox_id, worker_id, now),
            ).fetchone()
        return row is not None

    def mark_sent(self, worker_id: str, sent: list[tuple[Claimed, dict[str, Any]]]) -> int:
        """Mark rows sent with the portal's answers, in one transaction; return how many."""
        if not sent:
            return 0
        now = self.now()
        heads: list[tuple[int, str, str]] = []
        count = 0
        try:
            with self._lock:
                with immediate(self._conn):
                    for claimed, answer in sent:
                        cursor = self._conn.execute(
                            "UPDATE outbox SET state = 'sent', sent_at = ?, answer = ?,"
                            " payload = ?, claimed_by = NULL, lease_until = NULL,"
                            " last_error = NULL WHERE id = ? AND state = 'pending'",
                            (
                                now.isoformat(),
                                json.dumps(answer),
                                json.dumps(sent_payload(claimed.result.payload),
                                           sort_keys=True),
                                claimed.outbox_id,
                            ),
                        )
                        if cursor.rowcount:
                            count += 1
                            heads.append(
                                self.audit.append_in_transaction(
                                    "result_synced",
                                    self._actor,
                                    now,
                                    claimed.result.card_number,
                                    {
                                        "outbox_id": claimed.outbox_id,
                                        "sender": worker_id,
                                        "kind": claimed.result.kind.value,
                                        "idempotency_key": claimed.result.idempotency_key,
                                        "answer": answer,
                                    },
                                )
                            )
                if heads:
                    self.audit.write_head(*heads[-1])
        except sqlite3.Error as exc:
            raise StorageError(f"cannot mark results sent: {exc}", path=str(self.path)) from exc
        return count

    def release(
        self,
        worker_id: str,
        claimed: Claimed,
        error: str | None = None,
        retry_in_s: float = 0.0,
        rejected: bool = False,
    ) -> None:
        """Give a row back: untouched, with an error and a backoff, or as rejected for good."""
        now = self.now()
        head: tuple[int, str, str] | None = None
        with self._lock, immediate(self._conn):
            if error is None:
                self._conn.execute(
                    "UPDATE outbox SET claimed_by = NULL, lease_until = NULL"
                    " WHERE id = ? AND claimed_by = ?",
                    (claimed.outbox_id, worker_id),
                )
                return
            self._conn.execute(
                "UPDATE outbox SET claimed_by = NULL, lease_until = NULL,"
                " attempts = attempts + 1, next_attempt_at = ?, last_error = ?,"
                " last_error_at = ?, state = ? WHERE id = ? AND state = 'pending'",
                (
                    now.timestamp() + retry_in_s,
                    error,
                    now.isoformat(),
                    "rejected" if rejected else "pending",
                    claimed.outbox_id,
                ),
            )
            if rejected:
                head = self.audit.append_in_transaction(
                    "result_rejected",
                    self._actor,
                    now,
                    claimed.result.card_number,
                    {"outbox_id": claimed.outbox_id, "sender": worker_id, "reason": error},
                )
        if head is not None:
            self.audit.write_head(*head)

    # --- reading -------------------------------------------------------------------

    def pending(self) -> list[tuple[int, VisitResult]]:
        """Every result not yet accepted by the portal, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM outbox WHERE state = 'pending' ORDER BY id"
            ).fetchall()
        return [(int(r["id"]), row_to_result(r)) for r in rows]

    def counts(self) -> dict[str, int]:
        """Rows per state."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT state, COUNT(*) AS n FROM outbox GROUP BY state"
            ).fetchall()
        return {str(r["state"]): int(r["n"]) for r in rows}

    def next_attempt_in(self) -> float | None:
        """Seconds until the earliest pending row may be tried again; None if none pending."""
        with self._lock:
            row = self._conn.execute(
                "SELECT MIN(next_attempt_at) AS t FROM outbox WHERE state = 'pending'"
            ).fetchone()
        if row is None or row["t"] is None:
            return None
        return max(0.0, float(row["t"]) - self.now().timestamp())

    def alerts(self) -> list[DeadlineAlert]:
        """Pending results whose deadline is within the alert threshold (or past)."""
        now = self.now()
        limit = now + timedelta(hours=self._alert_hours)
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, card_number, kind, deadline FROM outbox"
                " WHERE state = 'pending' AND deadline IS NOT NULL ORDER BY deadline"
            ).fetchall()
        alerts = []
        for r in rows:
            deadline = datetime.fromisoformat(r["deadline"])
            if deadline <= limit:
                hours = (deadline - now).total_seconds() / 3600
                alerts.append(DeadlineAlert(int(r["id"]), r["card_number"], r["kind"], deadline,
                                            hours))
        return alerts

    def status(self) -> OutboxStatus:
        """Depth, oldest age, deadline alerts and the last error."""
        now = self.now()
        counts = self.counts()
        with self._lock:
            oldest = self._conn.execute(
                "SELECT MIN(finished_at) AS t FROM outbox WHERE state = 'pending'"
            ).fetchone()
            error = self._conn.execute(
                "SELECT last_error, last_error_at FROM outbox WHERE last_error IS NOT NULL"
                " ORDER BY last_error_at DESC LIMIT 1"
            ).fetchone()
        age = None
        if oldest is not None and oldest["t"] is not None:
            age = (now - datetime.fromisoformat(oldest["t"])).total_seconds()
        return OutboxStatus(
            depth=counts.get("pending", 0),
            oldest_age_s=age,
            sent=counts.get("sent", 0),
            rejected=counts.get("rejected", 0),
            alerts=self.alerts(),
            last_error=error["last_error"] if error else None,
            last_error_at=error["last_error_at"] if error else None,
            interrupted=self.interrupted(),
            card_work=self.open_card_work(),
        )

    # --- the signed export ---------------------------------------------------------

    def export(self, kiosk_id: str) -> dict[str, Any]:
        """A signed record of the pending results for an administrator to enter by hand."""
        now = self.now()
        body = {
            "format": EXPORT_FORMAT,
            "kiosk_id": kiosk_id,
            "created_at": now.isoformat(),
            "public_key": public_key_text(self._key.public),
            "key_fingerprint": fingerprint(self._key.public),
            "results": [_export_entry(i, r) for i, r in self.pending()],
        }
        signed = dict(body)
        signed["signature"] = self._key.sign(canonical_json(body))
        with self._lock, immediate(self._conn):
            head = self.audit.append_in_transaction(
                "outbox_exported", self._actor, now, None,
                {"results": len(body["results"]), "key_fingerprint": body["key_fingerprint"]},
            )
        self.audit.write_head(*head)
        return signed


def sent_payload(payload: dict[str, str]) -> dict[str, str]:
    """What is kept of a payload once the portal has it: blobs (the holder's certificate,
    signature, receipt) give way to their SHA-256, so no personal data lingers."""
    return {
        (f"{name}_sha256" if name in BLOB_FIELDS else name): (
            _blob_digest(value) if name in BLOB_FIELDS else value
        )
        for name, value in payload.items()
    }


def _audit_summary(result: VisitResult) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": result.kind.value,
                               "idempotency_key": result.idempotency_key}
    if result.deadline:
        details["deadline"] = result.deadline.isoformat()
    for name, value in sorted(result.payload.items()):
        if name in BLOB_FIELDS:
            details[f"{name}_sha256"] = _blob_digest(value)
        elif name == "evidence":
            details["evidence"] = _json_or_text(value)
        else:
            details[name] = value
    return details


def _export_entry(outbox_id: int, result: VisitResult) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "outbox_id": outbox_id,
        "kind": result.kind.value,
        "card_number": result.card_number,
        "admin_hsa_id": result.admin_hsa_id,
        "finished_at": result.finished_at.isoformat(),
        "deadline": result.deadline.isoformat() if result.deadline else None,
        "idempotency_key": result.idempotency_key,
    }
    for name, value in sorted(result.payload.items()):
        if name == "receipt":
            entry["receipt_text"] = _receipt_text(value)
            entry["receipt_sha256"] = _blob_digest(value)
        elif name in BLOB_FIELDS:
            entry[name] = value
            entry[f"{name}_sha256"] = _blob_digest(value)
        elif name == "evidence":
            entry["evidence"] = _json_or_text(value)
        else:
            entry[name] = value
    return entry


def _blob_digest(value: str) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        raw = value.encode("utf-8")
    return hashlib.sha256(raw).hexdigest()


def _receipt_text(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except ValueError:
        return value


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


@dataclass(frozen=True)
class ExportCheck:
    """The result of verifying an export file."""

    valid: bool
    reason: str
    key_fingerprint: str = ""
    results: int = 0


def verify_export(document: Any, trusted_key: str | None = None) -> ExportCheck:
    """Check an export's format and Ed25519 signature (against ``trusted_key`` if given)."""
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        return ExportCheck(False, "format")
    body = {k: v for k, v in document.items() if k != "signature"}
    key_text = str(document.get("public_key", ""))
    if trusted_key is not None and key_text != trusted_key.strip():
        return ExportCheck(False, "untrusted_key")
    try:
        key = load_public_key(key_text)
        message = canonical_json(body)
    except (StorageError, ValueError, TypeError):
        return ExportCheck(False, "format")
    if not verify_signature(key, str(document.get("signature", "")), message):
        return ExportCheck(False, "signature", fingerprint(key))
    results = document.get("results")
    return ExportCheck(True, "ok", fingerprint(key), len(results) if isinstance(results, list)
                       else 0)

