"""The outbox's durable queue: idempotent recording, leases, order, alerts, export."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from hardware.sim.clock import ManualClock
from kiosk.devicekey import load_or_create, public_key_text
from kiosk.outbox import Outbox, verify_export
from tests.unit.outbox.helpers import T0, activation_result


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def outbox(tmp_path: Path, clock: ManualClock) -> Outbox:
    box = Outbox(tmp_path, load_or_create(tmp_path), clock, alert_hours=24)
    yield box
    box.close()


def test_record_is_idempotent_by_key(outbox: Outbox) -> None:
    first = outbox.record(activation_result(1))
    again = outbox.record(activation_result(1))
    assert first == again
    assert outbox.counts() == {"pending": 1}
    actions = [e.action for e in outbox.audit.entries()]
    assert actions == ["result_recorded"]


def test_record_refuses_a_result_carrying_a_secret(outbox: Outbox) -> None:
    result = activation_result(1)
    bad = type(result)(**{**result.__dict__, "payload": {**result.payload, "new_pin": "x"}})
    with pytest.raises(ValueError, match="secret"):
        outbox.record(bad)
    assert outbox.counts() == {}


def test_a_leased_row_is_not_claimed_twice_until_the_lease_expires(
    outbox: Outbox, clock: ManualClock
) -> None:
    outbox.record(activation_result(1, card="1"))
    outbox.record(activation_result(2, card="2"))
    me = f"{socket.gethostname()}:1:alive"
    other = "otherhost:1:x"
    assert [c.outbox_id for c in outbox.claim(other, 10, lease_s=60)] == [1, 2]
    assert outbox.claim(me, 10, lease_s=60) == []
    clock.advance(seconds=61)
    assert [c.outbox_id for c in outbox.claim(me, 10, lease_s=60)] == [1, 2]


def test_a_dead_local_claimers_lease_is_broken_at_once(outbox: Outbox) -> None:
    outbox.record(activation_result(1))
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    dead = f"{socket.gethostname()}:{child.stdout.strip()}:123"
    assert len(outbox.claim(dead, 10, lease_s=600)) == 1
    assert [c.outbox_id for c in outbox.claim("elsewhere:9:9", 10, lease_s=60)] == [1]


def test_rows_of_one_card_are_sent_in_order(outbox: Outbox) -> None:
    outbox.record(activation_result(1, card="A"))
    outbox.record(activation_result(2, card="A"))
    outbox.record(activation_result(3, card="B"))
    claimed = outbox.claim("w:1:1", 10, lease_s=60)
    assert [c.outbox_id for c in claimed] == [1, 3]
    outbox.release("w:1:1", claimed[0], "portal_unreachable: down", retry_in_s=30)
    outbox.mark_sent("w:1:1", [(claimed[1], {"status": "Aktiv"})])
    assert outbox.claim("w:1:1", 10, lease_s=60) == []  # 2 waits behind 1's backoff
    status = outbox.status()
    assert status.depth == 2 and status.sent == 1
    assert status.last_error == "portal_unreachable: down"


def test_deadline_alerts_use_the_threshold(outbox: Outbox, clock: ManualClock) -> None:
    outbox.record(activation_result(1, deadline=T0 + timedelta(hours=30)))
    outbox.record(activation_result(2, card="B", deadline=T0 + timedelta(hours=10)))
    assert [a.outbox_id for a in outbox.alerts()] == [2]
    clock.advance(hours=7)
    assert [a.outbox_id for a in outbox.alerts()] == [2, 1]
    assert outbox.status().alerts[0].hours_left == pytest.approx(3.0)


def test_status_reports_depth_and_oldest_age(outbox: Outbox, clock: ManualClock) -> None:
    outbox.record(activation_result(1))
    clock.advance(minutes=5)
    status = outbox.status()
    assert status.depth == 1
    assert status.oldest_age_s == pytest.approx(300)
    assert json.loads(json.dumps(status.as_json()))["depth"] == 1


def test_export_is_signed_readable_and_tamper_evident(outbox: Outbox, tmp_path: Path) -> None:
    outbox.record(activation_result(1))
    document = outbox.export("kiosk-7")
    assert document["results"][0]["receipt_text"] == "Kvittens 1"
    assert document["results"][0]["evidence"]["doc_type"] == "passport"
    check = verify_export(json.loads(json.dumps(document)))
    assert check.valid and check.results == 1
    own = public_key_text(load_or_create(tmp_path).public)
    assert verify_export(document, trusted_key=own).valid
    tampered = json.loads(json.dumps(document))
    tampered["results"][0]["card_number"] = "9752210000000002"
    assert verify_export(tampered).reason == "signature"
    other = public_key_text(load_or_create(tmp_path / "other").public)
    assert verify_export(document, trusted_key=other).reason == "untrusted_key"
    assert verify_export({"format": "x"}).reason == "format"


def test_the_database_is_wal_with_full_sync(outbox: Outbox) -> None:
    mode = outbox._conn.execute("PRAGMA journal_mode").fetchone()[0]
    sync = outbox._conn.execute("PRAGMA synchronous").fetchone()[0]
    assert (mode, sync) == ("wal", 2)
    assert outbox.path.stat().st_mode & 0o077 == 0


def test_a_sent_result_keeps_only_digests_of_the_holders_blobs(outbox: Outbox) -> None:
    outbox.record(activation_result(1))
    claimed = outbox.claim("w:1:1", 10, lease_s=60)
    outbox.mark_sent("w:1:1", [(claimed[0], {"status": "Aktiv"})])
    payload = json.loads(outbox._conn.execute("SELECT payload FROM outbox").fetchone()[0])
    assert "certificate" not in payload and "receipt" not in payload
    assert len(payload["certificate_sha256"]) == 64
    assert payload["activation_id"] == "act-1"


def test_only_a_surely_dead_local_claimer_counts_as_dead() -> None:
    from kiosk.outbox import claimer_alive, new_worker_id

    host = socket.gethostname()
    me = new_worker_id()
    assert claimer_alive(me)
    pid = me.split(":")[1]
    assert not claimer_alive(f"{host}:{pid}:1")  # our pid, another start: a reused pid
    assert claimer_alive(f"{host}:1:?")  # init exists; no start time to compare
    assert claimer_alive(f"another-host:{pid}:1")  # not ours to judge
