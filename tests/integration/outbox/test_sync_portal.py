"""The sync worker against the real reference portal on loopback (real HTTP, real SQLite)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import requests

from kiosk import demo_cast
from kiosk.devicekey import load_or_create
from kiosk.outbox import Outbox, SystemClock
from kiosk.portal_client import PortalClient
from kiosk.sync import Backoff, SyncWorker
from portal.server import RunningPortal, start_in_thread
from tests.integration.outbox.portalkit import (
    BENCH_HSA_ID,
    BENCH_PERSONNUMMER,
    activation_result,
    add_cards,
    card_status,
    holder_key,
    portal_counts,
)
from tests.receipt_ca import receipt_trust

pytestmark = pytest.mark.portal
TODAY = date.today()
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[RunningPortal]:
    running = start_in_thread(tmp_path / "portal.db", seed_demo=True, today=TODAY,
                              test_hooks=True, receipt_trust=receipt_trust())
    yield running
    running.stop()


def client_for(running: RunningPortal) -> PortalClient:
    return PortalClient(running.url, retries=0, connect_timeout_s=1, read_timeout_s=2)


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "state", load_or_create(tmp_path / "state"), SystemClock())
    yield box
    box.close()


def fast_worker(box: Outbox, client: PortalClient) -> SyncWorker:
    return SyncWorker(box, client, backoff=Backoff(base_s=0.01, cap_s=0.02), lease_s=30)


def test_flush_makes_the_card_active(portal: RunningPortal, outbox: Outbox) -> None:
    anna = demo_cast.demo_holder("anna", TODAY)
    client = client_for(portal)
    result = activation_result(client, anna.card_number, anna.personnummer,
                               holder_key(anna.hsa_id), TODAY)
    outbox.record(result)
    assert card_status(portal.db_path, anna.card_number) == "Skickad"
    report = fast_worker(outbox, client).flush()
    assert (report.sent, report.rejected, report.deferred) == (1, 0, 0)
    assert card_status(portal.db_path, anna.card_number) == "Aktiv"
    assert client.card(anna.card_number).status.value == "Aktiv"
    assert outbox.status().depth == 0
    assert outbox.audit.verify().ok
    assert [e.action for e in outbox.audit.entries()] == ["result_recorded", "result_synced"]


def test_portal_down_then_up(tmp_path: Path, outbox: Outbox) -> None:
    anna = demo_cast.demo_holder("anna", TODAY)
    first = start_in_thread(tmp_path / "portal.db", seed_demo=True, today=TODAY,
                            receipt_trust=receipt_trust())
    result = activation_result(client_for(first), anna.card_number, anna.personnummer,
                               holder_key(anna.hsa_id), TODAY)
    down_client = client_for(first)
    first.stop()
    outbox.record(result)
    report = fast_worker(outbox, down_client).flush()
    assert (report.sent, report.deferred) == (0, 1)
    status = outbox.status()
    assert status.depth == 1 and "portal_unreachable" in (status.last_error or "")
    second = start_in_thread(tmp_path / "portal.db", today=TODAY,
                             receipt_trust=receipt_trust())
    try:
        worker = fast_worker(outbox, client_for(second))
        import time

        time.sleep(0.05)  # the row's backoff
        assert worker.flush().sent == 1
        assert card_status(second.db_path, anna.card_number) == "Aktiv"
    finally:
        second.stop()


def test_server_errors_and_slow_answers_are_retried_later(
    portal: RunningPortal, outbox: Outbox
) -> None:
    anna = demo_cast.demo_holder("anna", TODAY)
    client = client_for(portal)
    outbox.record(activation_result(client, anna.card_number, anna.personnummer,
                                    holder_key(anna.hsa_id), TODAY))
    requests.post(f"{portal.url}/_test/faults", json={"kind": "status", "status": 503},
                  timeout=5).raise_for_status()
    worker = fast_worker(outbox, client)
    assert worker.flush().deferred == 1
    requests.post(f"{portal.url}/_test/faults",
                  json={"kind": "delay_after", "seconds": 3, "path_contains": "complete"},
                  timeout=5).raise_for_status()
    import time

    time.sleep(0.05)
    timed_out = worker.flush()
    assert timed_out.deferred == 1 and timed_out.sent == 0
    # The portal committed the slow request; the retry with the same key gets its answer.
    time.sleep(0.05)
    assert worker.flush().sent == 1
    counts = portal_counts(portal.db_path)
    assert counts["completed"] == 1 and counts["activated_events"] == 1
    assert outbox.status().depth == 0


def test_a_refused_result_is_kept_as_rejected_and_logged(
    portal: RunningPortal, outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    anna = demo_cast.demo_holder("anna", TODAY)
    client = client_for(portal)
    wrong_signer = holder_key(demo_cast.HSA_PREFIX + "NOTANNA")
    outbox.record(activation_result(client, anna.card_number, anna.personnummer, wrong_signer,
                                    TODAY))
    with caplog.at_level(logging.ERROR, logger="kiosk.sync"):
        report = fast_worker(outbox, client).flush()
    assert report.rejected == 1 and "certificate_mismatch" in (report.last_error or "")
    assert outbox.counts() == {"rejected": 1}
    assert "certificate_mismatch" in caplog.text
    assert card_status(portal.db_path, anna.card_number) == "Skickad"


def test_a_duplicated_send_changes_nothing(portal: RunningPortal, tmp_path: Path) -> None:
    anna = demo_cast.demo_holder("anna", TODAY)
    client = client_for(portal)
    result = activation_result(client, anna.card_number, anna.personnummer,
                               holder_key(anna.hsa_id), TODAY)
    boxes = [Outbox(tmp_path / n, load_or_create(tmp_path / n), SystemClock()) for n in "ab"]
    try:
        for box in boxes:
            box.record(result)
            box.record(result)
            assert box.counts() == {"pending": 1}
            assert fast_worker(box, client).flush().sent == 1
        answers = [json.loads(b._conn.execute("SELECT answer FROM outbox").fetchone()[0])
                   for b in boxes]
        assert answers[0] == answers[1] == {"card_number": anna.card_number,
                                            "status": "Aktiv"}
    finally:
        for box in boxes:
            box.close()
    counts = portal_counts(portal.db_path)
    assert counts["completed"] == 1 and counts["activated_events"] == 1


def test_concurrent_flushers_never_send_a_result_twice(
    portal: RunningPortal, tmp_path: Path
) -> None:
    cards = add_cards(portal.db_path, 60, TODAY)
    client = client_for(portal)
    signer = holder_key(BENCH_HSA_ID)
    state = tmp_path / "state"
    box = Outbox(state, load_or_create(state), SystemClock())
    keys = []
    try:
        for number in cards:
            result = activation_result(client, number, BENCH_PERSONNUMMER, signer, TODAY)
            keys.append(result.idempotency_key)
            box.record(result)
    finally:
        box.close()
    requests.post(f"{portal.url}/_test/faults",
                  json={"kind": "delay", "seconds": 0.01, "count": 1000},
                  timeout=5).raise_for_status()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    logs = [tmp_path / f"sent-{i}.log" for i in range(3)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.integration.outbox.flusher", str(state), portal.url,
             str(log)],
            env=env, cwd=ROOT,
        )
        for log in logs
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    sent = [line for log in logs for line in log.read_text().split()]
    per_process = [len(log.read_text().split()) for log in logs]
    assert sorted(sent) == sorted(keys), "every result sent exactly once"
    assert sum(1 for n in per_process if n) >= 2, f"the flushers did not overlap: {per_process}"
    counts = portal_counts(portal.db_path)
    assert counts["completed"] == 60 and counts["activated_events"] == 60
    box = Outbox(state, load_or_create(state), SystemClock())
    try:
        assert box.counts() == {"sent": 60}
        assert box.audit.verify().ok
    finally:
        box.close()


def test_the_background_worker_sends_and_reports_a_heartbeat(
    portal: RunningPortal, outbox: Outbox
) -> None:
    import sqlite3
    import time

    anna = demo_cast.demo_holder("anna", TODAY)
    client = PortalClient(portal.url, retries=0, kiosk_id="demo-kiosk-1")
    worker = fast_worker(outbox, client)
    worker.heartbeat_extra = lambda: {"versions": {"kiosk": "test"}}
    worker.start(interval_s=0.2, heartbeat_s=60)
    try:
        outbox.record(activation_result(client, anna.card_number, anna.personnummer,
                                        holder_key(anna.hsa_id), TODAY))
        worker.wake()
        deadline = time.monotonic() + 10
        while outbox.status().depth and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert outbox.status().depth == 0
    assert card_status(portal.db_path, anna.card_number) == "Aktiv"
    conn = sqlite3.connect(portal.db_path)
    bodies = [json.loads(b) for (b,) in conn.execute("SELECT body FROM heartbeats")]
    conn.close()
    assert bodies and bodies[0]["kiosk_id"] == "demo-kiosk-1"
    assert "depth" in bodies[0]["outbox"] and bodies[0]["versions"] == {"kiosk": "test"}
    assert bodies[0]["outbox_depth"] == bodies[0]["outbox"]["depth"]


def test_a_killed_flusher_is_taken_over_at_once_without_a_second_activation(
    portal: RunningPortal, tmp_path: Path
) -> None:
    import signal
    import time

    cards = add_cards(portal.db_path, 20, TODAY, prefix="97522188")
    client = client_for(portal)
    signer = holder_key(BENCH_HSA_ID)
    state = tmp_path / "state"
    box = Outbox(state, load_or_create(state), SystemClock())
    for number in cards:
        box.record(activation_result(client, number, BENCH_PERSONNUMMER, signer, TODAY))
    box.close()
    requests.post(f"{portal.url}/_test/faults",
                  json={"kind": "delay_after", "seconds": 0.2, "count": 1000},
                  timeout=5).raise_for_status()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first_log = tmp_path / "first.log"
    first = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.outbox.flusher", str(state), portal.url,
         str(first_log)], env=env, cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while (not first_log.exists() or len(first_log.read_text().split()) < 4) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    requests.delete(f"{portal.url}/_test/faults", timeout=5).raise_for_status()
    second = subprocess.run(
        [sys.executable, "-m", "tests.integration.outbox.flusher", str(state), portal.url,
         str(tmp_path / "second.log")], env=env, cwd=ROOT, timeout=120,
    )
    assert second.returncode == 0
    counts = portal_counts(portal.db_path)
    assert counts["completed"] == 20 and counts["activated_events"] == 20
    box = Outbox(state, load_or_create(state), SystemClock())
    try:
        assert box.counts() == {"sent": 20}
        assert box.audit.verify().ok
    finally:
        box.close()
