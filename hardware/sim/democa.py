"""The demo PKI: a "SITHS e-id Root CA v2 TEST (demo)" root, an issuing CA, and per-person
authentication and signature certificates shaped like SITHS e-id ones (kiosk.pki).

Everything here is for the demo and tests only: the keys are software keys written
unencrypted under the demo state directory. Policy OIDs come from the demo
policy_levels table in settings (ITU-T example arc), never real SITHS OIDs. The
reference portal's issuing CA (portal/ca.py) reads the same files, so the certificates
it issues chain to the same demo root.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from asn1crypto.core import UTF8String
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from kiosk.ca_files import CA_FILES
from kiosk.ca_files import trust_files as trust_files  # where callers have found it
from kiosk.model import TrustLevel
from kiosk.pki import (
    HSA_ID_OTHERNAME,
    PERSONNUMMER_OTHERNAME,
    REVOKED_FILE,
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
KEY_SIZE = 2048
# the CKA_LABEL of a demo card's additional certificate (tilläggscertifikat)
ADDITIONAL_LABEL = "Tilläggscertifikat"
# the demo card's objects by CKA_ID (SoftHSM2 and memory tokens alike)
AUTH_ID = b"\x01"
SIGN_ID = b"\x02"
ADDITIONAL_ID = b"\x03"
CA_ID = b"\xca"

IssuedKey = CaPair
"""A private key and the certificate for it."""
load_pair = load_ca_pair
"""A key and certificate this module wrote (PEM files)."""


@dataclass(frozen=True)
class PersonCredentials:
    """What goes on one person's demo card: two key pairs and the issuing CA certificate,
    and an additional certificate (tilläggscertifikat) from another organisation, if any."""

    authentication: IssuedKey
    signature: IssuedKey
    issuing_ca: x509.Certificate
    additional: IssuedKey | None = None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def person_other_names(hsa_id: str | None, personnummer: str) -> list[x509.OtherName]:
    """The subjectAltName otherNames of a SITHS person certificate (asn1crypto UTF8String);
    without ``hsa_id``, the personnummer's only."""
    names = [x509.OtherName(PERSONNUMMER_OTHERNAME, UTF8String(personnummer).dump())]
    if hsa_id is not None:
        names.insert(0, x509.OtherName(HSA_ID_OTHERNAME, UTF8String(hsa_id).dump()))
    return names


class DemoCA:
    """The demo root and issuing CA, able to issue SITHS-shaped person certificates."""

    def __init__(self, root: IssuedKey, issuing: IssuedKey) -> None:
        self.root = root
        self.issuing = issuing

    @classmethod
    def create(cls, today: date) -> DemoCA:
        """A new root (20 years) and issuing CA (10 years)."""
        start = _midnight(today - timedelta(days=365))
        root = create_ca_pair(ROOT_NAME, start, 20)
        return cls(root, create_ca_pair(ISSUING_NAME, start, 10, issuer=root))

    @classmethod
    def load_or_create(cls, directory: Path, today: date) -> DemoCA:
        """The CA kept in ``directory`` (created there on first use)."""
        files = {n: directory / f"{n}.pem" for n in CA_FILES}
        if all(p.exists() for p in files.values()):
            kept = cls(
                load_pair(files["root-key"], files["root"]),
                load_pair(files["issuing-key"], files["issuing"]),
            )
            if kept.issuing.cert.not_valid_after_utc.date() > today + timedelta(days=365):
                kept.write_crls(directory, today)
                return kept
            # stale: a CA about to expire is made again (and with it every card's certificates)
        ca = cls.create(today)
        directory.mkdir(parents=True, exist_ok=True)
        for name, pair in (("root", ca.root), ("issuing", ca.issuing)):
            write_ca_pair(pair, files[f"{name}-key"], files[name])
        (directory / REVOKED_FILE).unlink(missing_ok=True)
        ca.write_crls(directory, today)
        return ca

    def write_crls(self, directory: Path, today: date) -> None:
        """The root's and the issuing CA's CRLs (kiosk.pki.write_crls), valid from
        yesterday, listing the serials revoked (by this module or the portal's CA)."""
        write_crls(directory, self.root, self.issuing, _midnight(today - timedelta(days=1)))

    def revoke(self, directory: Path, cert: x509.Certificate, today: date) -> None:
        """Revoke a certificate this CA issued and publish new CRLs."""
        add_revoked(directory, [cert.serial_number])
        self.write_crls(directory, today)

    @property
    def root_der(self) -> bytes:
        """The root certificate as DER (the demo trust anchor)."""
        return self.root.cert_der

    def issue_person(
        self,
        given_names: str,
        surname: str,
        hsa_id: str | None,
        personnummer: str,
        trust_level: TrustLevel,
        valid_from: date,
        years: int = 5,
        levels: tuple[PolicyLevel, ...] = DEFAULT_POLICY_LEVELS,
        valid_until: date | None = None,
        additional_organisation: str | None = None,
        signature_until: date | None = None,
        additional_until: date | None = None,
        keys: Sequence[rsa.RSAPrivateKey] = (),
    ) -> PersonCredentials:
        """An authentication and a signature certificate for one person's card, and an
        additional (authentication) certificate from ``additional_organisation`` if given.

        Each ends at ``valid_until`` (else ``years`` after ``valid_from``) unless its own
        end is given (``signature_until``, ``additional_until``). ``keys`` are pre-made
        keys for the authentication, signature and additional pairs, in that order (new
        ones where it has none). Without ``hsa_id`` the certificates name the holder by
        personnummer alone.
        """
        policy = policy_oid(trust_level, levels)
        start = _midnight(valid_from)
        end = _midnight(valid_until) if valid_until else start + timedelta(days=365 * years)
        given = list(keys)

        def issue(
            signature: bool, until: date | None, organisation: str | None = None
        ) -> IssuedKey:
            key = given.pop(0) if given else rsa.generate_private_key(65537, KEY_SIZE)
            serial = hsa_id if hsa_id is not None else personnummer
            subject = (
                person_subject(given_names, surname, serial, organisation)
                if organisation
                else person_subject(given_names, surname, serial)
            )
            cert = person_certificate(
                self.issuing,
                key.public_key(),
                subject,
                person_other_names(hsa_id, personnummer),
                policy,
                start,
                _midnight(until) if until else end,
                signature,
            )
            return IssuedKey(key, cert)

        return PersonCredentials(
            authentication=issue(False, None),
            signature=issue(True, signature_until),
            issuing_ca=self.issuing.cert,
            additional=(
                issue(False, additional_until, additional_organisation)
                if additional_organisation
                else None
            ),
        )
