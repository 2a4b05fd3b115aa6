"""PKCS#10 certificate requests and public keys in ASN.1, through asn1crypto.

The request is built here and signed by a callable (the key on the card), so the
private key never leaves the token.
"""

from __future__ import annotations

from collections.abc import Callable

from asn1crypto import csr as asn1_csr
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509

from kiosk.errors import TokenError
from kiosk.ports import KeyAlgorithm

SIGNATURE_ALGORITHM = {KeyAlgorithm.RSA_2048: "sha256_rsa", KeyAlgorithm.EC_P256: "sha256_ecdsa"}


def rsa_public_key_info(pkcs1_der: bytes) -> bytes:
    """SubjectPublicKeyInfo DER around a PKCS#1 RSAPublicKey."""
    info = asn1_keys.PublicKeyInfo(
        {
            "algorithm": {"algorithm": "rsa"},
            "public_key": asn1_keys.RSAPublicKey.load(pkcs1_der),
        }
    )
    der: bytes = info.dump()
    return der


def algorithm_of(public_key_info: bytes) -> KeyAlgorithm:
    """RSA 2048 or EC P-256, read from a SubjectPublicKeyInfo; TokenError for others."""
    info = asn1_keys.PublicKeyInfo.load(public_key_info)
    if info.algorithm == "rsa" and info.bit_size == 2048:
        return KeyAlgorithm.RSA_2048
    if info.algorithm == "ec" and info.curve == ("named", "secp256r1"):
        return KeyAlgorithm.EC_P256
    raise TokenError(f"key pair on the card is {info.algorithm} {info.bit_size}: not supported")


def certification_request(
    public_key_info: bytes,
    common_name: str,
    serial_number: str,
    sign: Callable[[bytes], bytes],
) -> bytes:
    """A PKCS#10 request (DER) for ``public_key_info``; ``sign`` signs the request info."""
    algorithm = algorithm_of(public_key_info)
    subject = asn1_x509.Name.build(
        {"country_name": "SE", "common_name": common_name, "serial_number": serial_number}
    )
    info = asn1_csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": subject,
            "subject_pk_info": asn1_keys.PublicKeyInfo.load(public_key_info),
            "attributes": [],
        }
    )
    signature = sign(info.dump())
    request = asn1_csr.CertificationRequest(
        {
            "certification_request_info": info,
            "signature_algorithm": {"algorithm": SIGNATURE_ALGORITHM[algorithm]},
            "signature": signature,
        }
    )
    der: bytes = request.dump()
    return der
