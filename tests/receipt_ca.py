"""A holder CA for tests: receipts are accepted only from certificates that chain to it.

One demo-shaped CA (root, issuing CA, CRLs) per test process, in a temporary directory
removed at exit. ``issue`` certifies any public key (RSA, EC, Ed25519) for a holder, so
tests can cover every signature algorithm with a chain the portal validates.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes
from cryptography.x509.oid import NameOID

from hardware.sim.adminsigner import CastStatementSigner
from hardware.sim.democa import DemoCA, PersonCredentials, trust_files
from kiosk.demo_cast import DEMO_KIOSK_ID, DEMO_OFFICE, demo_holders
from kiosk.handout import Holder
from kiosk.model import DocumentEvidence, TrustLevel
from kiosk.pki import certificate


@functools.cache
def _ca() -> tuple[DemoCA, Path]:
    directory = Path(tempfile.mkdtemp(prefix="receipt-ca-"))
    atexit.register(shutil.rmtree, directory, True)
    return DemoCA.load_or_create(directory, date.today()), directory


def receipt_trust() -> tuple[Path, ...]:
    """The files a test portal needs (``receipt_trust=``) to accept these holders."""
    return trust_files(_ca()[1])


def revoke(cert: x509.Certificate) -> None:
    """Revoke a holder certificate: the CRLs the portal reads change at once."""
    ca, directory = _ca()
    ca.revoke(directory, cert, date.today())


def issue(
    public_key: CertificateIssuerPublicKeyTypes,
    holder_name: str,
    serial_number: str,
    *,
    valid_days: int = 3650,
    alt_names: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    """A holder certificate from the test issuing CA whose serialNumber names the holder."""
    ca, _ = _ca()
    now = datetime.now(UTC)
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=False, path_length=None), True),
    ]
    if alt_names:
        extensions.append((x509.SubjectAlternativeName(alt_names), False))
    return certificate(
        holder_subject(holder_name, serial_number), public_key, ca.issuing.key,
        now - timedelta(days=1), now + timedelta(days=valid_days),
        issuer=ca.issuing.cert.subject, extensions=extensions,
    )


def holder_subject(holder_name: str, serial_number: str) -> x509.Name:
    """CN and serialNumber: the subject of a test holder's certificate."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, holder_name),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, serial_number),
        ]
    )


@functools.cache
def admin_cards(kiosk_id: str = DEMO_KIOSK_ID, card_office: str = DEMO_OFFICE
                ) -> CastStatementSigner:
    """Administrators' cards from the same test CA: their signed hand-out statements
    (kiosk.handout) verify at a portal given ``receipt_trust()``, for that kiosk."""
    return CastStatementSigner(_ca()[0], date.today(), kiosk_id, card_office)


def admin_statement(
    action: str,
    card_number: str,
    admin_hsa_id: str,
    *,
    evidence: DocumentEvidence | None = None,
    reason: str | None = None,
    kiosk_id: str = DEMO_KIOSK_ID,
    card_office: str = DEMO_OFFICE,
) -> dict[str, Any]:
    """A statement for a raw request body (the holder as the demo cast's record names them)."""
    holder = next((h for h in demo_holders(date.today()) if h.card_number == card_number),
                  None)
    named = Holder(holder.name, holder.hsa_id) if holder is not None else None
    return dict(admin_cards(kiosk_id, card_office).statement(
        action, card_number, admin_hsa_id, datetime.now(UTC), named, evidence, reason
    ))


def issue_admin(hsa_id: str, personnummer: str) -> PersonCredentials:
    """An administrator's card credentials (authentication and signature) from the test CA."""
    ca, _ = _ca()
    return ca.issue_person("Admin", "Kortsson", hsa_id, personnummer, TrustLevel.LOA3,
                           date.today())
