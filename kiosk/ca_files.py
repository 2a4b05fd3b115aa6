"""The files of a CA directory (the demo card issuer's, hardware.sim.democa, and the
portal's issuing CA, portal.ca, share one): names only.

Naming them loads no cryptography: the demo portal's child process is started with
these paths before the kiosk has loaded (or made) the CA.
"""

from __future__ import annotations

from pathlib import Path

CA_FILES = ("root", "root-key", "issuing", "issuing-key")
REVOKED_FILE = "revoked.txt"
ROOT_CRL = "root.crl"
ISSUING_CRL = "issuing.crl"


def trust_files(directory: Path) -> tuple[Path, ...]:
    """What the portal needs to validate the demo cast's receipts: both CA certificates
    and both CRLs (``--receipt-trust`` each)."""
    return (
        directory / "root.pem",
        directory / "issuing.pem",
        directory / ROOT_CRL,
        directory / ISSUING_CRL,
    )
