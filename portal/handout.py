"""Verification of the administrator's signed hand-out statement (kiosk/handout.py).

An activation, unlock or block is accepted only with a statement that
1. carries the administrator's authentication certificate, which chains to the card
   issuer's CA in the portal's trust files and is not revoked (the same check as a
   holder's receipt: pyhanko-certvalidator, CRLs required) and names the HSA-id the
   request names;
2. carries a session delegation signed by that certificate's key, issued to the kiosk
   the client certificate is enrolled to, for its card office, valid at the statement's
   time;
3. is signed by the delegation's session key, says what the request does (action, card
   number, administrator, the holder on record, the block reason), was made within
   ``STATEMENT_MAX_AGE`` of now, and whose nonce the portal has never seen;
4. names an administrator the portal knows, at this card office, with a current training.
Everything is refused with 403 and a reason code (503 when the portal cannot tell
revocation now); the nonce is stored in the same transaction as the change, so a
replayed statement is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kiosk.handout import DELEGATION_TYPE, STATEMENT_TYPE
from portal.clock import iso, parse_iso
from portal.receipts import (
    ReceiptInvalid,
    certificate_identifiers,
    check_chain,
    load_certificate,
    load_trust_files,
    verify_signature,
)

STATEMENT_MAX_AGE = timedelta(minutes=10)  # activation and unlock: sent as the admin acts
BLOCK_STATEMENT_MAX_AGE = timedelta(days=30)  # a block made offline is sent when it can be
CLOCK_SKEW = timedelta(minutes=2)


class StatementRefused(Exception):
    """The statement does not prove the administrator's hand-out; ``reason`` is the code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Expected:
    """What the request does, which the statement must say."""

    action: str
    card_number: str
    admin_hsa_id: str
    holder_name: str
    holder_hsa_id: str
    kiosk_id: str  # from the client certificate (portal/kiosks.py)
    card_office: str
    reason: str | None = None


@dataclass(frozen=True)
class VerifiedStatement:
    """An accepted statement: who signed, and the statement's digest and nonce."""

    hsa_id: str
    signer_subject: str
    digest: str
    nonce: str
    kiosk_id: str
    card_office: str
    reader_mode: str


def _b64(envelope: dict[str, Any], name: str) -> bytes:
    value = envelope.get(name)
    if not isinstance(value, str) or not value:
        raise StatementRefused("statement_invalid", f"admin_statement.{name} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise StatementRefused("statement_invalid",
                               f"admin_statement.{name} is not base64") from None


def _json(data: bytes, what: str) -> dict[str, Any]:
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise StatementRefused("statement_invalid", f"the {what} is not JSON") from None
    if not isinstance(parsed, dict):
        raise StatementRefused("statement_invalid", f"the {what} is not a JSON object")
    return parsed


def _time(data: dict[str, Any], name: str, what: str) -> datetime:
    try:
        moment = parse_iso(str(data.get(name)))
    except (ValueError, TypeError):
        raise StatementRefused("statement_invalid", f"the {what}'s {name} is not a time") from None
    if moment.tzinfo is None:
        raise StatementRefused("statement_invalid", f"the {what}'s {name} has no time zone")
    return moment


def _hsa_id_of(cert_texts: list[str], wanted: str) -> bool:
    wanted = wanted.upper()
    return any(text.strip().upper() == wanted for text in cert_texts)


def verify_statement(
    envelope: Any,
    expected: Expected,
    trust: Sequence[str | Path],
    now: datetime,
) -> VerifiedStatement:
    """Check signatures, chain, kiosk, time and content; StatementRefused otherwise."""
    if not isinstance(envelope, dict):
        raise StatementRefused("statement_missing", "the request carries no admin_statement "
                               "signed with the administrator's card")
    cert_der = _b64(envelope, "certificate")
    delegation_bytes = _b64(envelope, "delegation")
    statement_bytes = _b64(envelope, "statement")
    chain_raw = envelope.get("chain") or []
    if not isinstance(chain_raw, list) or len(chain_raw) > 8:
        raise StatementRefused("statement_invalid", "admin_statement.chain is not a short list")
    chain = [_b64({"c": c}, "c") for c in chain_raw]
    try:
        cert = load_certificate(cert_der)
    except ReceiptInvalid as exc:
        raise StatementRefused("statement_invalid", exc.detail) from None
    # 1. the administrator's certificate: chain, and the HSA-id the request names
    if not _hsa_id_of(certificate_identifiers(cert), expected.admin_hsa_id):
        raise StatementRefused("statement_wrong_admin", "the administrator's certificate "
                               f"does not name {expected.admin_hsa_id}")
    delegation = _json(delegation_bytes, "delegation")
    statement = _json(statement_bytes, "statement")
    at = _time(statement, "at", "statement")
    material = load_trust_files(trust)  # ReceiptTrustUnavailable: the portal's fault
    material.intermediates.extend(_intermediates(chain))
    try:
        check_chain(cert, material, at if at <= now else now)
    except ReceiptInvalid as exc:
        if exc.reason == "revocation_unknown":
            raise
        raise StatementRefused("statement_untrusted", f"the administrator's certificate: "
                               f"{exc.detail}") from None
    # 2. the delegation: signed by the card, for this kiosk, covering the statement's time
    try:
        verify_signature(cert, delegation_bytes, _b64(envelope, "delegation_signature"))
    except ReceiptInvalid:
        raise StatementRefused("statement_bad_signature", "the session delegation is not "
                               "signed by the administrator's card") from None
    if delegation.get("type") != DELEGATION_TYPE:
        raise StatementRefused("statement_invalid", "the delegation's type is not known")
    issued, expires = (_time(delegation, "issued_at", "delegation"),
                       _time(delegation, "expires_at", "delegation"))
    if not issued - CLOCK_SKEW <= at <= expires:
        raise StatementRefused("statement_expired", "the statement was made outside the "
                               "administrator's session")
    kiosk_id = str(delegation.get("kiosk_id", ""))
    if statement.get("kiosk_id") != kiosk_id:
        raise StatementRefused("statement_mismatch", "the statement and the delegation "
                               "name different kiosks")
    if kiosk_id != expected.kiosk_id:
        raise StatementRefused("statement_mismatch", "the statement was made at another kiosk")
    if delegation.get("card_office") != expected.card_office:
        raise StatementRefused("statement_mismatch", "the administrator's session was opened "
                               "for another card office")
    # 3. the statement: signed with the session key, fresh, and saying what the request does
    try:
        key = serialization.load_der_public_key(
            base64.b64decode(str(delegation.get("session_key", "")), validate=True))
    except (ValueError, binascii.Error, TypeError):
        raise StatementRefused("statement_invalid", "the delegation's session key "
                               "cannot be read") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise StatementRefused("statement_invalid", "the session key is not an EC key")
    try:
        key.verify(_b64(envelope, "statement_signature"), statement_bytes,
                   ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise StatementRefused("statement_bad_signature", "the statement is not signed with "
                               "the session key the administrator's card vouched for") from None
    if statement.get("type") != STATEMENT_TYPE:
        raise StatementRefused("statement_invalid", "the statement's type is not known")
    max_age = BLOCK_STATEMENT_MAX_AGE if expected.action == "block" else STATEMENT_MAX_AGE
    if not now - max_age <= at <= now + CLOCK_SKEW:
        raise StatementRefused("statement_expired", "the statement is too old or from "
                               "the future")
    holder = statement.get("holder") or {}
    said = {
        "action": statement.get("action"),
        "card_number": statement.get("card_number"),
        "admin_hsa_id": str(statement.get("admin_hsa_id", "")).upper(),
        "holder": (holder.get("name"), holder.get("hsa_id")) if isinstance(holder, dict) else None,
        "reason": statement.get("reason"),
    }
    wanted = {
        "action": expected.action,
        "card_number": expected.card_number,
        "admin_hsa_id": expected.admin_hsa_id.upper(),
        "holder": (expected.holder_name, expected.holder_hsa_id),
        "reason": expected.reason,
    }
    for name, value in wanted.items():
        if said[name] != value:
            raise StatementRefused("statement_mismatch", f"the statement's {name} is not "
                                   "what the request does")
    nonce = statement.get("nonce")
    if not isinstance(nonce, str) or not 16 <= len(nonce) <= 64:
        raise StatementRefused("statement_invalid", "the statement has no nonce")
    return VerifiedStatement(
        hsa_id=expected.admin_hsa_id,
        signer_subject=cert.subject.rfc4514_string(),
        digest=hashlib.sha256(statement_bytes).hexdigest(),
        nonce=nonce,
        kiosk_id=kiosk_id,
        card_office=str(delegation.get("card_office", "")),
        reader_mode=str(delegation.get("reader_mode", "")),
    )


def _intermediates(chain: list[bytes]) -> list[asn1_x509.Certificate]:
    """The CA certificates the card carries (help for path building, never trusted)."""
    found = []
    for der in chain:
        try:
            cert = asn1_x509.Certificate.load(der)
            cert.native  # noqa: B018 -- parse now
        except (ValueError, TypeError):
            raise StatementRefused("statement_invalid", "a chain certificate cannot be "
                                   "parsed") from None
        found.append(cert)
    return found


def record_statement(conn: sqlite3.Connection, verified: VerifiedStatement, now: datetime,
                     action: str, card_number: str) -> None:
    """Keep the statement's nonce (refusing a replay) in the caller's transaction."""
    try:
        conn.execute(
            "INSERT INTO statements(nonce, digest, hsa_id, kiosk_id, action, card_number, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (verified.nonce, verified.digest, verified.hsa_id, verified.kiosk_id, action,
             card_number, iso(now)),
        )
    except sqlite3.IntegrityError:
        raise StatementRefused("statement_replayed", "this statement was already used") from None
