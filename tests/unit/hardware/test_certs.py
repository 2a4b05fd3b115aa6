"""Certificate classification and chain validation on demo-CA certificates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from hardware.certs import chain_valid, classify_card_certificates, load_trust_anchors
from hardware.sim.democa import DemoCA, PersonCredentials
from kiosk.errors import CardUnreadable, ConfigError
from kiosk.model import TrustLevel
from kiosk.settings import DEFAULT_POLICY_LEVELS, PolicyLevel
from tests.conftest import plant_hostile, python_within

TODAY = date(2026, 3, 2)


@pytest.fixture(scope="module")
def pki() -> tuple[DemoCA, PersonCredentials]:
    ca = DemoCA.create(TODAY)
    farid = ca.issue_person(
        "Farid", "Fors", "SE2321000016-F1G2", "199108613457", TrustLevel.LOA2, TODAY
    )
    return ca, farid


def card_certs(person: PersonCredentials) -> list[tuple[str, bytes]]:
    return [
        ("sign", person.signature.cert_der),
        ("auth", person.authentication.cert_der),
        ("ca", person.issuing_ca.public_bytes(Encoding.DER)),
    ]


def test_usage_ids_and_trust_level(pki: tuple[DemoCA, PersonCredentials]) -> None:
    ca, farid = pki
    moment = datetime(2026, 6, 1, tzinfo=UTC)
    infos = classify_card_certificates(
        card_certs(farid), DEFAULT_POLICY_LEVELS, [ca.root_der], moment
    )
    assert [(i.label, i.usage) for i in infos] == [
        ("auth", "authentication"),
        ("sign", "signature"),
    ]
    assert {i.hsa_id for i in infos} == {"SE2321000016-F1G2"}
    assert {i.personnummer for i in infos} == {"199108613457"}
    assert {i.trust_level for i in infos} == {TrustLevel.LOA2}
    assert {i.chain_valid for i in infos} == {True}


def test_policy_oids_not_in_the_table_give_no_trust_level(
    pki: tuple[DemoCA, PersonCredentials],
) -> None:
    _, farid = pki
    infos = classify_card_certificates(card_certs(farid), (PolicyLevel("2.999.1", 3),))
    assert {i.trust_level for i in infos} == {None}
    assert {i.chain_valid for i in infos} == {None}  # no anchors configured


def test_chain_fails_after_expiry_and_without_the_intermediate(
    pki: tuple[DemoCA, PersonCredentials],
) -> None:
    ca, farid = pki
    der = farid.authentication.cert_der
    issuing = farid.issuing_ca.public_bytes(Encoding.DER)
    expired = farid.authentication.cert.not_valid_after_utc + timedelta(days=1)
    assert chain_valid(der, [ca.root_der], [issuing], expired) is False
    assert chain_valid(der, [ca.root_der], [], datetime(2026, 6, 1, tzinfo=UTC)) is False
    assert chain_valid(der, [ca.root_der], [issuing], datetime(2026, 6, 1, tzinfo=UTC)) is True


def test_garbage_on_the_card_is_card_unreadable() -> None:
    with pytest.raises(CardUnreadable):
        classify_card_certificates([("x", b"not a certificate")], DEFAULT_POLICY_LEVELS)


def test_trust_anchor_files(tmp_path: Path, pki: tuple[DemoCA, PersonCredentials]) -> None:
    ca, _ = pki
    pem = tmp_path / "root.pem"
    pem.write_bytes(ca.root.cert.public_bytes(Encoding.PEM))
    assert load_trust_anchors([pem]) == [ca.root_der]
    with pytest.raises(ConfigError):
        load_trust_anchors([tmp_path / "missing.pem"])
    (tmp_path / "bad.pem").write_text(
        "-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n"
    )
    with pytest.raises(ConfigError):
        load_trust_anchors([tmp_path / "bad.pem"])


@pytest.mark.parametrize("kind", ["fifo", "endless", "huge"])
def test_a_trust_anchor_path_that_is_no_file_or_endless_is_refused_at_once(
    tmp_path: Path, kind: str
) -> None:
    """A FIFO named in hardware.trust_anchors hung the kiosk's start for good (no writer
    comes), /dev/zero was read until memory ran out. In a child process with a memory
    limit and a timeout, so that the old behaviour fails the test, not the machine."""
    target = tmp_path / "roots.pem"
    plant_hostile(target, kind, b"-----BEGIN CERTIFICATE-----\n" + b"A" * (2 << 20))
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
        "from hardware.certs import load_trust_anchors\n"
        "from kiosk.errors import ConfigError\n"
        "try:\n"
        "    load_trust_anchors([sys.argv[1]])\n"
        "except ConfigError as exc:\n"
        "    print(exc.detail)\n"
    )
    done = python_within(code, str(target), hung=f"load_trust_anchors hung on a {kind}")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert str(target) in done.stdout
