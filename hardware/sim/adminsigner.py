"""Signed hand-out statements for any administrator, with cards a demo CA issues them.

For tests and benchmarks that drive the portal without a kiosk session: each HSA-id
gets an authentication certificate from ``ca`` on first use, whose key signs a session
delegation as the card would at sign-in (kiosk.handout). The portal must trust ``ca``.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import date, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from hardware.sim.democa import DemoCA
from kiosk.demo_cast import DEMO_KIOSK_ID, DEMO_OFFICE
from kiosk.handout import AdminSignature, HandOutSigner, Holder
from kiosk.model import DocumentEvidence, TrustLevel

SESSION_S = 8 * 3600


class CastStatementSigner:
    """A StatementSigner for whichever administrator a request names."""

    def __init__(
        self,
        ca: DemoCA,
        today: date,
        kiosk_id: str = DEMO_KIOSK_ID,
        card_office: str = DEMO_OFFICE,
    ) -> None:
        self.ca, self.today = ca, today
        self.kiosk_id, self.card_office = kiosk_id, card_office
        self._signers: dict[str, HandOutSigner] = {}
        self._lock = threading.Lock()

    def signer_for(self, hsa_id: str, now: datetime) -> HandOutSigner:
        """The administrator's session signer, its delegation signed by their card's key."""
        with self._lock:
            signer = self._signers.get(hsa_id)
            if signer is not None:
                return signer
            creds = self.ca.issue_person(
                "Test", "Administratör", hsa_id, "197001012384", TrustLevel.LOA3, self.today
            )
            signer = HandOutSigner(
                self.kiosk_id, self.card_office, SESSION_S,
                lambda value: hashlib.sha256(value.encode()).hexdigest()[:32],
            )
            delegation = signer.delegation(now)
            auth = creds.authentication
            signature = auth.key.sign(delegation, padding.PKCS1v15(), hashes.SHA256())
            chain = (creds.issuing_ca.public_bytes(Encoding.DER),)
            signer.signed(delegation, AdminSignature(auth.cert_der, signature, chain))
            self._signers[hsa_id] = signer
            return signer

    def statement(
        self,
        action: str,
        card_number: str,
        admin_hsa_id: str,
        now: datetime,
        holder: Holder | None = None,
        evidence: DocumentEvidence | None = None,
        reason: str | None = None,
    ) -> dict[str, str | list[str]]:
        """The statement, signed with that administrator's session key."""
        signer = self.signer_for(admin_hsa_id, now)
        return signer.statement(action, card_number, admin_hsa_id, now, holder, evidence, reason)
