"""The reference portal's SQLite database: schema, connections and transactions."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS admins (
    hsa_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    card_office TEXT NOT NULL,
    training_valid_until TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cards (
    card_number TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('Skickad', 'Aktiv', 'Spärrad')),
    kind TEXT NOT NULL CHECK (kind IN ('ordinary', 'reserve', 'company')),
    issuer TEXT NOT NULL,
    holder_name TEXT NOT NULL,
    personnummer TEXT NOT NULL,
    hsa_id TEXT NOT NULL,
    trust_level INTEGER NOT NULL,
    manufactured TEXT NOT NULL,
    activation_started TEXT,
    activated_at TEXT,
    valid_until TEXT,
    credential TEXT NOT NULL,
    blocked_reason TEXT,
    blocked_at TEXT
);
CREATE TABLE IF NOT EXISTS activations (
    id TEXT PRIMARY KEY,
    card_number TEXT NOT NULL REFERENCES cards(card_number),
    kind TEXT NOT NULL CHECK (kind IN ('activation', 'unlock')),
    admin_hsa_id TEXT NOT NULL,
    started_at TEXT NOT NULL,
    deadline TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('started', 'completed', 'superseded', 'issued')),
    evidence TEXT NOT NULL,
    completed_at TEXT,
    receipt_sha256 TEXT,
    signer TEXT,
    kiosk_id TEXT,
    card_office TEXT
);
CREATE INDEX IF NOT EXISTS activations_by_card ON activations(card_number);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    card_number TEXT,
    action TEXT NOT NULL,
    actor TEXT,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS heartbeats (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kiosk_id TEXT NOT NULL,
    at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS certificates (
    serial TEXT PRIMARY KEY,
    card_number TEXT NOT NULL REFERENCES cards(card_number),
    kind TEXT NOT NULL CHECK (kind IN ('authentication', 'signature', 'additional')),
    subject_id TEXT NOT NULL CHECK (subject_id IN ('hsa_id', 'personnummer')),
    organisation TEXT NOT NULL,
    admin_hsa_id TEXT NOT NULL,
    key_sha256 TEXT NOT NULL,
    der BLOB NOT NULL,
    not_before TEXT NOT NULL,
    not_after TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    replaces TEXT,
    state TEXT NOT NULL CHECK (state IN ('valid', 'replaced', 'revoked')),
    ended_at TEXT,
    ended_reason TEXT
);
CREATE INDEX IF NOT EXISTS certificates_by_card ON certificates(card_number);
CREATE TABLE IF NOT EXISTS pin_letters (
    id TEXT PRIMARY KEY,
    card_number TEXT NOT NULL REFERENCES cards(card_number),
    admin_hsa_id TEXT NOT NULL,
    ordered_at TEXT NOT NULL,
    expected_by TEXT NOT NULL,
    evidence TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pin_letters_by_card ON pin_letters(card_number);
CREATE TABLE IF NOT EXISTS statements (
    nonce TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    hsa_id TEXT NOT NULL,
    kiosk_id TEXT NOT NULL,
    action TEXT NOT NULL,
    card_number TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    kiosk_id TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (kiosk_id, key)
);
CREATE TABLE IF NOT EXISTS kiosks (
    kiosk_id TEXT PRIMARY KEY,
    card_office TEXT NOT NULL,
    enrolled_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS kiosk_certs (
    sha256 TEXT PRIMARY KEY,
    kiosk_id TEXT NOT NULL REFERENCES kiosks(kiosk_id),
    subject TEXT NOT NULL,
    not_after TEXT NOT NULL,
    enrolled_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS audit_heads (
    kiosk_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    head TEXT NOT NULL,
    received_at TEXT NOT NULL
);
"""


SYNCHRONOUS_MODES = ("FULL", "NORMAL")


class Connection(sqlite3.Connection):
    """A connection that knows its database's in-process writer lock (``transaction``)."""

    writer: threading.RLock | None = None


_writers: dict[str, threading.RLock] = {}
_writers_lock = threading.Lock()
WRITER_WAIT_S = 30.0  # as long as SQLite's busy timeout


def _writer(path: str | Path) -> threading.RLock:
    key = os.path.realpath(path)
    with _writers_lock:
        return _writers.setdefault(key, threading.RLock())


def connect(path: str | Path, synchronous: str = "FULL") -> sqlite3.Connection:
    """A connection in autocommit mode; callers open transactions with ``transaction``.

    FULL (the default) fsyncs the WAL at every commit, so an answered change survives a
    power cut; NORMAL survives a crash of the process but not of the machine.
    """
    if synchronous not in SYNCHRONOUS_MODES:
        raise ValueError(f"synchronous must be one of {SYNCHRONOUS_MODES}, not {synchronous!r}")
    conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None,
                           check_same_thread=False, factory=Connection)
    conn.writer = _writer(path)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def initialise(path: str | Path) -> None:
    """Create the database file and its schema (idempotent); switch it to WAL."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        _migrate(conn)
        conn.executescript(SCHEMA)
        conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )
    finally:
        conn.close()


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})")}


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a version 1 database forward: idempotency keys become per kiosk (answers stored
    under a global key are dropped: no kiosk can claim them), activations record the
    kiosk and card office that started them."""
    if "key" in _columns(conn, "idempotency") and "kiosk_id" not in _columns(conn, "idempotency"):
        conn.execute("DROP TABLE idempotency")
    activation_columns = _columns(conn, "activations")
    if activation_columns and "kiosk_id" not in activation_columns:
        conn.execute("ALTER TABLE activations ADD COLUMN kiosk_id TEXT")
        conn.execute("ALTER TABLE activations ADD COLUMN card_office TEXT")
    if _columns(conn, "meta"):
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
        )


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction taken up front (BEGIN IMMEDIATE); rolled back on any exception.

    Writers of one process queue on the database's lock here first: SQLite's busy handler
    sleeps 1, 2, 5, 10... ms between tries, so threads waiting in BEGIN IMMEDIATE idled
    while the lock was long free (the portal's 4 concurrent completions spent a quarter
    of their time there); another process's writers still meet SQLite's busy timeout.
    """
    writer = getattr(conn, "writer", None)
    held = writer is not None and writer.acquire(timeout=WRITER_WAIT_S)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    finally:
        if held and writer is not None:
            writer.release()
