"""Card certificates classified: usage, HSA-id, personnummer, trust level, chain validity.

SITHS puts the HSA-id (or, on the personnummer-based pair, the personnummer) in the
subject's serialNumber attribute and may repeat them as subjectAltName otherNames; both
places are read. The trust level comes from the certificate policy OID through the
configurable table settings.hardware.policy_levels. Chains are validated to the
configured trust anchors by pyhanko-certvalidator, never by hand-written path logic.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from kiosk.devicekey import read_key_file
from kiosk.errors import CardUnreadable, ConfigError
from kiosk.model import CertificateInfo, TrustLevel
from kiosk.pki import HSA_ID_OTHERNAME, PERSONNUMMER_OTHERNAME
from kiosk.settings import PolicyLevel

log = logging.getLogger(__name__)


_HSA_ID = re.compile(r"^SE[0-9]{10}-[A-Z0-9]+$")
_PERSONNUMMER = re.compile(r"^[0-9]{12}$")

AUTHENTICATION = "authentication"
SIGNATURE = "signature"


def load_certificate(der: bytes) -> x509.Certificate:
    """A DER certificate from a card; CardUnreadable when it does not parse."""
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise CardUnreadable(f"certificate on the card does not parse: {exc}") from None


def is_ca(cert: x509.Certificate) -> bool:
    """Whether the certificate is a CA certificate (basicConstraints cA)."""
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def usage_of(cert: x509.Certificate) -> str:
    """Signature when key usage has nonRepudiation (contentCommitment), else authentication."""
    try:
        key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return AUTHENTICATION
    return SIGNATURE if key_usage.content_commitment else AUTHENTICATION


def _other_name(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for name in san.get_values_for_type(x509.OtherName):
        if name.type_id == oid:
            parsed = _der_string(name.value)
            if parsed:
                return parsed
    return None


def _der_string(der: bytes) -> str | None:
    """The text of a DER UTF8String/PrintableString/IA5String (otherName values)."""
    from asn1crypto.core import load

    try:
        value = load(der).native
    except (ValueError, TypeError):
        return None
    return value if isinstance(value, str) else None


def subject_ids(cert: x509.Certificate) -> tuple[str | None, str | None]:
    """(HSA-id, personnummer) from the subject's serialNumber and the subjectAltName."""
    hsa_id = _other_name(cert, HSA_ID_OTHERNAME)
    personnummer = _other_name(cert, PERSONNUMMER_OTHERNAME)
    for attribute in cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER):
        value = str(attribute.value).strip().upper()
        if _HSA_ID.match(value):
            hsa_id = hsa_id or value
        elif _PERSONNUMMER.match(value):
            personnummer = personnummer or value
    return hsa_id, personnummer


def trust_level(cert: x509.Certificate, levels: Iterable[PolicyLevel]) -> TrustLevel | None:
    """The highest trust level any of the certificate's policy OIDs stands for."""
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        return None
    table = {row.oid: row.level for row in levels}
    found = [
        table[oid] for oid in (p.policy_identifier.dotted_string for p in policies) if oid in table
    ]
    if not found:
        return None
    try:
        return TrustLevel(max(found))
    except ValueError:
        raise ConfigError(f"policy_levels: trust level {max(found)} is not 2 or 3") from None


MAX_ANCHOR_FILE_BYTES = 1024 * 1024
"""A trust anchor file (a few CA certificates in PEM) is at most this."""

def load_trust_anchors(paths: Iterable[str | Path]) -> list[bytes]:
    """DER certificates from PEM (or DER) files; ConfigError naming a missing or bad file.

    Only a regular file of at most MAX_ANCHOR_FILE_BYTES is read: a FIFO named in
    hardware.trust_anchors hung the kiosk's start, /dev/zero filled its memory.
    """
    anchors: list[bytes] = []
    for path in paths:
        try:
            data = read_key_file(Path(path), MAX_ANCHOR_FILE_BYTES)
        except OSError as exc:
            raise ConfigError(f"trust anchor {path}: {exc.strerror}", path=str(path)) from None
        try:
            if b"-----BEGIN" in data:
                certs = x509.load_pem_x509_certificates(data)
            else:
                certs = [x509.load_der_x509_certificate(data)]
        except ValueError as exc:
            raise ConfigError(f"trust anchor {path} is not a certificate: {exc}") from None
        anchors.extend(c.public_bytes(Encoding.DER) for c in certs)
    return anchors


def chain_valid(
    der: bytes,
    anchors: Sequence[bytes],
    intermediates: Sequence[bytes] = (),
    moment: datetime | None = None,
    crls: Sequence[bytes] = (),
) -> bool | None:
    """Whether ``der`` chains to one of ``anchors`` at ``moment``; None with no anchors.

    With ``crls`` (DER, the issuing CA's and the root's) revocation is required: a
    certificate one of them lists, or one below the root no CRL covers, is not valid.
    Without, revocation is not checked (SITHS certificates declare no CRL location here,
    so pyhanko's soft-fail checks nothing)."""
    if not anchors:
        return None
    # imported here, not at start-up: pyhanko and asyncio cost ~0.35 s on the way to sign-in
    import asyncio

    from pyhanko_certvalidator import CertificateValidator, ValidationContext
    from pyhanko_certvalidator.errors import (
        PathBuildingError,
        PathValidationError,
        ValidationError,
    )

    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(a) for a in anchors],
        other_certs=[asn1_x509.Certificate.load(i) for i in intermediates],
        crls=[asn1_crl.CertificateList.load(c) for c in crls],
        moment=moment or datetime.now(UTC),
        allow_fetching=False,
        revocation_mode="require" if crls else "soft-fail",
    )
    validator = CertificateValidator(asn1_x509.Certificate.load(der), validation_context=context)
    try:
        asyncio.run(validator.async_validate_path())
    except (PathBuildingError, PathValidationError, ValidationError) as exc:
        log.info("certificate chain does not validate: %s", exc)
        return False
    return True


def certificate_info(
    der: bytes,
    label: str,
    levels: Iterable[PolicyLevel],
    anchors: Sequence[bytes] = (),
    intermediates: Sequence[bytes] = (),
    moment: datetime | None = None,
) -> CertificateInfo:
    """One card certificate, classified."""
    cert = load_certificate(der)
    hsa_id, personnummer = subject_ids(cert)
    return CertificateInfo(
        label=label,
        usage=usage_of(cert),
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=cert.serial_number,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        hsa_id=hsa_id,
        personnummer=personnummer,
        trust_level=trust_level(cert, levels),
        chain_valid=chain_valid(der, anchors, intermediates, moment),
        der=der,
        organisation=_organisation(cert),
    )


def _organisation(cert: x509.Certificate) -> str | None:
    """The subject's organisation (O), if it names one."""
    names = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(names[0].value) if names else None


def classify_card_certificates(
    certs: Iterable[tuple[str, bytes]],
    levels: Iterable[PolicyLevel],
    anchors: Sequence[bytes] = (),
    moment: datetime | None = None,
) -> list[CertificateInfo]:
    """The end-entity certificates of a card, classified; CA certificates on it help the chain."""
    loaded = [(label, der, load_certificate(der)) for label, der in certs]
    intermediates = [der for _, der, cert in loaded if is_ca(cert)]
    levels = tuple(levels)
    infos = [
        certificate_info(der, label, levels, anchors, intermediates, moment)
        for label, der, cert in loaded
        if not is_ca(cert)
    ]
    return sorted(infos, key=lambda info: (info.usage != AUTHENTICATION, info.label))
