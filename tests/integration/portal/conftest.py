"""Fixtures: the reference portal on loopback with a real SQLite file, and clients of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kiosk.portal_client import PortalClient
from portal.devpki import DevPki, generate_dev_pki
from portal.server import RunningPortal, start_in_thread
from tests.receipt_ca import admin_cards, receipt_trust

ClientFactory = Callable[..., PortalClient]


@pytest.fixture
def today() -> date:
    return date.today()


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[RunningPortal]:
    """A seeded plain-HTTP portal on loopback with test hooks."""
    running = start_in_thread(tmp_path / "portal.db", seed_demo=True, test_hooks=True,
                              receipt_trust=receipt_trust())
    yield running
    running.stop()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return generate_dev_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    """A second, unrelated PKI: its certificates must be refused."""
    return generate_dev_pki(tmp_path_factory.mktemp("other-pki"), ca_name="Impostor CA")


@pytest.fixture
def tls_portal(tmp_path: Path, pki: DevPki) -> Iterator[RunningPortal]:
    """A seeded portal over TLS with client-certificate authentication."""
    running = start_in_thread(
        tmp_path / "portal.db", tls_dir=pki.directory, seed_demo=True, test_hooks=True,
        receipt_trust=receipt_trust(),
    )
    yield running
    running.stop()


class SleepRecorder:
    """Stands in for time.sleep so retries are fast and their delays can be checked."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def make_client(sleeps: SleepRecorder) -> Iterator[ClientFactory]:
    """Build clients whose backoff sleeps are recorded, not slept; closed at the end."""
    made: list[PortalClient] = []

    def factory(url: str, **options: Any) -> PortalClient:
        options.setdefault("jitter", lambda: 0.5)
        options.setdefault("sleep", sleeps)
        options.setdefault("connect_timeout_s", 2.0)
        options.setdefault("read_timeout_s", 5.0)
        options.setdefault("signer", admin_cards())  # the administrator's signed statements
        options.setdefault("kiosk_id", "demo-kiosk-1")
        client = PortalClient(url, **options)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()
