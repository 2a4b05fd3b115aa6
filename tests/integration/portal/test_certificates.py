"""Certificate issuance, status, revocation and PIN/PUK letters through the real client
and the real portal on loopback (requests made with software keys; the on-card keys are
tests/integration/card/test_certificate_issuance.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hardware.certs import chain_valid, subject_ids, trust_level, usage_of
from kiosk.demo_cast import DemoHolder, demo_admins, demo_holder
from kiosk.document.evidence import evidence_summary
from kiosk.errors import PortalRejected
from kiosk.model import TrustLevel
from kiosk.portal_client import PortalClient
from kiosk.settings import DEFAULT_POLICY_LEVELS
from portal.server import RunningPortal

from .conftest import ClientFactory
from .helpers import count, evidence, hook

pytestmark = pytest.mark.portal

Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def key() -> str:
    return str(uuid.uuid4())


def new_key(kind: str = "rsa", size: int = 2048) -> Key:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=size)
    return ec.generate_private_key(ec.SECP256R1() if kind == "ec" else ec.SECP384R1())


def request_for(private: Key, serial_number: str | None) -> bytes:
    names = [x509.NameAttribute(NameOID.COMMON_NAME, "Eva Ek")]
    if serial_number:
        names.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial_number))
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name(names))
        .sign(private, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.DER)


@pytest.fixture
def eva(today: date) -> DemoHolder:
    return demo_holder("eva", today)  # the demo cast's Aktiv card


@pytest.fixture
def admin(today: date) -> str:
    return demo_admins(today)[0].hsa_id


@pytest.fixture
def client(portal: RunningPortal, make_client: ClientFactory) -> PortalClient:
    return make_client(portal.url)


def root_der(portal: RunningPortal) -> bytes:
    return (portal.db_path.parent / "issuing-ca" / "root.pem").read_bytes()


def as_der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize("algorithm", ["rsa", "ec"])
@pytest.mark.parametrize("kind", ["authentication", "signature"])
def test_issued_with_the_siths_profile_and_chains_to_the_root(
    portal: RunningPortal,
    client: PortalClient,
    eva: DemoHolder,
    admin: str,
    kind: str,
    algorithm: str,
) -> None:
    private = new_key(algorithm)
    issued = client.issue_certificate(
        eva.card_number, admin, kind, "hsa_id", request_for(private, eva.hsa_id), key()
    )
    cert = x509.load_der_x509_certificate(issued.der)
    assert cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert subject_ids(cert) == (eva.hsa_id, eva.personnummer)
    assert cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == eva.hsa_id
    assert usage_of(cert) == kind
    assert trust_level(cert, DEFAULT_POLICY_LEVELS) is TrustLevel.LOA3
    if kind == "authentication":
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert ExtendedKeyUsageOID.CLIENT_AUTH in eku
    anchor = as_der(root_der(portal))
    assert chain_valid(issued.der, [anchor], list(issued.chain)) is True
    assert chain_valid(issued.der, [anchor], []) is False  # the chain is needed
    assert issued.state == "valid" and not issued.expires_soon
    valid_until = client.card(eva.card_number).valid_until
    if valid_until is not None:
        assert cert.not_valid_after_utc.date() <= valid_until


def test_personnummer_subject(client: PortalClient, eva: DemoHolder, admin: str) -> None:
    issued = client.issue_certificate(
        eva.card_number, admin, "authentication", "personnummer",
        request_for(new_key(), eva.personnummer), key(),
    )
    cert = x509.load_der_x509_certificate(issued.der)
    assert cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == (
        eva.personnummer
    )


def test_a_retry_returns_the_same_certificate_and_issues_nothing_twice(
    portal: RunningPortal, client: PortalClient, eva: DemoHolder, admin: str
) -> None:
    request, idem = request_for(new_key(), eva.hsa_id), key()
    first = client.issue_certificate(eva.card_number, admin, "signature", "hsa_id", request, idem)
    again = client.issue_certificate(eva.card_number, admin, "signature", "hsa_id", request, idem)
    assert again == first
    assert count(portal.db_path, "SELECT COUNT(*) FROM certificates") == 1
    assert [c.serial for c in client.card_certificates(eva.card_number)] == [first.serial]


def summary(personnummer: str) -> dict[str, object]:
    """The evidence summary of a checked passport, as the outbox keeps it."""
    return evidence_summary(evidence(personnummer=personnummer), suffixes=True)


def refused(call: Callable[[], object], reason: str) -> None:
    with pytest.raises(PortalRejected) as caught:
        call()
    assert caught.value.reason == reason


def test_requests_the_portal_refuses(
    portal: RunningPortal, client: PortalClient, eva: DemoHolder, admin: str, today: date
) -> None:
    n = eva.card_number

    def issue(request: bytes, kind: str = "signature", who: str = admin) -> object:
        return client.issue_certificate(n, who, kind, "hsa_id", request, key())

    # a request whose signature does not verify (one bit of its signature flipped)
    good = bytearray(request_for(new_key(), eva.hsa_id))
    good[-5] ^= 0x01
    refused(lambda: issue(bytes(good)), "bad_request_signature")
    refused(lambda: issue(b"\x30\x03\x02\x01\x00"), "bad_request_signature")
    refused(lambda: issue(b"not a request at all"), "bad_request_signature")
    refused(lambda: issue(request_for(new_key("rsa", 1024), eva.hsa_id)), "weak_key")
    refused(lambda: issue(request_for(new_key("p384"), eva.hsa_id)), "weak_key")
    refused(lambda: issue(request_for(new_key(), "SE2321000016-XXXX")), "request_mismatch")
    lapsed = [a for a in demo_admins(today) if a.training_valid_until < today]
    if lapsed:
        refused(
            lambda: issue(request_for(new_key(), eva.hsa_id), who=lapsed[0].hsa_id),
            "admin_not_authorised",
        )
    refused(lambda: issue(request_for(new_key(), None), who="SE0000000000-NOPE"),
            "admin_not_authorised")
    anna = demo_holder("anna", today)  # Skickad: no certificates before activation
    refused(
        lambda: client.issue_certificate(
            anna.card_number, admin, "signature", "hsa_id", request_for(new_key(), None), key()
        ),
        "not_eligible",
    )
    assert count(portal.db_path, "SELECT COUNT(*) FROM certificates") == 0


def test_one_certificate_per_kind_one_additional_and_no_reused_key(
    client: PortalClient, eva: DemoHolder, admin: str
) -> None:
    n = eva.card_number
    private = new_key()
    first = client.issue_certificate(
        n, admin, "additional", "hsa_id", request_for(private, eva.hsa_id), key(),
        organisation="Region Annan",
    )
    assert first.organisation == "Region Annan"
    assert "O=Region Annan" in first.subject
    refused(
        lambda: client.issue_certificate(
            n, admin, "additional", "hsa_id", request_for(new_key(), eva.hsa_id), key()
        ),
        "additional_certificate_present",
    )
    refused(
        lambda: client.issue_certificate(
            n, admin, "additional", "personnummer", request_for(new_key(), None), key()
        ),
        "additional_certificate_present",
    )
    refused(
        lambda: client.issue_certificate(
            n, admin, "additional", "hsa_id", request_for(private, eva.hsa_id), key(),
            replaces=first.serial,
        ),
        "key_reused",
    )
    refused(
        lambda: client.issue_certificate(
            n, admin, "additional", "hsa_id", request_for(new_key(), None), key(),
            replaces="abc123",
        ),
        "replaced_certificate_unknown",
    )
    second = client.issue_certificate(
        n, admin, "additional", "hsa_id", request_for(new_key(), None), key(),
        replaces=first.serial,
    )
    states = {c.serial: c.state for c in client.card_certificates(n)}
    assert states == {first.serial: "replaced", second.serial: "valid"}
    revoked = client.revoke_certificate(n, second.serial, admin, "removed from the card", key())
    assert revoked.state == "revoked"
    # with the additional certificate revoked, a new one may go on
    client.issue_certificate(
        n, admin, "additional", "hsa_id", request_for(new_key(), None), key()
    )
    refused(lambda: client.revoke_certificate(n, "ffff", admin, "x", key()),
            "certificate_not_found")


def test_expiring_soon_from_three_months_before(
    portal: RunningPortal, client: PortalClient, eva: DemoHolder, admin: str
) -> None:
    issued = client.issue_certificate(
        eva.card_number, admin, "signature", "hsa_id", request_for(new_key(), None), key()
    )
    with_days = client.card_certificates(eva.card_number)[0]
    assert with_days.days_left == issued.days_left > 92
    # move the portal's clock to 80 days before the end: it warns
    hook(portal, "clock", {"days": issued.days_left - 80})
    soon = client.card_certificates(eva.card_number)[0]
    assert soon.expires_soon and soon.state == "valid" and 79 <= soon.days_left <= 80
    hook(portal, "clock", {"days": 81})
    assert client.card_certificates(eva.card_number)[0].state == "expired"


def test_pin_letter_once_until_it_arrives(
    portal: RunningPortal, client: PortalClient, eva: DemoHolder, admin: str, today: date
) -> None:
    checked = evidence_summary(evidence(personnummer=eva.personnummer), suffixes=True)
    idem = key()
    order = client.order_pin_letter(eva.card_number, admin, checked, idem)
    assert (order.expected_by - order.ordered_at).days == 5
    assert client.order_pin_letter(eva.card_number, admin, checked, idem) == order
    refused(lambda: client.order_pin_letter(eva.card_number, admin, checked, key()),
            "letter_already_ordered")
    assert count(portal.db_path, "SELECT COUNT(*) FROM pin_letters") == 1
    refused(
        lambda: client.order_pin_letter(
            eva.card_number, admin, summary("199001011234"), key()
        ),
        "document_rejected",  # someone else's document
    )
    anna = demo_holder("anna", today)
    refused(
        lambda: client.order_pin_letter(
            anna.card_number, admin, summary(anna.personnummer), key()
        ),
        "not_eligible",
    )
