"""Test helpers: holder certificates and keys, signed receipts, and the portal's test hooks."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from kiosk.model import DocumentEvidence, DocumentType, Provenance
from kiosk.pki import certificate
from portal.server import RunningPortal
from tests.receipt_ca import holder_subject, issue

PrivateKey = ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Signer:
    """A holder's signing key and certificate, as the card would hold them."""

    key: PrivateKey
    certificate: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    def sign(self, data: bytes, raw_ecdsa: bool = False) -> bytes:
        """Sign as a PKCS#11 token would (ECDSA optionally as raw r||s)."""
        key = self.key
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key.sign(data)
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
        if not raw_ecdsa:
            return signature
        r, s = decode_dss_signature(signature)
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def make_signer(
    kind: str, holder_name: str, serial_number: str, self_signed: bool = False
) -> Signer:
    """A holder key and a certificate from the test holder CA (tests.receipt_ca) whose
    subject serialNumber names the holder; ``self_signed`` for one no CA vouches for."""
    key: PrivateKey
    if kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    if not self_signed:
        return Signer(key, issue(key.public_key(), holder_name, serial_number))
    now = datetime.now(UTC)
    cert = certificate(
        holder_subject(holder_name, serial_number), key.public_key(), key,
        now - timedelta(days=1), now + timedelta(days=3650),
    )
    return Signer(key, cert)


def evidence(expiry: date | None = None, personnummer: str | None = None) -> DocumentEvidence:
    """A passport check that the control process accepts."""
    return DocumentEvidence(
        doc_type=DocumentType.PASSPORT,
        expiry=expiry or date.today() + timedelta(days=900),
        birth_date=None,
        personnummer=personnummer,
        document_number="AA1234567",
        how={"personnummer": Provenance.SCANNED, "expiry": Provenance.SCANNED},
        photo_confirmed=True,
        age_confirmed=True,
    )


def receipt_for(card_number: str, activation_id: str) -> bytes:
    """The receipt text the holder signs."""
    return f"Kvittens: kort {card_number}, aktivering {activation_id}".encode()


def hook(portal: RunningPortal, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Call one of the portal's test hooks."""
    response = requests.post(f"{portal.url}/_test/{path}", json=body, timeout=5)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def arm_fault(portal: RunningPortal, kind: str, count: int = 1, **extra: Any) -> None:
    """Make the next ``count`` API calls fail or stall."""
    hook(portal, "faults", {"kind": kind, "count": count, **extra})


@contextmanager
def database(path: Path) -> Iterator[sqlite3.Connection]:
    """A read connection to the portal's database file."""
    conn = sqlite3.connect(str(path))
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    finally:
        conn.close()


def count(path: Path, sql: str, *args: Any) -> int:
    """One integer from the portal's database."""
    with database(path) as conn:
        return int(conn.execute(sql, args).fetchone()[0])
