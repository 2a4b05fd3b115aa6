"""The administrator's signed hand-out statement (issue 13.2): what the portal is shown.

At sign-in the administrator's card signs, with its authentication key and in the same
PIN login that signs them in, a **session delegation**: a fresh P-256 public key made
for this session, the kiosk id and card office, the reader mode and a validity window
(at most ``ui.admin_session_timeout_s``). Each activation, unlock and block request then
carries a **hand-out statement** (card number, holder, document type, a keyed hash of the
document number, the checks made, time, kiosk, a nonce) signed with that session key,
together with the delegation, its card signature, the card's authentication certificate
and the CA certificates the card carries. The portal verifies the whole: the certificate's
chain to its card CA, the delegation's signature by the card, the statement's by the
session key, the time window, the kiosk, that the statement says what the request does,
that the nonce was never seen, and that the HSA-id is an authorised, trained
administrator (portal/handout.py).

The session key lives only in this process's memory and is dropped when the session
locks: with two readers the moment the administrator's card leaves its reader, with one
reader at the idle lock or sign-out. A stolen kiosk therefore holds no key that speaks
for an administrator once their session has ended. See docs/portal.md.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kiosk.errors import AdminNotAuthorised
from kiosk.model import DocumentEvidence

DELEGATION_TYPE = "siths-kiosk/admin-session/v1"
STATEMENT_TYPE = "siths-kiosk/hand-out/v1"
ACTIONS = ("activation", "unlock", "block")
READER_MODES = ("two_readers", "single_reader")


def canonical(data: Any) -> bytes:
    """The bytes that are signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def b64(data: bytes) -> str:
    """Standard base64 text."""
    return base64.b64encode(data).decode("ascii")


def iso_utc(moment: datetime) -> str:
    """An aware time as ISO 8601 (seconds)."""
    return moment.isoformat(timespec="seconds")


def evidence_checks(evidence: DocumentEvidence) -> list[str]:
    """The checks the administrator made, as names the portal records."""
    checks = [f"{fact}:{how.value}" for fact, how in sorted(evidence.how.items())]
    if evidence.photo_confirmed:
        checks.append("photo_confirmed")
    if evidence.age_confirmed:
        checks.append("age_confirmed")
    return checks


@dataclass(frozen=True)
class Holder:
    """The card's holder as the portal's record names them (the statement repeats it)."""

    name: str
    hsa_id: str


class StatementSigner(Protocol):
    """Makes the signed hand-out statement of one request (HandOutSigner; tests' stand-ins)."""

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
        """The envelope the portal verifies (see the module docstring)."""
        ...


@dataclass(frozen=True)
class AdminSignature:
    """What the administrator's card gave at sign-in: its authentication certificate, the
    signature over the delegation made with that certificate's key, and the CA
    certificates the card carries (for the portal's path building)."""

    certificate: bytes
    signature: bytes
    chain: tuple[bytes, ...] = ()


@dataclass
class _Session:
    key: ec.EllipticCurvePrivateKey
    delegation: bytes
    expires_at: datetime
    signed: AdminSignature | None = None


class HandOutSigner:
    """The kiosk's half: the session key, its delegation, and statements signed with it.

    Thread-safe: sign-in runs on an effect worker, the lock on the UI thread.
    """

    def __init__(
        self,
        kiosk_id: str,
        card_office: str,
        lifetime_s: int,
        pseudonym: Callable[[str], str],
        reader_mode: str = "single_reader",
    ) -> None:
        self.kiosk_id = kiosk_id
        self.card_office = card_office
        self.lifetime = timedelta(seconds=lifetime_s)
        self.pseudonym = pseudonym
        self.reader_mode = reader_mode if reader_mode in READER_MODES else "single_reader"
        self._lock = threading.Lock()
        self._pending: _Session | None = None
        self._session: _Session | None = None

    def delegation(self, now: datetime) -> bytes:
        """A fresh session key and the delegation bytes the card is to sign."""
        key = ec.generate_private_key(ec.SECP256R1())
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        expires = now + self.lifetime
        payload = canonical({
            "type": DELEGATION_TYPE,
            "kiosk_id": self.kiosk_id,
            "card_office": self.card_office,
            "reader_mode": self.reader_mode,
            "session_key": b64(public),
            "issued_at": iso_utc(now),
            "expires_at": iso_utc(expires),
            "nonce": secrets.token_hex(16),
        })
        with self._lock:
            self._pending = _Session(key, payload, expires)
        return payload

    def signed(self, delegation: bytes, signature: AdminSignature) -> None:
        """The card signed ``delegation``: its session key now speaks for the administrator."""
        with self._lock:
            pending = self._pending
            if pending is None or pending.delegation != delegation:
                return  # a sign-in that was abandoned meanwhile
            pending.signed = signature
            self._session, self._pending = pending, None

    def forget(self) -> None:
        """The session locked or ended: drop the key (nothing signed after this)."""
        with self._lock:
            self._session = None
            self._pending = None

    @property
    def active(self) -> bool:
        """Whether a signed session key is held."""
        with self._lock:
            return self._session is not None

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
        """The signed hand-out statement for one request; AdminNotAuthorised with no session."""
        with self._lock:
            session = self._session
        if session is None or session.signed is None or now > session.expires_at:
            raise AdminNotAuthorised("no_session_key", detail="the administrator's session "
                                     "has no signing key: sign in again with your card")
        document: dict[str, Any] | None = None
        if evidence is not None:
            number = evidence.document_number or ""
            document = {
                "doc_type": evidence.doc_type.value,
                "number_hash": (self.pseudonym(f"document:{evidence.doc_type.value}:{number}")
                                if number else None),
                "expiry": evidence.expiry.isoformat(),
            }
        body = canonical({
            "type": STATEMENT_TYPE,
            "action": action,
            "card_number": card_number,
            "admin_hsa_id": admin_hsa_id,
            "holder": ({"name": holder.name, "hsa_id": holder.hsa_id}
                       if holder is not None else None),
            "document": document,
            "checks": evidence_checks(evidence) if evidence is not None else [],
            "reason": reason,
            "kiosk_id": self.kiosk_id,
            "at": iso_utc(now),
            "nonce": secrets.token_hex(16),
        })
        signature = session.key.sign(body, ec.ECDSA(hashes.SHA256()))
        signed = session.signed
        return {
            "certificate": b64(signed.certificate),
            "chain": [b64(der) for der in signed.chain],
            "delegation": b64(session.delegation),
            "delegation_signature": b64(signed.signature),
            "statement": b64(body),
            "statement_signature": b64(signature),
        }
