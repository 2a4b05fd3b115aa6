"""A key pair made on a SoftHSM2 card, its request issued by the real reference portal,
the certificate installed on the card: it chains to the portal's demo root
(pyhanko-certvalidator), matches the card's key pair, and a test signature made with
the signature PIN verifies with it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from hardware.certs import chain_valid
from hardware.pkcs11 import Pkcs11Token
from kiosk.demo_cast import demo_admins, demo_holder
from kiosk.portal_client import PortalClient
from kiosk.ports import KeyAlgorithm, PinRole
from portal.server import RunningPortal, start_in_thread
from tests.integration.card.conftest import SIGN_PIN, TEST_DATA, verify

pytestmark = [pytest.mark.softhsm, pytest.mark.portal]


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[RunningPortal]:
    running = start_in_thread(tmp_path / "portal" / "portal.db", seed_demo=True)
    yield running
    running.stop()


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P256])
def test_on_card_key_issued_installed_and_signing(
    two_pin_card: Pkcs11Token, portal: RunningPortal, algorithm: KeyAlgorithm
) -> None:
    today = date.today()
    eva, admin = demo_holder("eva", today), demo_admins(today)[0]
    key = two_pin_card.generate_key_pair(
        PinRole.SIGNATURE, SIGN_PIN, b"\x51", "Underskrift", algorithm
    )
    request = two_pin_card.certificate_request(
        PinRole.SIGNATURE, SIGN_PIN, key.key_id, eva.name, eva.hsa_id
    )
    with PortalClient(portal.url, kiosk_id="test-kiosk") as client:
        issued = client.issue_certificate(
            eva.card_number, admin.hsa_id, "signature", "hsa_id", request, str(uuid.uuid4())
        )
    two_pin_card.write_certificate(
        PinRole.SIGNATURE, SIGN_PIN, key.key_id, "Underskrift", issued.der
    )

    cert = x509.load_der_x509_certificate(issued.der)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert spki == key.public_key  # the certificate is for the key pair on the card
    root = x509.load_pem_x509_certificate(
        (portal.db_path.parent / "issuing-ca" / "root.pem").read_bytes()
    ).public_bytes(serialization.Encoding.DER)
    assert chain_valid(issued.der, [root], list(issued.chain)) is True
    on_card = {c.der: c for c in two_pin_card.certificates()}
    assert on_card[issued.der].usage == "signature"
    assert on_card[issued.der].hsa_id == eva.hsa_id

    signature = two_pin_card.sign(PinRole.SIGNATURE, SIGN_PIN, key.key_id, TEST_DATA)
    verify(issued.der, signature, TEST_DATA)
