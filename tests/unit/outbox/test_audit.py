"""The audit chain: tamper detection with the index, minimisation, the device key."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hardware.sim.clock import ManualClock
from kiosk.audit import minimise
from kiosk.devicekey import load_or_create
from kiosk.errors import AuditChainBroken, StorageError
from kiosk.outbox import Outbox
from tests.unit.outbox.helpers import T0, rewrite_audit


def _log_with_entries(tmp_path: Path, n: int = 5) -> Outbox:
    box = Outbox(tmp_path, load_or_create(tmp_path), ManualClock(T0))
    for i in range(n):
        box.audit.append("card_checked", "SE2321000016-ADM1", T0, f"97522100000000{i:02d}",
                         {"step": i})
    return box


def _problem(box: Outbox) -> tuple[int, str]:
    report = box.audit.verify()
    assert not report.ok
    first = report.problems[0]
    return first.index, first.kind


def test_an_untouched_chain_verifies(tmp_path: Path) -> None:
    box = _log_with_entries(tmp_path)
    report = box.audit.require_intact()
    assert report.ok and report.count == 5 and report.head_seq == 4


def test_an_edited_entry_is_found_by_index(tmp_path: Path) -> None:
    box = _log_with_entries(tmp_path)

    def edit(rows: list[tuple]) -> list[tuple]:
        seq, entry, prev, digest, sig = rows[2]
        rows[2] = (seq, entry.replace('"step":2', '"step":9'), prev, digest, sig)
        return rows

    rewrite_audit(box.path, edit)
    assert _problem(box) == (2, "edited")
    with pytest.raises(AuditChainBroken) as caught:
        box.audit.require_intact()
    assert caught.value.data["index"] == 2


def test_a_deleted_entry_is_found(tmp_path: Path) -> None:
    box = _log_with_entries(tmp_path)
    rewrite_audit(box.path, lambda rows: rows[:1] + rows[2:])
    assert _problem(box) == (1, "deleted")


def test_a_cut_off_tail_is_found_through_the_head(tmp_path: Path) -> None:
    box = _log_with_entries(tmp_path)
    rewrite_audit(box.path, lambda rows: rows[:3])
    assert _problem(box) == (3, "truncated")


def test_reordered_entries_are_found(tmp_path: Path) -> None:
    box = _log_with_entries(tmp_path)
    rewrite_audit(box.path, lambda rows: [rows[0], rows[2], rows[1], rows[3], rows[4]])
    assert _problem(box) == (1, "reordered")


def test_an_inserted_copy_is_found(tmp_path: Path) -> None:
    box = _log_with_entries(tmp_path)
    rewrite_audit(box.path, lambda rows: [*rows[:3], rows[1], *rows[3:]])
    assert _problem(box) == (3, "inserted")


def test_an_entry_forged_with_another_key_is_found(tmp_path: Path) -> None:
    box = _log_with_entries(tmp_path, 3)
    forger = Outbox(tmp_path / "forger", load_or_create(tmp_path / "forger"), ManualClock(T0))
    forger.audit.append("a", "b", T0)
    forger.audit.append("a", "b", T0)
    forger.audit.append("card_blocked", "mallory", T0)
    conn = forger._conn
    forged = conn.execute("SELECT seq, entry, prev_hash, hash, signature FROM audit").fetchall()
    rewrite_audit(box.path, lambda rows: [*rows, forged[2]])
    index, kind = _problem(box)
    assert index == 3 and kind in ("forged", "inserted")


def test_updates_and_deletes_are_refused_by_the_database(tmp_path: Path) -> None:
    box = _log_with_entries(tmp_path, 2)
    import sqlite3

    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        box._conn.execute("DELETE FROM audit")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        box._conn.execute("UPDATE audit SET entry = '{}'")


def test_details_are_minimised(tmp_path: Path) -> None:
    key = load_or_create(tmp_path)
    out = minimise(
        {"personnummer": "19900315-2387", "note": "holder 199003152387 checked",
         "pin_written": True},
        key,
    )
    text = json.dumps(out)
    assert "2387" not in text and "19900315" not in text
    assert out["personnummer_ref"] == "pnr:" + key.pseudonym("199003152387")
    assert minimise({"hsa_id": "SE2321000016-ADM1", "how": {"personnummer": "scanned"}},
                    key) == {"hsa_id": "SE2321000016-ADM1", "how": {"personnummer": "scanned"}}
    with pytest.raises(ValueError, match="secret"):
        minimise({"new_pin": "482913"}, key)
    with pytest.raises(ValueError, match="secret"):
        minimise({"credential": "so-pin"}, key)


def test_the_device_key_is_private_and_stable(tmp_path: Path) -> None:
    first = load_or_create(tmp_path)
    path = tmp_path / "device_key.pem"
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create(tmp_path).pseudonym("x") == first.pseudonym("x")
    os.chmod(path, 0o644)
    with pytest.raises(StorageError, match="chmod 600"):
        load_or_create(tmp_path)


def test_a_link_planted_where_the_device_key_is_made_is_not_written_through(
    tmp_path: Path,
) -> None:
    import os

    from kiosk.devicekey import KEY_FILE, load_or_create, public_key_text

    victim = tmp_path / "victim"
    victim.write_text("someone else's file\n")
    state = tmp_path / "state"
    state.mkdir()
    # the temp name used to be the key's name and this process's id
    (state / f"{KEY_FILE}.{os.getpid()}.tmp").symlink_to(victim)
    key = load_or_create(state)
    assert victim.read_text() == "someone else's file\n"
    again = load_or_create(state)
    assert public_key_text(again.public) == public_key_text(key.public)
