"""Opening the kiosk's database from several connections at once: all get it, in WAL."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from kiosk.audit import open_database, use_wal

OPENERS = 8
ROUNDS = 40


def open_at_once(path: Path) -> list[str]:
    """``OPENERS`` threads open a new database at the same moment; their errors."""
    start = threading.Barrier(OPENERS)
    errors: list[str] = []

    def open_one() -> None:
        start.wait()
        try:
            conn = open_database(path)
            conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            conn.close()
        except Exception as exc:  # every failure is what the test counts
            errors.append(repr(exc))

    threads = [threading.Thread(target=open_one) for _ in range(OPENERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_connections_opening_a_new_database_at_once_all_get_it(tmp_path: Path) -> None:
    # SQLite runs no busy handler for the change to WAL: before use_wal, about one round
    # in five had a "database is locked" (the kiosk and kioskctl, two audit writers)
    errors = [e for n in range(ROUNDS) for e in open_at_once(tmp_path / f"{n}" / "db.sqlite3")]
    assert errors == []


def test_a_database_held_past_the_wait_is_refused_not_hung(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # never let go
    try:
        conn = sqlite3.connect(path, timeout=0.05, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            use_wal(conn, timeout_s=0.3)
        conn.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
