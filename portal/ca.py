"""The reference portal's issuing CA: a demo root and issuing CA, and SITHS issuance.

The CA's files (root.pem, root-key.pem, issuing.pem, issuing-key.pem; PEM, keys
unencrypted with mode 0600) are the same layout the demo's card issuer writes
(hardware/sim/democa), so a portal started with the demo's CA directory issues under the
root the demo kiosk trusts. A missing directory gets a new demo root and issuing CA.
The profile itself (subject, key usage, policy, subjectAltName) is kiosk.pki's.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from asn1crypto.core import UTF8String
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from kiosk.pki import (
    HSA_ID_OTHERNAME,
    ISSUING_CRL,
    PERSONNUMMER_OTHERNAME,
    ROOT_CRL,
    CaPair,
    add_revoked,
    create_ca_pair,
    load_ca_pair,
    person_certificate,
    person_subject,
    policy_oid,
    write_ca_pair,
    write_crls,
)
from kiosk.settings import DEFAULT_POLICY_LEVELS, PolicyLevel

ROOT_NAME = "SITHS e-id Root CA v2 TEST (demo)"
ISSUING_NAME = "SITHS e-id Person ID 3 CA v1 TEST (demo)"
CA_FILES = ("root", "root-key", "issuing", "issuing-key")
MIN_RSA_BITS = 2048
EC_CURVES = ("secp256r1",)


class RequestInvalid(ValueError):
    """A certificate request the CA will not sign; ``reason`` is the API's reason code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class VerifiedRequest:
    """A PKCS#10 request whose signature verified with its own public key."""

    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey
    serial_number: str | None
    key_sha256: str


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def verify_request(der: bytes) -> VerifiedRequest:
    """Parse a PKCS#10 request, check its signature (proof of the private key) and key."""
    try:
        request = x509.load_der_x509_csr(der)
    except ValueError as exc:
        raise RequestInvalid("bad_request_signature", f"not a PKCS#10 request: {exc}") from None
    try:
        valid = request.is_signature_valid
        public_key = request.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise RequestInvalid("bad_request_signature", f"request cannot be checked: {exc}") from None
    if not valid:
        raise RequestInvalid("bad_request_signature", "the request's signature does not verify")
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < MIN_RSA_BITS:
            raise RequestInvalid("weak_key", f"RSA {public_key.key_size} bits is too short")
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name not in EC_CURVES:
            raise RequestInvalid("weak_key", f"curve {public_key.curve.name} is not accepted")
    else:
        raise RequestInvalid("weak_key", "only RSA 2048+ and EC P-256 keys are issued")
    serials = request.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return VerifiedRequest(
        public_key,
        str(serials[0].value) if serials else None,
        hashlib.sha256(spki).hexdigest(),
    )


class IssuingCA:
    """The demo root and issuing CA of the reference portal."""

    def __init__(
        self,
        root: CaPair,
        issuing: CaPair,
        policy_levels: tuple[PolicyLevel, ...] = DEFAULT_POLICY_LEVELS,
        directory: Path | None = None,
    ) -> None:
        self.root = root
        self.issuing = issuing
        self.policy_levels = policy_levels
        self.directory = directory  # where its files, revoked list and CRLs are kept
        self._publishing = threading.Lock()  # one CRL writer at a time (request threads)

    @classmethod
    def load_or_create(
        cls,
        directory: Path,
        today: date,
        policy_levels: tuple[PolicyLevel, ...] = DEFAULT_POLICY_LEVELS,
    ) -> IssuingCA:
        """The CA kept in ``directory``; a new demo root and issuing CA if it has none."""
        files = {n: directory / f"{n}.pem" for n in CA_FILES}
        if all(p.exists() for p in files.values()):
            return cls(
                load_ca_pair(files["root-key"], files["root"]),
                load_ca_pair(files["issuing-key"], files["issuing"]),
                policy_levels,
                directory,
            )
        start = _midnight(today - timedelta(days=365))
        root = create_ca_pair(ROOT_NAME, start, 20)
        issuing = create_ca_pair(ISSUING_NAME, start, 10, issuer=root)
        directory.mkdir(parents=True, exist_ok=True)
        for name, pair in (("root", root), ("issuing", issuing)):
            write_ca_pair(pair, files[f"{name}-key"], files[name])
        return cls(root, issuing, policy_levels, directory)

    def publish_revocations(self, serials: list[int], now: datetime) -> None:
        """Add ``serials`` to the CA directory's revoked list (shared with the demo card
        issuer) and publish both CRLs again when one was new or a CRL is missing."""
        if self.directory is None:
            return
        with self._publishing:
            new = add_revoked(self.directory, serials)
            missing = not all((self.directory / n).exists() for n in (ROOT_CRL, ISSUING_CRL))
            if new or missing:
                start = _midnight(now.date() - timedelta(days=1))
                write_crls(self.directory, self.root, self.issuing, start)

    def issue(
        self,
        request: VerifiedRequest,
        holder_name: str,
        hsa_id: str,
        personnummer: str,
        trust_level: int,
        subject_id: str,
        signature: bool,
        now: datetime,
        valid_until: date | None,
        organisation: str = "Region Demo",
    ) -> x509.Certificate:
        """A SITHS person certificate for the request's key.

        ``subject_id`` "hsa_id" or "personnummer" says which goes in the subject's
        serialNumber; both are in the subjectAltName. Valid from now until the card's end
        of validity (5 years if unknown), never past the issuing CA's own end.
        """
        given, _, surname = holder_name.partition(" ")
        if " " in surname:  # "Anna Maria Andersson": the last word is the surname
            given, surname = holder_name.rsplit(" ", 1)
        serial = hsa_id if subject_id == "hsa_id" else personnummer
        end = _midnight(valid_until) if valid_until else now + timedelta(days=365 * 5)
        end = min(end, self.issuing.cert.not_valid_after_utc)
        return person_certificate(
            self.issuing,
            request.public_key,
            person_subject(given, surname, serial, organisation),
            [
                x509.OtherName(HSA_ID_OTHERNAME, UTF8String(hsa_id).dump()),
                x509.OtherName(PERSONNUMMER_OTHERNAME, UTF8String(personnummer).dump()),
            ],
            policy_oid(trust_level, self.policy_levels),
            now - timedelta(minutes=5),
            end,
            signature,
        )
