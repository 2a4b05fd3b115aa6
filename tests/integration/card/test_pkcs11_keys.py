"""Key pairs, requests and certificates on real SoftHSM2 tokens: a two-PIN card.

SoftHSM2 has one user PIN per token, so the card is two tokens: the authentication
token (the card's usual one) and its signature-PIN token ("... PIN2").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pkcs11
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from pkcs11 import Attribute, ObjectClass
from pkcs11 import exceptions as p11

from hardware.pkcs11 import Pkcs11Token
from hardware.sim.softhsm import signature_token_label
from kiosk.errors import TokenError, WrongPin
from kiosk.pki import certificate, key_usage
from kiosk.ports import CardKey, CertificateToken, KeyAlgorithm, PinRole
from tests.integration.card.conftest import (
    AUTH_PIN,
    CARD_NUMBER,
    SIGN_PIN,
    SO_PIN,
    TEST_DATA,
    DemoPki,
    SoftHsm,
    verify,
)

pytestmark = pytest.mark.softhsm


def private_key_attributes(softhsm: SoftHsm, key: CardKey, pin: str) -> dict[Attribute, object]:
    label = signature_token_label(CARD_NUMBER)
    wanted = [
        Attribute.ID,
        Attribute.LABEL,
        Attribute.TOKEN,
        Attribute.PRIVATE,
        Attribute.SENSITIVE,
        Attribute.EXTRACTABLE,
        Attribute.ALWAYS_SENSITIVE,
        Attribute.NEVER_EXTRACTABLE,
        Attribute.LOCAL,
        Attribute.SIGN,
    ]
    with softhsm.module.lock:
        token = softhsm.module.lib.get_token(token_label=label)
        with token.open(user_pin=pin) as session:
            private = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key.key_id)
            attrs = dict(private.get_attributes(wanted))
            secret = (
                Attribute.PRIVATE_EXPONENT
                if key.algorithm is KeyAlgorithm.RSA_2048
                else Attribute.VALUE
            )
            with pytest.raises(p11.AttributeSensitive):
                private[secret]
    return attrs


def issue(demo_pki: DemoPki, csr_der: bytes, signature: bool) -> bytes:
    """A certificate for the request from the demo issuing CA (stands in for the portal)."""
    request = x509.load_der_x509_csr(csr_der)
    issuing = demo_pki.ca.issuing
    now = datetime.now(UTC)
    usage = key_usage(digital_signature=not signature, content_commitment=signature)
    cert = certificate(
        request.subject, request.public_key(), issuing.key,
        now - timedelta(minutes=1), now + timedelta(days=365),
        issuer=issuing.cert.subject, extensions=[(usage, True)],
    )
    return cert.public_bytes(serialization.Encoding.DER)


def test_two_pin_card_is_one_token_per_pin(two_pin_card: Pkcs11Token) -> None:
    assert isinstance(two_pin_card, CertificateToken)
    assert two_pin_card.has_signature_pin()
    assert two_pin_card.signature_pin_status().initialised
    assert set(two_pin_card.key_algorithms(PinRole.SIGNATURE)) == {
        KeyAlgorithm.RSA_2048,
        KeyAlgorithm.EC_P256,
    }
    assert two_pin_card.key_algorithms(PinRole.SIGNATURE)[0] is KeyAlgorithm.RSA_2048
    # the two PINs guard different tokens: each is refused on the other's
    with pytest.raises(WrongPin):
        two_pin_card.generate_key_pair(PinRole.SIGNATURE, AUTH_PIN, b"\x10", "Underskrift")
    with pytest.raises(WrongPin):
        two_pin_card.sign_receipt(SIGN_PIN, TEST_DATA)
    assert two_pin_card.sign_receipt(AUTH_PIN, TEST_DATA)


def test_one_pin_card_has_no_signature_token(card_token: Pkcs11Token) -> None:
    assert not card_token.has_signature_pin()
    card_token.set_initial_pin(SO_PIN, AUTH_PIN)
    # a one-PIN card keeps every key under its one PIN
    key = card_token.generate_key_pair(PinRole.SIGNATURE, AUTH_PIN, b"\x21", "Underskrift")
    assert key.key_id in {k.key_id for k in card_token.card_keys()}


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P256])
def test_key_made_on_the_card_never_leaves_it(
    two_pin_card: Pkcs11Token, softhsm: SoftHsm, algorithm: KeyAlgorithm
) -> None:
    key = two_pin_card.generate_key_pair(
        PinRole.SIGNATURE, SIGN_PIN, b"\x12\x34", "Underskrift", algorithm
    )
    assert key.algorithm is algorithm and key.role is PinRole.SIGNATURE
    attrs = private_key_attributes(softhsm, key, SIGN_PIN)
    assert attrs[Attribute.ID] == b"\x12\x34"
    assert attrs[Attribute.LABEL] == "Underskrift"
    assert attrs[Attribute.TOKEN] is True and attrs[Attribute.PRIVATE] is True
    assert attrs[Attribute.SENSITIVE] is True and attrs[Attribute.ALWAYS_SENSITIVE] is True
    assert attrs[Attribute.EXTRACTABLE] is False and attrs[Attribute.NEVER_EXTRACTABLE] is True
    assert attrs[Attribute.LOCAL] is True  # generated on the token, not imported
    assert attrs[Attribute.SIGN] is True
    # the public half is readable without a PIN, once
    again = two_pin_card.generate_key_pair(
        PinRole.SIGNATURE, SIGN_PIN, b"\x12\x34", "Underskrift", algorithm
    )
    assert again == key
    keys = [k for k in two_pin_card.card_keys() if k.role is PinRole.SIGNATURE]
    assert keys == [key]


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P256])
def test_request_signed_on_the_card_verifies(
    two_pin_card: Pkcs11Token, algorithm: KeyAlgorithm
) -> None:
    key = two_pin_card.generate_key_pair(
        PinRole.SIGNATURE, SIGN_PIN, b"\x05", "Underskrift", algorithm
    )
    der = two_pin_card.certificate_request(
        PinRole.SIGNATURE, SIGN_PIN, b"\x05", "Anna Maria Andersson", "SE2321000016-A1B2"
    )
    request = x509.load_der_x509_csr(der)
    assert request.is_signature_valid
    spki = request.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert spki == key.public_key
    assert request.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == (
        "SE2321000016-A1B2"
    )
    # a request is signed only with the key's own PIN
    with pytest.raises(WrongPin):
        two_pin_card.certificate_request(PinRole.SIGNATURE, AUTH_PIN, b"\x05", "A", "B")
    with pytest.raises(TokenError):
        two_pin_card.certificate_request(PinRole.SIGNATURE, SIGN_PIN, b"\x06", "A", "B")


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P256])
def test_certificate_installed_and_test_signature_verifies(
    two_pin_card: Pkcs11Token, demo_pki: DemoPki, algorithm: KeyAlgorithm
) -> None:
    two_pin_card.generate_key_pair(PinRole.SIGNATURE, SIGN_PIN, b"\x07", "Underskrift", algorithm)
    csr = two_pin_card.certificate_request(PinRole.SIGNATURE, SIGN_PIN, b"\x07", "Anna", "X")
    cert = issue(demo_pki, csr, signature=True)
    two_pin_card.write_certificate(PinRole.SIGNATURE, SIGN_PIN, b"\x07", "Underskrift", cert)
    two_pin_card.write_certificate(PinRole.SIGNATURE, SIGN_PIN, b"\x07", "Underskrift", cert)
    on_card = [c for c in two_pin_card.certificates() if c.der == cert]
    assert len(on_card) == 1 and on_card[0].usage == "signature"
    signature = two_pin_card.sign(PinRole.SIGNATURE, SIGN_PIN, b"\x07", TEST_DATA)
    verify(cert, signature, TEST_DATA)
    with pytest.raises(InvalidSignature):
        verify(cert, signature, TEST_DATA + b"!")
    with pytest.raises(WrongPin):
        two_pin_card.sign(PinRole.SIGNATURE, AUTH_PIN, b"\x07", TEST_DATA)


def test_delete_removes_certificate_and_both_keys(
    two_pin_card: Pkcs11Token, demo_pki: DemoPki
) -> None:
    two_pin_card.generate_key_pair(PinRole.SIGNATURE, SIGN_PIN, b"\x08", "Underskrift")
    csr = two_pin_card.certificate_request(PinRole.SIGNATURE, SIGN_PIN, b"\x08", "Anna", "X")
    cert = issue(demo_pki, csr, signature=True)
    two_pin_card.write_certificate(PinRole.SIGNATURE, SIGN_PIN, b"\x08", "Underskrift", cert)
    auth_before = [c.der for c in two_pin_card.certificates() if c.usage == "authentication"]
    two_pin_card.delete_key_pair(PinRole.SIGNATURE, SIGN_PIN, b"\x08")
    assert cert not in [c.der for c in two_pin_card.certificates()]
    assert b"\x08" not in {k.key_id for k in two_pin_card.card_keys()}
    with pytest.raises(TokenError):
        two_pin_card.sign(PinRole.SIGNATURE, SIGN_PIN, b"\x08", TEST_DATA)
    # the authentication certificate and key on the other token are untouched
    assert [c.der for c in two_pin_card.certificates() if c.usage == "authentication"] == (
        auth_before
    )
    assert two_pin_card.sign_receipt(AUTH_PIN, TEST_DATA)


def test_a_certificate_that_does_not_parse_never_reaches_the_card(
    two_pin_card: Pkcs11Token,
) -> None:
    two_pin_card.generate_key_pair(PinRole.SIGNATURE, SIGN_PIN, b"\x09", "Underskrift")
    before = two_pin_card.certificates()
    with pytest.raises(Exception) as caught:
        two_pin_card.write_certificate(PinRole.SIGNATURE, SIGN_PIN, b"\x09", "X", b"\x30\x03junk")
    assert not isinstance(caught.value, pkcs11.PKCS11Error)
    assert two_pin_card.certificates() == before
