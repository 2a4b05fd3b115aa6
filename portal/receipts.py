"""Verification of a holder's signed receipt: the signature, whose certificate signed it,
and that the certificate chains to the issuing CA and is not revoked.

The chain is validated by pyhanko-certvalidator (as the kiosk validates card
certificates), never by hand-written path logic, to the roots in the portal's receipt
trust files, with revocation required: every certificate below the root must be covered
by a current CRL from those files, or the receipt is not accepted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import crl as asn1_crl
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.context import (
    CertValidationPolicySpec,
    ValidationDataHandlers,
)
from pyhanko_certvalidator.errors import (
    InsufficientRevinfoError,
    PathBuildingError,
    PathError,
    PathValidationError,
    RevokedError,
    StaleRevinfoError,
    ValidationError,
)
from pyhanko_certvalidator.ltv.poe import POEManager
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    NonRevokedStatusAssertion,
    RevocationCheckingPolicy,
)
from pyhanko_certvalidator.registry import CertificateRegistry, SimpleTrustManager
from pyhanko_certvalidator.revinfo.archival import CRLContainer
from pyhanko_certvalidator.revinfo.manager import RevinfoManager
from pyhanko_certvalidator.validate import async_validate_path

log = logging.getLogger("portal")

HASHES: tuple[type[hashes.HashAlgorithm], ...] = (hashes.SHA256, hashes.SHA384, hashes.SHA512)


class ReceiptInvalid(Exception):
    """The receipt cannot be accepted; ``reason`` is the portal's reason code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class ReceiptTrustUnavailable(RuntimeError):
    """The portal's receipt trust files are missing or unreadable (the portal's fault)."""


@dataclass(frozen=True)
class TrustMaterial:
    """Roots, intermediate CA certificates and CRLs, as asn1crypto objects."""

    roots: list[asn1_x509.Certificate] = field(default_factory=list)
    intermediates: list[asn1_x509.Certificate] = field(default_factory=list)
    crls: list[asn1_crl.CertificateList] = field(default_factory=list)


def _blocks(data: bytes) -> list[tuple[str, bytes]]:
    if pem.detect(data):
        return [(kind, der) for kind, _headers, der in pem.unarmor(data, multiple=True)]
    return [("DER", data)]


def load_trust_files(paths: Sequence[str | Path]) -> TrustMaterial:
    """Certificates (self-signed ones are roots) and CRLs from PEM or DER files, as they
    are now: a renewed CRL counts at once.

    Parsed once per thread while the files stay the same (path, inode, size and
    modification time; CRLs are replaced by a rename): parsing them was a quarter of each
    receipt's verification. Each call gets its own lists (a caller may add to them); the
    parsed objects are not shared between threads (asn1crypto parses lazily).
    """
    material = _trust_now(paths).material
    return TrustMaterial(list(material.roots), list(material.intermediates),
                         list(material.crls))


class _Trust:
    """One version of the trust files in one thread: parsed, and their chain check."""

    def __init__(self, material: TrustMaterial) -> None:
        self.material = material
        self._check: ChainCheck | None = None

    def check(self, now: datetime) -> ChainCheck:
        if self._check is None:
            self._check = ChainCheck(self.material, shared_status_at=now)
        return self._check


def _trust_now(paths: Sequence[str | Path]) -> _Trust:
    """This thread's parsed trust files, parsed again when one of them changed."""
    key = tuple(_file_stamp(path) for path in paths)
    cache: dict[tuple[tuple[str, int, int, int, int], ...], _Trust] = getattr(
        _parsed, "trust", {}
    )
    trust = cache.get(key)
    if trust is None:
        trust = _Trust(_read_trust_files(paths))
        _parsed.trust = cache = {key: trust}  # only the files as they are now
    return trust


_parsed = threading.local()


def _file_stamp(path: str | Path) -> tuple[str, int, int, int, int]:
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise ReceiptTrustUnavailable(f"receipt trust file {path}: {exc.strerror}") from exc
    return str(path), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def _read_trust_files(paths: Sequence[str | Path]) -> TrustMaterial:
    material = TrustMaterial()
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ReceiptTrustUnavailable(f"receipt trust file {path}: {exc.strerror}") from exc
        try:
            for kind, der in _blocks(data):
                if kind == "X509 CRL" or (kind == "DER" and _is_crl(der)):
                    crl = asn1_crl.CertificateList.load(der)
                    crl.native  # noqa: B018 -- parse now: a bad file is the portal's error
                    material.crls.append(crl)
                    continue
                cert = asn1_x509.Certificate.load(der)
                cert.native  # noqa: B018 -- parse now: a bad file is the portal's error
                if cert.self_signed != "no":
                    material.roots.append(cert)
                else:
                    material.intermediates.append(cert)
        except (ValueError, TypeError) as exc:
            raise ReceiptTrustUnavailable(f"receipt trust file {path}: {exc}") from exc
    if not material.roots:
        raise ReceiptTrustUnavailable("no receipt trust root is configured")
    return material


def _is_crl(der: bytes) -> bool:
    try:
        asn1_crl.CertificateList.load(der).native  # noqa: B018
    except (ValueError, TypeError):
        return False
    return True


REVOCATION_REQUIRED = CertRevTrustPolicy(RevocationCheckingPolicy.from_legacy("require"))


class ChainCheck:
    """pyhanko-certvalidator's path validation to the roots of one ``TrustMaterial``, with
    revocation required: every certificate below the root must be covered by a current
    CRL from the material.

    Built once and reused by every check, in one thread (``_trust_now``: one per thread
    and version of the trust files): the policy (pyhanko's CertValidationPolicySpec) and
    the certificate registry, which only holds certificates and trusts none. Each check
    gets its own ValidationContext at its own moment and its own revocation data manager:
    pyhanko's RevinfoManager remembers which certificate issued a CRL, and a remembered
    issuer lets the issuing CA's own CRL count for the issuing CA itself in a later
    validation (a stale root CRL then went unnoticed).

    ``shared_status_at``: the issuing CAs' own revocation status, the part of the path
    every holder shares, is checked once, by pyhanko, at that moment: an issuing CA whose
    path validates then, with revocation, and that no CRL of the material lists, is taken
    as not revoked (pyhanko's NonRevokedStatusAssertion) until the earliest next update of
    the material's CRLs. A later check still validates everything else of the CA
    (signature, validity, constraints) and the holder's certificate in full. New CRL
    files are a new material (and a new check), so a revoked CA counts at once; a check at
    a moment before ``shared_status_at`` or after that next update checks the CA again.
    """

    def __init__(self, material: TrustMaterial, shared_status_at: datetime | None = None
                 ) -> None:
        self.spec = CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(trust_roots=material.roots),
            revinfo_policy=REVOCATION_REQUIRED,
        )
        self._crls = [CRLContainer(crl) for crl in material.crls]
        self._registry = CertificateRegistry.build(material.intermediates)
        # the paths from a root to each issuing CA, by the CA's subject as encoded
        self._ca_paths: dict[bytes, list[ValidationPath]] = {}
        for ca in material.intermediates:
            context = self._context(datetime.now(UTC), [])
            try:
                paths = _event_loop().run_until_complete(
                    context.path_builder.async_build_paths(ca)
                )
            except PathError:
                # a CA that chains to no trusted root (one a statement brought along, of
                # another CA): no shared path; check() refuses what it issued
                continue
            self._ca_paths.setdefault(ca.subject.dump(), []).extend(paths)
        self._shared: tuple[datetime, list[NonRevokedStatusAssertion]] | None = None
        if shared_status_at is not None:
            shared = self._shared_status(material, shared_status_at)
            if shared:
                self._shared = shared_status_at, shared

    def _shared_status(self, material: TrustMaterial, at: datetime
                       ) -> list[NonRevokedStatusAssertion]:
        """The issuing CAs that are not revoked, known from the CRLs until their earliest
        next update; none if a CRL has no next update."""
        updates = [crl["tbs_cert_list"]["next_update"].native for crl in material.crls]
        if not updates or any(u is None for u in updates):
            return []
        until = min(updates)
        listed = {
            entry["user_certificate"].native
            for crl in material.crls
            for entry in crl["tbs_cert_list"]["revoked_certificates"]
        }
        assertions = []
        for ca in material.intermediates:
            if ca.serial_number in listed:
                continue  # on a CRL (perhaps from a later date): checked every time
            try:
                self._validate(ca, at, [])
            except (PathError, ValidationError):
                continue
            assertions.append(NonRevokedStatusAssertion(ca.sha256, until))
        return assertions

    def _context(self, now: datetime, assertions: list[NonRevokedStatusAssertion]
                 ) -> ValidationContext:
        poe = POEManager()
        data = ValidationDataHandlers(
            revinfo_manager=RevinfoManager(
                certificate_registry=self._registry, poe_manager=poe, crls=self._crls,
                ocsps=[], assertions=assertions,
            ),
            poe_manager=poe,
            cert_registry=self._registry,
        )
        return self.spec.build_validation_context(
            ValidationTimingInfo(now, now, point_in_time_validation=True), data
        )

    def _validate(self, cert: asn1_x509.Certificate, now: datetime,
                  assertions: list[NonRevokedStatusAssertion]) -> None:
        """pyhanko's path validation of ``cert``; first along the path of the issuing CA
        whose subject is encoded as the certificate's issuer is (the path every holder
        shares, built once: path building was a quarter of a check), then, if that does
        not validate, as pyhanko builds and tries every path (its errors are the ones
        raised)."""
        loop = _event_loop()
        for ca_path in self._ca_paths.get(cert.issuer.dump(), [])[:1]:
            try:
                loop.run_until_complete(async_validate_path(
                    self._context(now, assertions), ca_path.copy_and_append(cert)
                ))
                return
            except (PathError, ValidationError):
                break
        validator = CertificateValidator(
            cert, validation_context=self._context(now, assertions)
        )
        loop.run_until_complete(validator.async_validate_path())

    def check(self, cert: x509.Certificate, now: datetime) -> None:
        """Refuse a certificate that does not chain to a trusted root at ``now``, or whose
        revocation status (every certificate below the root) is not known to be good."""
        assertions = []
        if self._shared is not None and self._shared[0] <= now:
            assertions = self._shared[1]
        leaf = asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))
        try:
            self._validate(leaf, now, assertions)
        except RevokedError as exc:
            raise ReceiptInvalid("certificate_revoked", "the certificate is revoked") from exc
        except (InsufficientRevinfoError, StaleRevinfoError) as exc:
            log.warning("receipt certificate revocation unknown: %s", exc)
            raise ReceiptInvalid(
                "revocation_unknown", "the certificate's revocation status is not known now"
            ) from exc
        except (PathBuildingError, PathValidationError, ValidationError) as exc:
            raise ReceiptInvalid(
                "untrusted_certificate",
                f"the certificate does not chain to the issuing CA: {exc}",
            ) from exc


def _event_loop() -> asyncio.AbstractEventLoop:
    """This thread's event loop for pyhanko's coroutines (asyncio.run made and closed one
    for each check: ~0.2 ms of a receipt's ~1 ms)."""
    loop: asyncio.AbstractEventLoop | None = getattr(_loops, "loop", None)
    if loop is None:
        loop = _loops.loop = asyncio.new_event_loop()
    return loop


_loops = threading.local()


def check_chain(cert: x509.Certificate, material: TrustMaterial, now: datetime) -> None:
    """Refuse a certificate that does not chain to a trusted root at ``now``, or whose
    revocation status (every certificate below the root) is not known to be good
    (a one-off ChainCheck: the material may hold certificates the caller added)."""
    ChainCheck(material).check(cert, now)


def check_receipt_chain(cert: x509.Certificate, trust: Sequence[str | Path], now: datetime
                        ) -> None:
    """``check_chain`` against the trust files as they are now, with this thread's
    ChainCheck for them (the issuing CAs' status checked once per version of the files)."""
    _trust_now(trust).check(now).check(cert, now)


@dataclass(frozen=True)
class VerifiedReceipt:
    """What the portal learned from a verified receipt."""

    algorithm: str
    signer_subject: str


def load_certificate(data: bytes) -> x509.Certificate:
    """A certificate from DER or PEM bytes."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise ReceiptInvalid("bad_certificate", f"the certificate cannot be parsed: {exc}") from exc


def certificate_identifiers(cert: x509.Certificate) -> list[str]:
    """Every text in the subject and subjectAltName that could name the holder."""
    texts = [str(attr.value) for attr in cert.subject]
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return texts
    for name in san:
        value = name.value
        if isinstance(name, x509.OtherName) and isinstance(value, bytes):
            texts.append(value.decode("latin-1"))
        else:
            texts.append(str(value))
    return texts


def check_holder(cert: x509.Certificate, hsa_id: str, personnummer: str) -> None:
    """Refuse a certificate that names neither the card holder's HSA-id nor personnummer."""
    wanted = [w for w in (hsa_id.upper(), personnummer) if w]
    texts = [t.upper() for t in certificate_identifiers(cert)]
    if not any(w in t for w in wanted for t in texts):
        raise ReceiptInvalid(
            "certificate_mismatch",
            "the certificate does not name the card's holder (HSA-id or personnummer)",
        )


def check_validity(cert: x509.Certificate, now: datetime) -> None:
    """Refuse a certificate outside its validity period."""
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise ReceiptInvalid("certificate_expired", "the certificate is not valid now")


def verify_signature(cert: x509.Certificate, receipt: bytes, signature: bytes) -> str:
    """Verify ``signature`` over ``receipt`` with the certificate's key; return the algorithm.

    RSA: PKCS#1 v1.5 or PSS; EC: ECDSA as DER or raw r||s (what PKCS#11 returns);
    Ed25519/Ed448: pure EdDSA. Hashes SHA-256, SHA-384, SHA-512.
    """
    key = cert.public_key()
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        try:
            key.verify(signature, receipt)
            return "ed25519" if isinstance(key, ed25519.Ed25519PublicKey) else "ed448"
        except InvalidSignature:
            pass
    elif isinstance(key, rsa.RSAPublicKey):
        for algorithm in HASHES:
            schemes: tuple[tuple[str, padding.AsymmetricPadding], ...] = (
                ("pkcs1v15", padding.PKCS1v15()),
                ("pss", padding.PSS(padding.MGF1(algorithm()), padding.PSS.AUTO)),
            )
            for name, pad in schemes:
                try:
                    key.verify(signature, receipt, pad, algorithm())
                    return f"rsa-{name}-{algorithm.name}"
                except InvalidSignature:
                    continue
    elif isinstance(key, ec.EllipticCurvePublicKey):
        for candidate in _ecdsa_forms(key, signature):
            for algorithm in HASHES:
                try:
                    key.verify(candidate, receipt, ec.ECDSA(algorithm()))
                    return f"ecdsa-{algorithm.name}"
                except InvalidSignature:
                    continue
    else:
        raise ReceiptInvalid("bad_certificate", "the certificate's key type is not supported")
    raise ReceiptInvalid("bad_signature", "the signature does not verify with the certificate")


def _ecdsa_forms(key: ec.EllipticCurvePublicKey, signature: bytes) -> list[bytes]:
    size = (key.curve.key_size + 7) // 8
    forms = [signature]
    if len(signature) == 2 * size:
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        forms.insert(0, encode_dss_signature(r, s))
    return forms


def verify_receipt(
    receipt: bytes,
    signature: bytes,
    certificate: bytes,
    hsa_id: str,
    personnummer: str,
    now: datetime,
    trust: Sequence[str | Path] = (),
) -> VerifiedReceipt:
    """Check the certificate names the holder, is valid now, chains to a root in the
    ``trust`` files and is not revoked, and verifies the signature."""
    if not receipt:
        raise ReceiptInvalid("bad_receipt", "the receipt is empty")
    cert = load_certificate(certificate)
    check_holder(cert, hsa_id, personnummer)
    check_validity(cert, now)
    check_receipt_chain(cert, trust, now)
    algorithm = verify_signature(cert, receipt, signature)
    return VerifiedReceipt(algorithm, cert.subject.rfc4514_string())
