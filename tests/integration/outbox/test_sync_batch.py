"""The outbox flush sends a backlog's activations in batches, over real mutual TLS to the
reference portal on loopback with its SQLite file: each result ends as its single send
would end it, and a portal without the batch route gets them one by one."""

from __future__ import annotations

import base64
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from hardware.sim.clock import ManualClock
from hardware.sim.democa import DemoCA, trust_files
from kiosk.devicekey import load_or_create
from kiosk.errors import PortalUnreachable
from kiosk.model import VisitResult
from kiosk.outbox import Outbox, SystemClock
from kiosk.portal_client import BATCH_PATH, BATCH_RETRY_S, PortalClient
from kiosk.sync import Backoff, SyncWorker
from portal.devpki import DevPki, generate_dev_pki
from portal.server import RunningPortal, start_in_thread
from tests.integration.outbox.portalkit import (
    BENCH_HSA_ID,
    BENCH_PERSONNUMMER,
    activation_result,
    add_cards,
    holder_key,
    portal_counts,
)
from tests.receipt_ca import receipt_trust

pytestmark = pytest.mark.portal
TODAY = date.today()
BATCH = f"/api/v1{BATCH_PATH}"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return generate_dev_pki(tmp_path_factory.mktemp("pki"))


@dataclass
class Side:
    """The TLS portal (its own receipt trust files) and a kiosk client that notes its calls."""

    tmp: Path
    pki: DevPki
    trust: Path
    portal: RunningPortal
    calls: list[str] = field(default_factory=list)
    clock: list[datetime] = field(default_factory=lambda: [datetime.now(UTC)])
    ticks: list[float] = field(default_factory=lambda: [1000.0])

    def client(self, shifted: bool = False) -> PortalClient:
        """A client of the portal (``shifted``: its wall clock is ``self.clock``, its
        monotonic clock ``self.ticks``)."""
        client = PortalClient(
            self.portal.url, ca_file=str(self.pki.ca_cert), client_cert=str(self.pki.client_cert),
            client_key=str(self.pki.client_key), retries=0, connect_timeout_s=1,
            read_timeout_s=2, now=(lambda: self.clock[0]) if shifted else None,
            monotonic=(lambda: self.ticks[0]) if shifted else time.monotonic,
        )
        client.session.hooks["response"].append(self._note)
        return client

    def _note(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.calls.append(urlsplit(response.request.url).path)

    def restart(self) -> None:
        self.portal = start_in_thread(self.portal.db_path, tls_dir=self.pki.directory,
                                      test_hooks=True, receipt_trust=trust_files(self.trust))

    def count(self, path: str) -> int:
        return sum(1 for call in self.calls if call == path)


@pytest.fixture
def side(tmp_path: Path, pki: DevPki) -> Iterator[Side]:
    trust = tmp_path / "trust"
    shutil.copytree(receipt_trust()[0].parent, trust)
    running = start_in_thread(tmp_path / "portal.db", tls_dir=pki.directory, seed_demo=True,
                              today=TODAY, test_hooks=True, receipt_trust=trust_files(trust))
    made = Side(tmp_path, pki, trust, running)
    yield made
    made.portal.stop()


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "state", load_or_create(tmp_path / "state"), SystemClock())
    yield box
    box.close()


def backlog(side: Side, box: Outbox, count: int, prefix: str = "97522177"
            ) -> list[VisitResult]:
    """``count`` activations started at the portal and recorded, each its own key pair."""
    client = side.client()
    results = []
    for number in add_cards(side.portal.db_path, count, TODAY, prefix=prefix):
        result = activation_result(client, number, BENCH_PERSONNUMMER,
                                   holder_key(BENCH_HSA_ID), TODAY)
        box.record(result)
        results.append(result)
    client.close()
    side.calls.clear()
    return results


def without_batch_route(side: Side, answer: Callable[[], Any] | None = None) -> None:
    """The portal as an older one, without the batch route, or answering it with ``answer``."""
    app = side.portal.app
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", "") != BATCH]
    if answer is not None:
        app.add_api_route(BATCH, answer, methods=["POST"])


def worker(box: Outbox, client: PortalClient) -> SyncWorker:
    return SyncWorker(box, client, backoff=Backoff(base_s=0.01, cap_s=0.02), lease_s=30)


def test_a_backlog_goes_in_batches_and_a_bad_result_rejects_only_itself(
    side: Side, outbox: Outbox
) -> None:
    results = backlog(side, outbox, 68)
    client = side.client()
    for number, payload in (("97522166000000", None), ("97522166000001", "!!!")):
        (card,) = add_cards(side.portal.db_path, 1, TODAY, prefix=number)
        bad = activation_result(client, card, BENCH_PERSONNUMMER,
                                holder_key("SE2321000016-ELSE"), TODAY)  # another holder
        if payload is not None:  # and one the API cannot take at all
            bad.payload["signature"] = payload
        outbox.record(bad)
    side.calls.clear()
    report = worker(outbox, client).flush()
    assert (report.sent, report.rejected, report.deferred) == (68, 2, 0)
    assert outbox.counts() == {"sent": 68, "rejected": 2}
    errors = sorted(r[0] for r in outbox._conn.execute(
        "SELECT last_error FROM outbox WHERE state = 'rejected'"))
    assert errors[0].startswith("malformed_result") and "certificate_mismatch" in errors[1]
    assert portal_counts(side.portal.db_path)["completed"] == 68
    assert 2 <= side.count(BATCH) <= 3  # 70 rows in claims of 50, batches of at most 50
    assert not [c for c in side.calls if c.endswith("/complete")]
    assert outbox.audit.verify().ok
    assert len(results) == 68


def test_a_portal_without_the_batch_route_gets_them_one_by_one_for_a_while(
    side: Side, outbox: Outbox
) -> None:
    without_batch_route(side)  # the same portal as an older one
    backlog(side, outbox, 3)
    client = side.client(shifted=True)
    assert worker(outbox, client).flush().sent == 3
    assert (side.count(BATCH), len(side.calls)) == (1, 4)  # asked once, then one by one
    backlog(side, outbox, 2, prefix="97522178")
    assert worker(outbox, client).flush().sent == 2
    assert (side.count(BATCH), len(side.calls)) == (0, 2)  # remembered: not asked again
    side.ticks[0] += BATCH_RETRY_S + 1
    backlog(side, outbox, 2, prefix="97522179")
    assert worker(outbox, client).flush().sent == 2
    assert side.count(BATCH) == 1  # asked again after a while
    assert portal_counts(side.portal.db_path)["completed"] == 7


@pytest.mark.parametrize("step", [timedelta(days=-1), timedelta(days=1)], ids=["back", "ahead"])
def test_a_wall_clock_step_neither_prolongs_nor_ends_the_memory_of_no_batch_route(
    side: Side, outbox: Outbox, step: timedelta
) -> None:
    """The memory ran on the wall clock: NTP or a manual setting stepping it back a day
    kept a portal that gained the batch route on single sends for that day; a step ahead
    ended the memory at once (the batch route asked again on every flush)."""
    without_batch_route(side)
    backlog(side, outbox, 2)
    client = side.client(shifted=True)
    assert worker(outbox, client).flush().sent == 2
    assert side.count(BATCH) == 1
    side.clock[0] += step  # the clock is set; no time passes
    backlog(side, outbox, 2, prefix="97522178")
    assert worker(outbox, client).flush().sent == 2
    assert side.count(BATCH) == 0  # still remembered
    side.ticks[0] += BATCH_RETRY_S + 1  # the time passes, the wall clock still stepped
    backlog(side, outbox, 2, prefix="97522179")
    assert worker(outbox, client).flush().sent == 2
    assert side.count(BATCH) == 1  # asked again


def test_a_transport_failure_leaves_every_result_queued(side: Side, outbox: Outbox) -> None:
    backlog(side, outbox, 4)
    client = side.client()
    side.portal.stop()
    report = worker(outbox, client).flush()
    assert (report.sent, report.deferred) == (0, 4)
    rows = outbox._conn.execute("SELECT state, attempts, last_error FROM outbox").fetchall()
    assert [(r[0], r[1]) for r in rows] == [("pending", 1)] * 4
    assert all("portal_unreachable" in r[2] for r in rows)
    side.restart()
    time.sleep(0.05)  # the rows' backoff
    assert worker(outbox, side.client()).flush().sent == 4
    assert portal_counts(side.portal.db_path)["completed"] == 4


def test_a_result_whose_single_answer_was_lost_is_answered_by_the_batch(
    side: Side, outbox: Outbox
) -> None:
    first, second = backlog(side, outbox, 2)
    client = side.client()
    session = requests.Session()
    session.cert = (str(side.pki.client_cert), str(side.pki.client_key))
    session.post(f"{side.portal.url}/_test/faults", json={
        "kind": "delay_after", "seconds": 3, "path_contains": "/complete"},
        verify=str(side.pki.ca_cert), timeout=5).raise_for_status()
    with pytest.raises(PortalUnreachable):  # the visit's own send: committed, answer lost
        worker(outbox, client).send_now(first)
    time.sleep(1.2)  # the slow answer is over; the row's backoff too
    report = worker(outbox, client).flush()
    assert (report.sent, report.rejected) == (2, 0)
    counts = portal_counts(side.portal.db_path)
    assert counts["completed"] == 2 and counts["activated_events"] == 2
    assert side.count(BATCH) == 1
    answers = [r[0] for r in outbox._conn.execute("SELECT answer FROM outbox ORDER BY id")]
    assert all('"status": "Aktiv"' in a for a in answers)
    assert second.idempotency_key != first.idempotency_key


def test_a_batch_refused_whole_is_sent_one_by_one(side: Side, outbox: Outbox) -> None:
    results = backlog(side, outbox, 3)
    outbox._conn.execute(  # the certificate lost: valid base64 (empty), refused by the schema
        "UPDATE outbox SET payload = json_set(payload, '$.certificate', '') WHERE id = 2")
    client = side.client()
    report = worker(outbox, client).flush()
    assert (report.sent, report.rejected) == (2, 1)
    assert side.count(BATCH) == 1 and len(side.calls) == 4
    assert "invalid_request" in (report.last_error or "")
    assert portal_counts(side.portal.db_path)["completed"] == 2
    assert len(results) == 3


def test_an_item_the_portal_cannot_check_now_waits_and_the_others_go(
    side: Side, outbox: Outbox
) -> None:
    backlog(side, outbox, 3)
    ca = DemoCA.load_or_create(side.trust, TODAY)
    ca.write_crls(side.trust, TODAY - timedelta(days=60))  # stale CRLs: revocation unknown
    client = side.client()
    report = worker(outbox, client).flush()
    assert (report.sent, report.rejected, report.deferred) == (0, 0, 3)
    assert outbox.counts() == {"pending": 3}
    assert "HTTP 503" in (report.last_error or "")
    ca.write_crls(side.trust, TODAY)
    time.sleep(0.05)
    assert worker(outbox, client).flush().sent == 3


def test_big_results_are_split_by_size_under_the_portals_body_limit(
    side: Side, outbox: Outbox
) -> None:
    client = side.client()
    signer = holder_key(BENCH_HSA_ID)
    for number in add_cards(side.portal.db_path, 9, TODAY, prefix="97522155"):
        result = activation_result(client, number, BENCH_PERSONNUMMER, signer, TODAY)
        receipt = (f"Kvittens: kort {number}. " + "x" * 45_000).encode()  # ~60 KiB in base64
        result.payload["receipt"] = base64.b64encode(receipt).decode()
        result.payload["signature"] = base64.b64encode(signer.sign(receipt)).decode()
        outbox.record(result)
    side.calls.clear()
    report = worker(outbox, client).flush()
    assert (report.sent, report.rejected, report.deferred) == (9, 0, 0)
    assert side.count(BATCH) == 5 and len(side.calls) == 5  # 2 a batch (~120 KiB), 1 left
    assert portal_counts(side.portal.db_path)["completed"] == 9


@pytest.mark.parametrize("answer", [
    {"results": []},  # fewer answers than items
    {"results": "x"},
    {"items": []},
])
def test_a_batch_answer_that_does_not_match_the_items_leaves_them_queued(
    side: Side, outbox: Outbox, answer: dict[str, Any]
) -> None:
    without_batch_route(side, lambda: answer)  # the portal answers it with something else
    backlog(side, outbox, 3)
    report = worker(outbox, side.client()).flush()
    assert (report.sent, report.rejected, report.deferred) == (0, 0, 3)
    assert outbox.counts() == {"pending": 3}
    assert "does not match" in (report.last_error or "")


def test_a_batch_answer_nested_past_the_parsers_depth_leaves_the_rows_queued(
    side: Side, outbox: Outbox
) -> None:
    """JSON nested 100,000 deep (under the body limit) is not an answer: Python's parser
    ends in RecursionError, which left the flush with a traceback and every row of the
    claim leased, unsent, until its lease ran out."""
    from fastapi.responses import Response

    nested = b"[" * 100_000 + b"]" * 100_000
    without_batch_route(side, lambda: Response(nested, media_type="application/json"))
    backlog(side, outbox, 3)
    report = worker(outbox, side.client()).flush()
    assert (report.sent, report.rejected, report.deferred) == (0, 0, 3)
    assert outbox.counts() == {"pending": 3}
    assert "not JSON" in (report.last_error or "")


def test_a_result_waiting_its_backoff_is_not_held_by_a_clock_set_back(
    side: Side, tmp_path: Path
) -> None:
    """The retry time is kept as wall-clock time in the outbox file: with the clock set back
    a day (NTP correcting a kiosk that booted a day ahead, a manual setting) a result that
    waited its backoff of seconds waited the day too. A row due further ahead than any
    backoff is due now."""
    clock = ManualClock(datetime.now(UTC))
    box = Outbox(tmp_path / "stepped", load_or_create(tmp_path / "stepped"), clock)
    try:
        backlog(side, box, 2)
        client = side.client()
        side.portal.stop()
        backoff = Backoff(base_s=60, cap_s=600)
        assert SyncWorker(box, client, backoff=backoff).flush().deferred == 2  # 30-60 s each
        side.restart()  # on another port: a client of its own
        sender = SyncWorker(box, side.client(), backoff=backoff)
        assert sender.flush().sent == 0  # the backoff holds
        clock.advance(days=-1)
        assert sender.flush().sent == 2  # not a day more
        assert box.counts() == {"sent": 2}
    finally:
        box.close()
