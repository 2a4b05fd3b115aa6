"""The portal's receipt check: every signature form a card may produce, and refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from portal.receipts import ReceiptInvalid, verify_receipt

from .helpers import make_signer

HSA, PNR = "SE2321000016-A1B2", "199003152387"
RECEIPT = b"Kvittens: kort 9752210000000001"
NOW = datetime.now(UTC)


def test_rsa_pss_and_a_pem_certificate_verify() -> None:
    signer = make_signer("rsa", "Anna", HSA)
    assert isinstance(signer.key, rsa.RSAPrivateKey)
    signature = signer.key.sign(
        RECEIPT, padding.PSS(padding.MGF1(hashes.SHA384()), padding.PSS.MAX_LENGTH),
        hashes.SHA384(),
    )
    pem = signer.certificate.public_bytes(serialization.Encoding.PEM)
    verified = verify_receipt(RECEIPT, signature, pem, HSA, PNR, NOW)
    assert verified.algorithm == "rsa-pss-sha384"
    assert HSA in verified.signer_subject


def test_raw_ecdsa_as_pkcs11_returns_it_verifies() -> None:
    signer = make_signer("ec", "Anna", HSA)
    raw = signer.sign(RECEIPT, raw_ecdsa=True)
    assert len(raw) == 64
    assert verify_receipt(RECEIPT, raw, signer.der, HSA, PNR, NOW).algorithm == "ecdsa-sha256"


def test_a_personnummer_in_the_subject_alt_name_names_the_holder() -> None:
    signer = make_signer("ed25519", "Anna", "something-else")
    key = signer.key
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Anna")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.OtherName(x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"),
                           b"\x0c\x0c" + PNR.encode()),
        ]), critical=False)
        .sign(key, None)
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    assert verify_receipt(RECEIPT, signer.sign(RECEIPT), der, HSA, PNR, NOW).algorithm == "ed25519"


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("expired", "certificate_expired"),
        ("garbage_cert", "bad_certificate"),
        ("empty_receipt", "bad_receipt"),
        ("other_holder", "certificate_mismatch"),
        ("tampered", "bad_signature"),
    ],
)
def test_refusals_have_their_reason(case: str, reason: str) -> None:
    signer = make_signer("ec", "Anna", "SE2321000016-ZZZZ" if case == "other_holder" else HSA)
    receipt = b"" if case == "empty_receipt" else RECEIPT
    signature = signer.sign(RECEIPT)
    certificate = b"not a certificate" if case == "garbage_cert" else signer.der
    signed = RECEIPT + b"!" if case == "tampered" else receipt
    now = NOW + timedelta(days=4000) if case == "expired" else NOW
    with pytest.raises(ReceiptInvalid) as caught:
        verify_receipt(signed, signature, certificate, HSA, PNR, now)
    assert caught.value.reason == reason
