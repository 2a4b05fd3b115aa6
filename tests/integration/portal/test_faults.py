"""Transient failures are retried with backoff; everything else fails fast and clearly."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kiosk.demo_cast import demo_admins, demo_holder
from kiosk.errors import PortalError, PortalRejected, PortalUnreachable
from kiosk.model import CardStatus
from portal.server import RunningPortal

from .conftest import ClientFactory, SleepRecorder
from .helpers import arm_fault, count, evidence

pytestmark = pytest.mark.portal


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_portal_down_is_unreachable_after_backoff(
    make_client: ClientFactory, sleeps: SleepRecorder
) -> None:
    client = make_client(f"http://127.0.0.1:{free_port()}", retries=3, backoff_s=0.5)
    with pytest.raises(PortalUnreachable) as caught:
        client.card("9752210000000001")
    assert caught.value.data["attempts"] == 4
    assert "connect" in caught.value.detail
    # jitter fixed at 0.5: each delay is three quarters of 0.5 * 2**n
    assert sleeps.delays == [0.375, 0.75, 1.5]


def test_jitter_spreads_the_delay_within_the_backoff_window(make_client: ClientFactory) -> None:
    low = make_client("http://127.0.0.1:1", jitter=lambda: 0.0, backoff_s=1.0, backoff_max_s=4.0)
    high = make_client("http://127.0.0.1:1", jitter=lambda: 1.0, backoff_s=1.0, backoff_max_s=4.0)
    assert [low.backoff_delay(n) for n in range(4)] == [0.5, 1.0, 2.0, 2.0]
    assert [high.backoff_delay(n) for n in range(4)] == [1.0, 2.0, 4.0, 4.0]
    assert high.backoff_delay(0, retry_after=3.0) == 3.0


def test_503s_are_retried_until_the_portal_answers(
    portal: RunningPortal, make_client: ClientFactory, sleeps: SleepRecorder, today: date
) -> None:
    arm_fault(portal, "status", count=2, status=503)
    record = make_client(portal.url, retries=3).card(demo_holder("anna", today).card_number)
    assert record.status is CardStatus.SENT
    assert len(sleeps.delays) == 2


def test_503s_beyond_the_retry_budget_are_unreachable(
    portal: RunningPortal, make_client: ClientFactory, sleeps: SleepRecorder, today: date
) -> None:
    arm_fault(portal, "status", count=5, status=503)
    with pytest.raises(PortalUnreachable) as caught:
        make_client(portal.url, retries=2).card(demo_holder("anna", today).card_number)
    assert caught.value.data["status"] == 503
    assert len(sleeps.delays) == 2


def test_a_500_is_not_retried(
    portal: RunningPortal, make_client: ClientFactory, sleeps: SleepRecorder, today: date
) -> None:
    arm_fault(portal, "status", count=1, status=500)
    client = make_client(portal.url, retries=3)
    with pytest.raises(PortalUnreachable) as caught:
        client.card(demo_holder("anna", today).card_number)
    assert caught.value.data["status"] == 500
    assert sleeps.delays == []
    assert client.card(demo_holder("anna", today).card_number).status is CardStatus.SENT


def test_a_4xx_is_never_retried(
    portal: RunningPortal, make_client: ClientFactory, sleeps: SleepRecorder, today: date
) -> None:
    client = make_client(portal.url, retries=3)
    with pytest.raises(PortalRejected) as caught:
        client.start_activation(
            demo_holder("cecilia", today).card_number, demo_admins(today)[0].hsa_id,
            evidence(), str(uuid.uuid4()),
        )
    assert caught.value.reason == "not_eligible"
    assert sleeps.delays == []


def test_a_slow_answer_hits_the_read_timeout(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    arm_fault(portal, "delay", count=1, seconds=1.5)
    client = make_client(portal.url, retries=0, read_timeout_s=0.3)
    with pytest.raises(PortalUnreachable) as caught:
        client.card(demo_holder("anna", today).card_number)
    assert "in time" in caught.value.detail


def test_a_slow_answer_is_retried_and_the_retry_answers(
    portal: RunningPortal, make_client: ClientFactory, sleeps: SleepRecorder, today: date
) -> None:
    arm_fault(portal, "delay", count=1, seconds=1.5)
    client = make_client(portal.url, retries=1, read_timeout_s=0.3)
    assert client.card(demo_holder("anna", today).card_number).status is CardStatus.SENT
    assert len(sleeps.delays) == 1


def test_commit_without_answer_then_retry_changes_the_card_once(
    portal: RunningPortal, make_client: ClientFactory, today: date
) -> None:
    """The portal commits but the answer comes too late; the retry gets the stored answer."""
    anna = demo_holder("anna", today)
    arm_fault(portal, "delay_after", count=1, seconds=1.5)
    client = make_client(portal.url, retries=2, read_timeout_s=0.5)
    ticket = client.start_activation(
        anna.card_number, demo_admins(today)[0].hsa_id, evidence(), "key-commit-then-timeout"
    )
    assert count(portal.db_path, "SELECT count(*) FROM activations") == 1
    only = count(
        portal.db_path, "SELECT count(*) FROM activations WHERE id = ?", ticket.activation_id
    )
    assert only == 1


def test_retry_after_is_honoured_up_to_the_cap(
    portal: RunningPortal, make_client: ClientFactory, sleeps: SleepRecorder, today: date
) -> None:
    arm_fault(portal, "status", count=2, status=503, retry_after=3)
    client = make_client(portal.url, retries=2, backoff_s=0.1, backoff_max_s=2.0)
    assert client.card(demo_holder("anna", today).card_number).status is CardStatus.SENT
    assert sleeps.delays == [2.0, 2.0]


class NotAPortal(BaseHTTPRequestHandler):
    """Something else answering on the portal's address (a captive proxy, a web server)."""

    def do_GET(self) -> None:
        status = 502 if "gateway" in self.path else 200
        body = b"<html>hello</html>"
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def not_a_portal() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotAPortal)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_answer_that_is_not_the_api_is_a_portal_error(
    not_a_portal: str, make_client: ClientFactory, sleeps: SleepRecorder
) -> None:
    client = make_client(not_a_portal, retries=2)
    with pytest.raises(PortalError) as caught:
        client.card("9752210000000001")
    assert type(caught.value) is PortalError
    assert "not JSON" in caught.value.detail
    with pytest.raises(PortalUnreachable):
        make_client(f"{not_a_portal}/gateway", retries=2).card("9752210000000001")
    assert len(sleeps.delays) == 2
