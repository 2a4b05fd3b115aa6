"""A development PKI for the portal's TLS: a CA, a server certificate and a kiosk client cert.

Generated at first run into a directory (never committed). Private keys are written
unencrypted with mode 0600 and carry "dev" in their file names: they are for demos and
tests only; a real deployment uses certificates from the organisation's own PKI.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kiosk.pki import (
    ca_extensions,
    certificate,
    key_usage,
    write_certificate,
    write_private_key,
)

DEFAULT_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
VALIDITY = timedelta(days=825)


@dataclass(frozen=True)
class DevPki:
    """Where the dev PKI's files are."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        """The CA certificate: the kiosk's trust anchor and the portal's client CA."""
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        """The CA's private key (dev only)."""
        return self.directory / "ca.dev-key.pem"

    @property
    def server_cert(self) -> Path:
        """The portal's server certificate."""
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        """The portal's private key (dev only)."""
        return self.directory / "server.dev-key.pem"

    @property
    def client_cert(self) -> Path:
        """The demo kiosk's client certificate."""
        return self.directory / "kiosk.pem"

    @property
    def client_key(self) -> Path:
        """The demo kiosk's private key (dev only)."""
        return self.directory / "kiosk.dev-key.pem"

    def complete(self) -> bool:
        """Whether every file exists."""
        paths = (self.ca_cert, self.ca_key, self.server_cert, self.server_key,
                 self.client_cert, self.client_key)
        return all(p.is_file() for p in paths)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SITHS kiosk development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _alt_names(hosts: tuple[str, ...]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _leaf(
    name: str,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    usage: x509.ObjectIdentifier,
    hosts: tuple[str, ...],
    now: datetime,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.ExtendedKeyUsage([usage]), False),
        (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
        (key_usage(digital_signature=True, key_agreement=True), True),
    ]
    if hosts:
        extensions.append((_alt_names(hosts), False))
    cert = certificate(
        _name(name), key.public_key(), ca_key, now - timedelta(minutes=5), now + VALIDITY,
        issuer=ca_cert.subject, extensions=extensions,
    )
    return cert, key


def generate_dev_pki(
    directory: str | Path,
    hosts: tuple[str, ...] = DEFAULT_HOSTS,
    kiosk_id: str = "demo-kiosk-1",
    ca_name: str = "SITHS kiosk dev CA",
) -> DevPki:
    """Write a fresh CA, a server certificate for ``hosts`` and a client cert for the kiosk."""
    pki = DevPki(Path(directory))
    pki.directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = certificate(
        _name(ca_name), ca_key.public_key(), ca_key, now - timedelta(minutes=5), now + VALIDITY,
        extensions=ca_extensions(ca_key.public_key(), path_length=0),
    )
    server_cert, server_key = _leaf(
        "card-office portal", ca_cert, ca_key, ExtendedKeyUsageOID.SERVER_AUTH, hosts, now
    )
    client_cert, client_key = _leaf(
        kiosk_id, ca_cert, ca_key, ExtendedKeyUsageOID.CLIENT_AUTH, (), now
    )
    write_private_key(pki.ca_key, ca_key)
    write_certificate(pki.ca_cert, ca_cert)
    write_private_key(pki.server_key, server_key)
    write_certificate(pki.server_cert, server_cert)
    write_private_key(pki.client_key, client_key)
    write_certificate(pki.client_cert, client_cert)
    return pki


def ensure_dev_pki(directory: str | Path, hosts: tuple[str, ...] = DEFAULT_HOSTS) -> DevPki:
    """The dev PKI in ``directory``, generated on first use."""
    pki = DevPki(Path(directory))
    return pki if pki.complete() else generate_dev_pki(directory, hosts)


def issue_client_cert(pki: DevPki, kiosk_id: str, directory: str | Path) -> tuple[Path, Path]:
    """Another kiosk's client certificate from the dev CA (certificate and key paths);
    it reaches the portal only once enrolled (``kiosk-portal kiosk enrol``)."""
    ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the dev CA key is not an EC key")
    cert, key = _leaf(
        kiosk_id, ca_cert, ca_key, ExtendedKeyUsageOID.CLIENT_AUTH, (), datetime.now(UTC)
    )
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = out / f"{kiosk_id}.pem", out / f"{kiosk_id}.dev-key.pem"
    write_certificate(cert_path, cert)
    write_private_key(key_path, key)
    return cert_path, key_path
