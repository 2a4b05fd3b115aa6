"""The card work's notes: where the effect runner keeps what a crashed visit already got.

The runner writes a signed request and an issued certificate into the card work before
the flow sees them; the visit continuing that work reads them back under the same names
(kiosk/visit/key_jobs.py), so the card signs no second request and the portal issues
nothing twice.
"""

from __future__ import annotations


def request_note(key_id: bytes) -> str:
    """The card work's note holding the request signed for the key ``key_id``."""
    return f"request:{key_id.hex()}"


def issued_note(idempotency_key: str) -> str:
    """The card work's note holding the certificate issued under ``idempotency_key``."""
    return f"issued:{idempotency_key}"
