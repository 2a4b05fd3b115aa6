"""The one place that builds certificates: ``certificate`` (any subject, key and issuer),
the SITHS e-id certificate profile and CA key pairs on top of it, for the demo's card issuer
(hardware/sim/democa), the reference portal's issuing CA (portal/ca), the portal's dev TLS
(portal/devpki) and the tests' holder and card certificates (tests/receipt_ca).

Shape of a person certificate: subject C=SE, O, surname, givenName, CN and the HSA-id or
the personnummer in serialNumber; subjectAltName otherNames for the HSA-id and the
personnummer (encoded by the caller); the policy OID of the holder's trust level
(settings.hardware.policy_levels); key usage digitalSignature (+ keyEncipherment for RSA)
and clientAuth for authentication, nonRepudiation for signature. Demo and tests only
write their keys unencrypted.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificateIssuerPublicKeyTypes,
    PrivateKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kiosk.ca_files import ISSUING_CRL as ISSUING_CRL
from kiosk.ca_files import REVOKED_FILE as REVOKED_FILE
from kiosk.ca_files import ROOT_CRL as ROOT_CRL
from kiosk.model import TrustLevel
from kiosk.settings import PolicyLevel

# subjectAltName otherName types: the HSA-id (SITHS) and a Swedish personnummer.
HSA_ID_OTHERNAME = x509.ObjectIdentifier("1.2.752.29.6.2.1")
PERSONNUMMER_OTHERNAME = x509.ObjectIdentifier("1.2.752.29.4.13")
CA_KEY_SIZE = 2048
ISSUED_KEY_TYPES = (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)
CertificatePublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class CaPair:
    """An RSA private key and the certificate for it (a CA's, or a demo card's)."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def cert_der(self) -> bytes:
        """The certificate as DER."""
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_der(self) -> bytes:
        """The private key as PKCS#8 DER (unencrypted: demo only)."""
        return self.key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def ca_name(common_name: str, organisation: str = "Inera AB (demo)") -> x509.Name:
    """C=SE, O, CN of a CA."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def key_usage(**set_bits: bool) -> x509.KeyUsage:
    """A KeyUsage extension with only ``set_bits`` set (e.g. ``key_cert_sign=True``)."""
    bits = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    bits.update(set_bits)
    return x509.KeyUsage(**bits)


def certificate(
    subject: x509.Name,
    public_key: CertificateIssuerPublicKeyTypes,
    signer: CertificateIssuerPrivateKeyTypes,
    not_before: datetime,
    not_after: datetime,
    *,
    issuer: x509.Name | None = None,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> x509.Certificate:
    """A certificate for ``public_key``, signed by ``signer`` (SHA-256; none for EdDSA).

    ``issuer`` None: self-signed (``signer`` must be the subject's own key). Otherwise the
    certificate names ``issuer`` and carries its authority key identifier. ``extensions``
    are (extension, critical) pairs, in order; the serial number is random.
    """
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer if issuer is not None else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
            critical=False,
        )
    eddsa = isinstance(signer, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey)
    return builder.sign(signer, None if eddsa else hashes.SHA256())


def create_ca_pair(
    common_name: str, start: datetime, years: int, issuer: CaPair | None = None
) -> CaPair:
    """A new CA: self-signed root (``issuer`` None) or an issuing CA under ``issuer``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=CA_KEY_SIZE)
    cert = certificate(
        ca_name(common_name),
        key.public_key(),
        issuer.key if issuer else key,
        start,
        start + timedelta(days=365 * years),
        issuer=issuer.cert.subject if issuer else None,
        extensions=ca_extensions(key.public_key(), path_length=0 if issuer else 1),
    )
    return CaPair(key, cert)


def ca_extensions(
    public_key: CertificateIssuerPublicKeyTypes, path_length: int
) -> list[tuple[x509.ExtensionType, bool]]:
    """A CA's extensions: basic constraints, certificate and CRL signing, its key id."""
    return [
        (x509.BasicConstraints(ca=True, path_length=path_length), True),
        (key_usage(key_cert_sign=True, crl_sign=True), True),
        (x509.SubjectKeyIdentifier.from_public_key(public_key), False),
    ]


def write_private_key(path: Path, key: PrivateKeyTypes) -> None:
    """A private key as PKCS#8 PEM, unencrypted (demo, dev TLS and tests only), created
    with mode 0600 so it is never readable by others, not even for a moment."""
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT


def write_certificate(path: Path, cert: x509.Certificate) -> None:
    """A certificate as PEM."""
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def write_ca_pair(pair: CaPair, key_path: Path, cert_path: Path) -> None:
    """The key (``write_private_key``) and the certificate (PEM)."""
    write_private_key(key_path, pair.key)
    write_certificate(cert_path, pair.cert)


def load_ca_pair(key_path: Path, cert_path: Path) -> CaPair:
    """A CA key and certificate written by write_ca_pair; ValueError if the key is not RSA."""
    # the RSA consistency check costs ~70 ms a key; these are keys we generated and kept 0600
    key = serialization.load_pem_private_key(
        key_path.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True
    )
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{key_path} is not an RSA key")
    return CaPair(key, x509.load_pem_x509_certificate(cert_path.read_bytes()))


# --- revocation: the CA directory's list of revoked serials and the CRLs it publishes ----
# The demo card issuer (hardware/sim/democa) and the portal's issuing CA (portal/ca) keep
# one list in the same directory, so neither overwrites what the other revoked.

CRL_DAYS = 30


def revoked_serials(directory: Path) -> list[int]:
    """The serial numbers revoked so far by the CA kept in ``directory``."""
    try:
        lines = (directory / REVOKED_FILE).read_text(encoding="ascii").split()
    except OSError:
        return []
    return sorted({int(line) for line in lines if line.isdigit()})


def add_revoked(directory: Path, serials: list[int]) -> bool:
    """Add ``serials`` to the directory's revoked list (durably); whether any was new."""
    known = set(revoked_serials(directory))
    new = sorted(set(serials) - known)
    if not new:
        return False
    with (directory / REVOKED_FILE).open("a", encoding="ascii") as out:
        out.write("".join(f"{serial}\n" for serial in new))
        out.flush()
        os.fsync(out.fileno())
    return True


def write_crls(directory: Path, root: CaPair, issuing: CaPair, start: datetime) -> None:
    """The root's CRL (over the issuing CA) and the issuing CA's (over person
    certificates), valid from ``start`` for CRL_DAYS, each listing every revoked serial;
    written to a temporary file and renamed, so a reader never sees half a CRL."""
    revoked = revoked_serials(directory)
    for issuer, name in ((root, ROOT_CRL), (issuing, ISSUING_CRL)):
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(issuer.cert.subject)
            .last_update(start)
            .next_update(start + timedelta(days=CRL_DAYS))
            .add_extension(x509.CRLNumber(len(revoked) + 1), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                critical=False,
            )
        )
        for serial in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(start).build()
            )
        crl = builder.sign(issuer.key, hashes.SHA256())
        staging = directory / f".{name}.tmp"
        staging.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        staging.replace(directory / name)


def policy_oid(level: TrustLevel | int, levels: tuple[PolicyLevel, ...]) -> str:
    """The certificate policy OID for a trust level (settings.hardware.policy_levels)."""
    for row in levels:
        if row.level == int(level):
            return row.oid
    raise ValueError(f"no policy OID for trust level {int(level)}")


def person_subject(
    given_names: str, surname: str, serial_number: str, organisation: str = "Region Demo"
) -> x509.Name:
    """A SITHS person subject; ``serial_number`` is the HSA-id or the personnummer."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.SURNAME, surname),
            x509.NameAttribute(NameOID.GIVEN_NAME, given_names),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{given_names} {surname}".strip()),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, serial_number),
        ]
    )


def person_certificate(
    issuer: CaPair,
    public_key: CertificatePublicKey,
    subject: x509.Name,
    other_names: list[x509.OtherName],
    policy: str,
    not_before: datetime,
    not_after: datetime,
    signature: bool,
) -> x509.Certificate:
    """A SITHS-shaped authentication (``signature`` False) or signature certificate."""
    if signature:
        usage = key_usage(content_commitment=True)
    else:
        usage = key_usage(
            digital_signature=True, key_encipherment=isinstance(public_key, rsa.RSAPublicKey)
        )
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (usage, True),
        (x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier(policy), None)]),
         False),
        (x509.SubjectAlternativeName(other_names), False),
        (x509.SubjectKeyIdentifier.from_public_key(public_key), False),
    ]
    if not signature:
        extensions.append((x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False))
    return certificate(
        subject, public_key, issuer.key, not_before, not_after,
        issuer=issuer.cert.subject, extensions=extensions,
    )


# --- checks on a certificate a visit installed (pure: no card, no portal) -------------


def certificate_key(der: bytes) -> bytes:
    """The certificate's public key as SubjectPublicKeyInfo DER (compare with a card key)."""
    return (
        x509.load_der_x509_certificate(der)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def certificate_serial(der: bytes) -> str:
    """The certificate's serial number in hex, as the portal names it."""
    return format(x509.load_der_x509_certificate(der).serial_number, "x")


def certificate_not_after(der: bytes) -> str:
    """The day the certificate ends (ISO date, UTC)."""
    return x509.load_der_x509_certificate(der).not_valid_after_utc.date().isoformat()


def signature_verifies(der: bytes, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` over ``data`` (SHA-256; PKCS#1 v1.5 or DER ECDSA, as the card
    signs) verifies with the certificate's public key."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import padding

    key = x509.load_der_x509_certificate(der).public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            return False
    except InvalidSignature:
        return False
    return True
