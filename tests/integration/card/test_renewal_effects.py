"""Renewing the authentication certificate through the certificate effects (EffectRunner)
on a real SoftHSM2 card and the real reference portal: the card pulled before each step
still has a working authentication certificate, and running the renewal again (same
key id, same idempotency key) makes no second key pair and issues nothing twice."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from hardware.pkcs11 import Pkcs11Token
from kiosk.demo_cast import demo_admins, demo_holder
from kiosk.errors import CardRemoved, TokenError
from kiosk.portal_client import PortalClient
from kiosk.ports import PinRole
from kiosk.visit.effects import (
    DeleteKeyPair,
    Effect,
    GenerateKeyPair,
    InstallCertificate,
    IssueCertificate,
    SignProbe,
    SignRequest,
)
from kiosk.visit.events import (
    CertificateIssued,
    EffectFailed,
    ProbeSigned,
    RequestSigned,
)
from kiosk.visit.runner import EffectRunner
from kiosk.visit.secret import Secret
from portal.server import RunningPortal, start_in_thread
from tests.integration.card.conftest import (
    AUTH_PIN,
    SO_PIN,
    TEST_DATA,
    DemoPki,
    SoftHsm,
    provider_for,
    verify,
)

pytestmark = [pytest.mark.softhsm, pytest.mark.portal]

OLD_ID = b"\x01"  # the demo card's authentication key (hardware.sim.softhsm.AUTH_ID)
NEW_ID = b"\x41\x55"
STEPS = ("generate", "request", "issue", "install", "test", "delete_old")


class NoReader:
    """The renewal needs no PC/SC presence: the token is found by card number."""

    def readers(self) -> list[str]:
        return ["r"]


class NoStore:
    def record(self, result: object) -> str:
        raise AssertionError("a renewal step records nothing here")


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[RunningPortal]:
    running = start_in_thread(tmp_path / "portal" / "portal.db", seed_demo=True)
    yield running
    running.stop()


@pytest.fixture
def card(card_token: Pkcs11Token) -> Pkcs11Token:
    card_token.set_initial_pin(SO_PIN, AUTH_PIN)
    return card_token


def runner(softhsm: SoftHsm, demo_pki: DemoPki, portal: RunningPortal) -> EffectRunner:
    client = PortalClient(portal.url, kiosk_id="test-kiosk")
    provider = provider_for(softhsm, demo_pki)
    return EffectRunner(NoReader(), provider, client, NoStore(), Clock())  # type: ignore[arg-type]


def pin() -> Secret:
    return Secret(AUTH_PIN)


def working_authentication(card: Pkcs11Token) -> list[bytes]:
    """The DER of every authentication certificate on the card that is valid now and whose
    key pair (the same CKA_ID) is on the card and signs data that verifies with it."""
    working = []
    now = datetime.now(UTC)
    for info in card.certificates():
        if info.usage != "authentication" or not info.not_before <= now <= info.not_after:
            continue
        try:
            signature = card.sign(PinRole.AUTHENTICATION, AUTH_PIN, info.key_id, TEST_DATA)
        except TokenError:  # no private key with the certificate's CKA_ID
            continue
        verify(info.der, signature, TEST_DATA)
        working.append(info.der)
    return working


def renew(run: EffectRunner, idempotency_key: str, stop_before: str | None) -> list[str]:
    """The renewal in its safe order; the card is pulled before ``stop_before``."""
    eva, admin = demo_holder("eva", date.today()), demo_admins(date.today())[0]
    done: list[str] = []

    def step(name: str, effect: Effect) -> object:
        if name == stop_before:
            raise CardRemoved("the card was pulled")
        outcome = run.run(effect)
        assert not isinstance(outcome, EffectFailed), (name, outcome)
        done.append(name)
        return outcome

    role = PinRole.AUTHENTICATION
    try:
        step("generate", GenerateKeyPair("r", role, pin(), NEW_ID, "Legitimering"))
        signed = step("request", SignRequest("r", role, pin(), NEW_ID, eva.name, eva.hsa_id))
        assert isinstance(signed, RequestSigned)
        issued = step(
            "issue",
            IssueCertificate(
                eva.card_number,
                admin.hsa_id,
                "authentication",
                "hsa_id",
                signed.request,
                idempotency_key,
            ),
        )
        assert isinstance(issued, CertificateIssued)
        der = issued.certificate.der
        step("install", InstallCertificate("r", role, pin(), NEW_ID, "Legitimering", der))
        tested = step("test", SignProbe("r", role, pin(), NEW_ID, TEST_DATA))
        assert isinstance(tested, ProbeSigned)
        verify(der, tested.signature, TEST_DATA)  # the new one verifies: only now the old goes
        step("delete_old", DeleteKeyPair("r", role, pin(), OLD_ID))
    except CardRemoved:
        pass
    return done


@pytest.mark.parametrize("pulled_before", [*STEPS, None])
def test_renewal_pulled_at_any_step_leaves_a_working_authentication_certificate(
    card: Pkcs11Token,
    softhsm: SoftHsm,
    demo_pki: DemoPki,
    portal: RunningPortal,
    pulled_before: str | None,
) -> None:
    before = working_authentication(card)
    assert len(before) == 1
    run = runner(softhsm, demo_pki, portal)
    key = str(uuid.uuid4())
    done = renew(run, key, pulled_before)
    assert done == list(STEPS[: STEPS.index(pulled_before)] if pulled_before else STEPS)
    assert working_authentication(card), f"no working authentication certificate after {done}"
    if pulled_before is not None:
        assert before[0] in working_authentication(card)  # the old one still works

    # The holder comes back: the same renewal again finishes it, nothing made twice.
    assert renew(run, key, None) == list(STEPS)
    working = working_authentication(card)
    assert len(working) == 1 and working != before
    assert [k.key_id for k in card.card_keys()].count(NEW_ID) == 1
    assert OLD_ID not in {c.key_id for c in card.certificates()}
    with sqlite3.connect(portal.db_path) as conn:
        issued = conn.execute("SELECT COUNT(*) FROM certificates").fetchone()[0]
    assert issued == 1  # the retried issuance answered from its idempotency key
