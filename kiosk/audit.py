"""The audit log: append-only, hash-chained, each entry signed with the device key.

Entries live in a SQLite table in the kiosk's state database (the outbox's file), so a
visit result and its audit entry are committed in one transaction: a crash leaves both
or neither. Triggers refuse UPDATE and DELETE. Each entry's hash is SHA-256 over the
canonical JSON of the entry and the previous entry's hash; the device key signs the
hash. A signed head file remembers the newest entry so that cutting off the tail is
detected too; the head also goes to the portal with each sync (heartbeat), which keeps the
newest per kiosk, so cutting the tail *and* removing or replaying the head file is
detected against that anchor. Details are minimised before they are written: secrets are refused,
a personnummer is replaced by a keyed hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiosk.devicekey import DeviceKey, canonical_json, verify_signature
from kiosk.errors import AuditChainBroken, InvalidInput, StorageError
from kiosk.identity.personnummer import parse_personnummer

GENESIS = "0" * 64
HEAD_FILE = "audit.head"
HASH_RE = re.compile(r"^[0-9a-f]{64}$")
SECRET_WORDS = frozenset({"pin", "puk", "credential", "password", "secret", "passcode"})
PERSONNUMMER_RE = re.compile(r"(?<![0-9A-Za-z])(?:\d{8}|\d{6})[-+]?\d{4}(?![0-9A-Za-z])")

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER NOT NULL,
    entry TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    signature TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
"""


BUSY_TIMEOUT_S = 30.0


def use_wal(conn: sqlite3.Connection, timeout_s: float = BUSY_TIMEOUT_S) -> None:
    """Put the database in WAL mode, waiting up to ``timeout_s`` for other connections.

    SQLite runs no busy handler for the change to WAL (it needs the file to itself), so two
    processes opening a new database at once (the kiosk and kioskctl, two audit writers)
    got "database is locked" at once. WAL is kept in the file: once it is set nothing is
    changed, and no lock is taken."""
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal":
                return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise sqlite3.OperationalError("database is locked: WAL mode not taken")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def open_database(path: Path) -> sqlite3.Connection:
    """The kiosk's state database: WAL, synchronous=FULL, autocommit (explicit BEGINs)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                               check_same_thread=False)
        use_wal(conn)
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA secure_delete=ON")  # replaced personal data is overwritten
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open {path}: {exc}", path=str(path)) from exc
    os.chmod(path, 0o600)
    return conn


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction taken at once (BEGIN IMMEDIATE), committed or rolled back."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise StorageError(f"cannot start a transaction: {exc}") from exc
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        conn.execute("ROLLBACK")
        raise StorageError(f"commit failed: {exc}") from exc


def entry_hash(entry_json: str, prev_hash: str) -> str:
    """SHA-256 over the canonical JSON of the entry and the previous entry's hash."""
    return hashlib.sha256(canonical_json({"entry": entry_json, "prev": prev_hash})).hexdigest()


def minimise(details: Mapping[str, Any], key: DeviceKey) -> dict[str, Any]:
    """Details safe to keep: secrets refused, personnummer replaced by a keyed hash."""
    out: dict[str, Any] = {}
    for name, value in details.items():
        lowered = name.lower()
        if isinstance(value, str | bytes) and not SECRET_WORDS.isdisjoint(lowered.split("_")):
            raise ValueError(f"audit details must not carry a secret ({name!r})")
        if isinstance(value, str) and PERSONNUMMER_RE.search(value) and _is_personnummer(value):
            out[f"{lowered}_ref" if "personnummer" in lowered else name] = _reference(value, key)
            continue
        out[name] = _minimise_value(value, key)
    return out


def _minimise_value(value: Any, key: DeviceKey) -> Any:
    if isinstance(value, Mapping):
        return minimise(value, key)
    if isinstance(value, list | tuple):
        return [_minimise_value(v, key) for v in value]
    if isinstance(value, str) and PERSONNUMMER_RE.search(value):
        return PERSONNUMMER_RE.sub(
            lambda m: _reference(m.group(), key) if _is_personnummer(m.group()) else m.group(),
            value,
        )
    return value


def _is_personnummer(text: str) -> bool:
    """A valid personnummer or samordningsnummer (date and check digit), nothing else."""
    if not PERSONNUMMER_RE.fullmatch(text.strip()):
        return False
    try:
        parse_personnummer(text.strip())
    except InvalidInput:
        return False
    return True


def _reference(text: str, key: DeviceKey) -> str:
    """The keyed hash standing in for a personnummer (12-digit form, so forms agree)."""
    return "pnr:" + key.pseudonym(parse_personnummer(text.strip()).normalised)


@dataclass(frozen=True)
class AuditEntry:
    """One stored entry, decoded."""

    index: int
    seq: int
    at: str
    actor: str
    action: str
    card_number: str | None
    details: dict[str, Any]
    hash: str


@dataclass(frozen=True)
class AuditProblem:
    """Where the chain breaks: the storage position, what happened, and the entry's seq."""

    index: int
    kind: str  # edited, deleted, inserted, reordered, forged, truncated, bad_head
    detail: str


@dataclass(frozen=True)
class AuditReport:
    """The result of verifying the whole chain."""

    count: int
    problems: list[AuditProblem] = field(default_factory=list)
    head_seq: int | None = None

    @property
    def ok(self) -> bool:
        """Whether the chain verified end to end."""
        return not self.problems


class AuditLog:
    """Appends to and verifies the audit chain in the state database."""

    def __init__(self, conn: sqlite3.Connection, key: DeviceKey, state_dir: Path) -> None:
        self._conn = conn
        self._key = key
        self._head_path = state_dir / HEAD_FILE
        self._lock = threading.RLock()
        with self._lock:
            conn.executescript(SCHEMA)

    @property
    def lock(self) -> threading.RLock:
        """The lock guarding the shared connection (the outbox takes it too)."""
        return self._lock

    def append(
        self,
        action: str,
        actor: str,
        at: datetime,
        card_number: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        """Append one entry in its own transaction; return its seq."""
        try:
            with self._lock, immediate(self._conn):
                seq, digest, signature = self.append_in_transaction(
                    action, actor, at, card_number, details
                )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot append to the audit log: {exc}") from exc
        self.write_head(seq, digest, signature)
        return seq

    def append_in_transaction(
        self,
        action: str,
        actor: str,
        at: datetime,
        card_number: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> tuple[int, str, str]:
        """Append inside the caller's open transaction; call write_head after commit."""
        row = self._conn.execute(
            "SELECT seq, hash FROM audit ORDER BY rowid DESC LIMIT 1"
        ).fetchone()
        seq, prev = (0, GENESIS) if row is None else (int(row[0]) + 1, str(row[1]))
        body = {
            "seq": seq,
            "at": at.isoformat(),
            "actor": actor,
            "action": action,
            "card_number": card_number,
            "details": minimise(details or {}, self._key),
        }
        entry_json = canonical_json(body).decode("utf-8")
        digest = entry_hash(entry_json, prev)
        signature = self._key.sign(digest.encode("ascii"))
        self._conn.execute(
            "INSERT INTO audit (seq, entry, prev_hash, hash, signature) VALUES (?, ?, ?, ?, ?)",
            (seq, entry_json, prev, digest, signature),
        )
        return seq, digest, signature

    def write_head(self, seq: int, digest: str, signature: str) -> None:
        """Remember the newest entry, signed, so a cut-off tail is detected."""
        head = {"seq": seq, "hash": digest, "signature": signature}
        tmp = self._head_path.with_name(f"{HEAD_FILE}.{os.getpid()}.{threading.get_ident()}")
        try:
            with open(tmp, "w", encoding="ascii") as handle:
                handle.write(json.dumps(head))
                handle.flush()
                os.fsync(handle.fileno())
            current = _read_head(self._head_path)
            parsed = parse_head(current) if current is not None else None
            if parsed is not None and parsed[0] > seq:
                tmp.unlink()  # a concurrent writer already recorded a newer head
                return
            os.replace(tmp, self._head_path)
        except OSError as exc:
            raise StorageError(f"cannot write {self._head_path}: {exc}") from exc

    def current_head(self) -> dict[str, Any] | None:
        """The signed head as the file holds it, for anchoring at the portal; None when
        there is none or it is malformed (verify reports that)."""
        head = _read_head(self._head_path)
        return head if head is not None and parse_head(head) is not None else None

    def entries(self, last: int = 0) -> list[AuditEntry]:
        """Entries in storage order; only the ``last`` ones when it is positive."""
        with self._lock:
            self._conn.execute("BEGIN")  # the count and the rows from one snapshot
            try:
                total = int(self._conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0])
                first = max(0, total - last) if last > 0 else 0
                rows = self._conn.execute(
                    "SELECT entry, hash FROM audit ORDER BY rowid LIMIT -1 OFFSET ?", (first,)
                ).fetchall()
            finally:
                self._conn.execute("COMMIT")
        out = []
        for index, (entry_json, digest) in enumerate(rows, start=first):
            body = json.loads(entry_json)
            out.append(
                AuditEntry(
                    index, int(body["seq"]), str(body["at"]), str(body["actor"]),
                    str(body["action"]), body.get("card_number"), dict(body["details"]),
                    str(digest),
                )
            )
        return out

    def verify(
        self,
        public_key: Ed25519PublicKey | None = None,
        anchor: Mapping[str, Any] | None = None,
    ) -> AuditReport:
        """Check every hash, signature and link, the head file, and the head anchored at
        the portal when given; name the index of each problem."""
        key = public_key or self._key.public
        with self._lock:  # two streaming passes: the sequence numbers, then the entries
            self._conn.execute("BEGIN")  # one snapshot for both passes
            try:
                seqs = [
                    _seq_of(entry)
                    for (entry,) in self._conn.execute("SELECT entry FROM audit ORDER BY rowid")
                ]
                rows = self._conn.execute(
                    "SELECT entry, prev_hash, hash, signature FROM audit ORDER BY rowid"
                )
                return verify_rows(rows, seqs, key, _read_head(self._head_path), anchor)
            finally:
                self._conn.execute("COMMIT")

    def require_intact(self) -> AuditReport:
        """Verify, raising AuditChainBroken at the first problem."""
        report = self.verify()
        if report.problems:
            first = report.problems[0]
            raise AuditChainBroken(first.detail, index=first.index, kind=first.kind)
        return report


def _seq_of(entry_json: str) -> int:
    try:
        return int(json.loads(entry_json)["seq"])
    except (ValueError, KeyError, TypeError):
        return -1


def parse_head(head: Mapping[str, Any]) -> tuple[int, str, str] | None:
    """(seq, hash, signature) of a well-formed head, None for a malformed one ({}, a
    non-numeric or negative seq, a hash that is not 64 hex digits)."""
    seq, digest, signature = head.get("seq"), head.get("hash"), head.get("signature")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        return None
    if not isinstance(digest, str) or not HASH_RE.match(digest):
        return None
    if not isinstance(signature, str) or not signature:
        return None
    return seq, digest, signature


def _check_head(
    head: Mapping[str, Any],
    what: str,
    key: Ed25519PublicKey,
    count: int,
    digests: dict[int, str],
) -> tuple[int | None, list[AuditProblem]]:
    parsed = parse_head(head)
    if parsed is None:
        return None, [AuditProblem(count, "bad_head", f"the {what} is malformed")]
    seq, digest, signature = parsed
    if not verify_signature(key, signature, digest.encode("ascii")):
        return seq, [AuditProblem(count, "forged", f"the {what} is not signed by this kiosk")]
    if seq not in digests:
        return seq, [AuditProblem(
            count, "truncated", f"entries from {count} to {seq} were cut off the end ({what})"
        )]
    if digests[seq] != digest:
        return seq, [AuditProblem(
            count, "truncated", f"entry {seq} is not the one the {what} names: the end was "
            "cut off and written again",
        )]
    return seq, []


def verify_rows(
    rows: Iterable[tuple[str, str, str, str]],
    seqs: list[int],
    key: Ed25519PublicKey,
    head: Mapping[str, Any] | None,
    anchor: Mapping[str, Any] | None = None,
) -> AuditReport:
    """Verify stored rows (entry, prev_hash, hash, signature), whose sequence numbers are
    ``seqs`` in the same order, against a key, the head file and the head anchored at the
    portal (either may be None)."""
    problems: list[AuditProblem] = []
    expected_seq, expected_prev = 0, GENESIS
    seen: dict[int, int] = {}
    digests: dict[int, str] = {}
    for index, (entry_json, prev_hash, digest, signature) in enumerate(rows):
        seq = seqs[index]
        if entry_hash(entry_json, prev_hash) != digest:
            problems.append(AuditProblem(index, "edited", f"entry {index} was edited"))
        elif not verify_signature(key, signature, digest.encode("ascii")):
            kind = "inserted" if seq in seen or seq in seqs[index + 1 :] else "forged"
            problems.append(
                AuditProblem(index, kind, f"entry {index} is not signed by this kiosk ({kind})")
            )
        elif seq in seen:
            problems.append(
                AuditProblem(index, "inserted", f"entry {index} repeats entry {seen[seq]}")
            )
        elif seq > expected_seq:
            later = set(seqs[index + 1 :])
            if any(s in later for s in range(expected_seq, seq)):
                problems.append(
                    AuditProblem(index, "reordered", f"entry {index} is out of order")
                )
            else:
                missing = f"{expected_seq}" if seq == expected_seq + 1 else (
                    f"{expected_seq}-{seq - 1}"
                )
                problems.append(
                    AuditProblem(
                        index, "deleted", f"entries {missing} were deleted before entry {index}"
                    )
                )
        elif seq < expected_seq:
            problems.append(AuditProblem(index, "reordered", f"entry {index} is out of order"))
        elif prev_hash != expected_prev:
            problems.append(
                AuditProblem(index, "inserted", f"entry {index} does not follow entry {index - 1}")
            )
        seen.setdefault(seq, index)
        digests.setdefault(seq, digest)
        expected_seq = max(expected_seq, seq + 1)
        expected_prev = digest
    count = len(seqs)
    head_seq = None
    if head is not None:
        head_seq, found = _check_head(head, "head file", key, count, digests)
        problems += found
    if anchor is not None:
        _, found = _check_head(anchor, "head the portal keeps", key, count, digests)
        problems += found
    return AuditReport(count, problems, head_seq)


def _read_head(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="ascii"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # unreadable or not JSON: reported as a malformed head
    return data if isinstance(data, dict) else {}
