"""The demo PKI: a "SITHS e-id Root CA v2 TEST (demo)" root, an issuing CA, and per-person
authentication and signature certificates shaped like SITHS e-id ones.

Everything here is for the demo and tests only: the keys are software keys written
unencrypted under the demo state directory. Policy OIDs come from the demo
policy_levels table in settings (ITU-T example arc), never real SITHS OIDs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from asn1crypto.core import UTF8String
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hardware.certs import HSA_ID_OTHERNAME, PERSONNUMMER_OTHERNAME
from kiosk.model import TrustLevel
from kiosk.settings import DEFAULT_POLICY_LEVELS, PolicyLevel

ROOT_NAME = "SITHS e-id Root CA v2 TEST (demo)"
ISSUING_NAME = "SITHS e-id Person ID 3 CA v1 TEST (demo)"
KEY_SIZE = 2048
ROOT_CRL = "root.crl"
ISSUING_CRL = "issuing.crl"
REVOKED_FILE = "revoked.txt"
CRL_DAYS = 30


@dataclass(frozen=True)
class IssuedKey:
    """A private key and the certificate for it."""

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


@dataclass(frozen=True)
class PersonCredentials:
    """What goes on one person's demo card: two key pairs and the issuing CA certificate."""

    authentication: IssuedKey
    signature: IssuedKey
    issuing_ca: x509.Certificate


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def _name(common_name: str, organisation: str = "Inera AB (demo)") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def _policy_oid(level: TrustLevel, levels: tuple[PolicyLevel, ...]) -> str:
    for row in levels:
        if row.level == int(level):
            return row.oid
    raise ValueError(f"no policy OID for trust level {int(level)}")


class DemoCA:
    """The demo root and issuing CA, able to issue SITHS-shaped person certificates."""

    def __init__(self, root: IssuedKey, issuing: IssuedKey) -> None:
        self.root = root
        self.issuing = issuing

    @classmethod
    def create(cls, today: date) -> DemoCA:
        """A new root (20 years) and issuing CA (10 years)."""
        root_key = _new_key()
        start = _midnight(today - timedelta(days=365))
        root_cert = (
            x509.CertificateBuilder()
            .subject_name(_name(ROOT_NAME))
            .issuer_name(_name(ROOT_NAME))
            .public_key(root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=365 * 20))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False
            )
            .sign(root_key, hashes.SHA256())
        )
        issuing_key = _new_key()
        issuing_cert = (
            x509.CertificateBuilder()
            .subject_name(_name(ISSUING_NAME))
            .issuer_name(root_cert.subject)
            .public_key(issuing_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=365 * 10))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(issuing_key.public_key()),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                critical=False,
            )
            .sign(root_key, hashes.SHA256())
        )
        return cls(IssuedKey(root_key, root_cert), IssuedKey(issuing_key, issuing_cert))

    @classmethod
    def load_or_create(cls, directory: Path, today: date) -> DemoCA:
        """The CA kept in ``directory`` (created there on first use)."""
        files = {n: directory / f"{n}.pem" for n in ("root", "root-key", "issuing", "issuing-key")}
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
            _write_pair(pair, files[f"{name}-key"], files[name])
        (directory / REVOKED_FILE).unlink(missing_ok=True)
        ca.write_crls(directory, today)
        return ca

    def write_crls(self, directory: Path, today: date) -> None:
        """The root's CRL (over the issuing CA) and the issuing CA's (over person
        certificates), valid from yesterday for CRL_DAYS, listing the serials revoked."""
        revoked = revoked_serials(directory)
        start = _midnight(today - timedelta(days=1))
        for issuer, name in ((self.root, ROOT_CRL), (self.issuing, ISSUING_CRL)):
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
                    x509.RevokedCertificateBuilder()
                    .serial_number(serial)
                    .revocation_date(start)
                    .build()
                )
            crl = builder.sign(issuer.key, hashes.SHA256())
            (directory / name).write_bytes(crl.public_bytes(serialization.Encoding.PEM))

    def revoke(self, directory: Path, cert: x509.Certificate, today: date) -> None:
        """Revoke a certificate this CA issued and publish new CRLs."""
        with (directory / REVOKED_FILE).open("a", encoding="ascii") as out:
            out.write(f"{cert.serial_number}\n")
        self.write_crls(directory, today)

    @property
    def root_der(self) -> bytes:
        """The root certificate as DER (the demo trust anchor)."""
        return self.root.cert_der

    def issue_person(
        self,
        given_names: str,
        surname: str,
        hsa_id: str,
        personnummer: str,
        trust_level: TrustLevel,
        valid_from: date,
        years: int = 5,
        levels: tuple[PolicyLevel, ...] = DEFAULT_POLICY_LEVELS,
    ) -> PersonCredentials:
        """An authentication and a signature certificate for one person's card."""
        policy = _policy_oid(trust_level, levels)
        return PersonCredentials(
            authentication=self._issue(
                given_names, surname, hsa_id, personnummer, policy, valid_from, years, False
            ),
            signature=self._issue(
                given_names, surname, hsa_id, personnummer, policy, valid_from, years, True
            ),
            issuing_ca=self.issuing.cert,
        )

    def _issue(
        self,
        given_names: str,
        surname: str,
        hsa_id: str,
        personnummer: str,
        policy_oid: str,
        valid_from: date,
        years: int,
        signature: bool,
    ) -> IssuedKey:
        key = _new_key()
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Region Demo"),
                x509.NameAttribute(NameOID.SURNAME, surname),
                x509.NameAttribute(NameOID.GIVEN_NAME, given_names),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{given_names} {surname}"),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, hsa_id),
            ]
        )
        start = _midnight(valid_from)
        usage = x509.KeyUsage(
            digital_signature=not signature,
            content_commitment=signature,
            key_encipherment=not signature,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.issuing.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(
                x509.CertificatePolicies(
                    [x509.PolicyInformation(x509.ObjectIdentifier(policy_oid), None)]
                ),
                critical=False,
            )
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.OtherName(HSA_ID_OTHERNAME, UTF8String(hsa_id).dump()),
                        x509.OtherName(PERSONNUMMER_OTHERNAME, UTF8String(personnummer).dump()),
                    ]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.issuing.key.public_key()),
                critical=False,
            )
        )
        if not signature:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
            )
        return IssuedKey(key, builder.sign(self.issuing.key, hashes.SHA256()))


def revoked_serials(directory: Path) -> list[int]:
    """The serial numbers revoked so far in the CA kept in ``directory``."""
    try:
        lines = (directory / REVOKED_FILE).read_text(encoding="ascii").split()
    except OSError:
        return []
    return [int(line) for line in lines if line.isdigit()]


def trust_files(directory: Path) -> tuple[Path, ...]:
    """What the portal needs to validate the demo cast's receipts: both CA certificates
    and both CRLs (``--receipt-trust`` each)."""
    return (
        directory / "root.pem", directory / "issuing.pem",
        directory / ROOT_CRL, directory / ISSUING_CRL,
    )


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _write_pair(pair: IssuedKey, key_path: Path, cert_path: Path) -> None:
    key_path.write_bytes(
        pair.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(pair.cert.public_bytes(serialization.Encoding.PEM))


def load_pair(key_path: Path, cert_path: Path) -> IssuedKey:
    """A key and certificate this module wrote (PEM files)."""
    # the RSA consistency check costs ~70 ms a key; these are keys we generated and kept 0600
    key = serialization.load_pem_private_key(
        key_path.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True
    )
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{key_path} is not an RSA key")
    return IssuedKey(key, x509.load_pem_x509_certificate(cert_path.read_bytes()))
