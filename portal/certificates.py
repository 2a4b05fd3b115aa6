"""The portal's certificate rules: issuance from an on-card key's request, the status of
a card's certificates, revocation, and PIN/PUK letter orders.

Like portal.service, every function runs inside the caller's transaction and returns a
JSON-ready dict or raises ``service.ApiError``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from kiosk.rules.card import CERTIFICATE_WARNING_MONTHS, add_months, certificate_expires_soon
from portal.ca import IssuingCA, RequestInvalid, verify_request
from portal.clock import PortalClock, iso, parse_iso
from portal.kiosks import Kiosk
from portal.receipts import ReceiptInvalid, check_holder
from portal.service import (
    ApiError,
    card_row,
    check_evidence,
    enforce_deadlines,
    record_event,
    require_authorised_admin,
)

KINDS = ("authentication", "signature", "additional")
DEFAULT_ORGANISATION = "Region Demo"  # the subject O of a card's own certificates
LETTER_DELIVERY = timedelta(days=5)
SENT_TO = "registered_address"  # the holder's folkbokföringsadress, from the register


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _active_card(conn: sqlite3.Connection, card_number: str, now: datetime) -> sqlite3.Row:
    card = enforce_deadlines(conn, card_row(conn, card_number), now)
    if card["status"] == "Spärrad":
        raise ApiError(409, "blocked", "the card is blocked (Spärrad)")
    if card["status"] != "Aktiv":
        raise ApiError(422, "not_eligible", "certificates and letters are for an active card")
    return card


def certificate_json(row: sqlite3.Row, now: datetime, chain: list[bytes]) -> dict[str, Any]:
    """A certificate row as the API's CertificateBody."""
    cert = x509.load_der_x509_certificate(bytes(row["der"]))
    not_after = parse_iso(row["not_after"])
    state = row["state"]
    if state == "valid" and not_after < now:
        state = "expired"
    return {
        "serial": row["serial"],
        "card_number": row["card_number"],
        "kind": row["kind"],
        "subject_id": row["subject_id"],
        "organisation": row["organisation"],
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "not_before": row["not_before"],
        "not_after": row["not_after"],
        "days_left": max((not_after - now).days, 0),
        "expires_soon": state == "valid" and certificate_expires_soon(not_after, now),
        "state": state,
        "replaces": row["replaces"],
        "certificate": _b64(bytes(row["der"])),
        "chain": [_b64(der) for der in chain],
    }


def _chain(ca: IssuingCA) -> list[bytes]:
    return [ca.issuing.cert.public_bytes(serialization.Encoding.DER)]


def issue_certificate(
    conn: sqlite3.Connection,
    clock: PortalClock,
    ca: IssuingCA,
    card_number: str,
    body: dict[str, Any],
    kiosk: Kiosk,
) -> dict[str, Any]:
    """Issue a SITHS certificate for a request signed by a key on the holder's card.

    Checks the administrator's authorisation, the card (Aktiv, SITHS), that the request's
    signature verifies and names the holder, that the key is new for this card, and that
    the card keeps one certificate per kind and subject (one additional certificate in
    all) unless ``replaces`` names the one it takes over.
    """
    now = clock.now()
    admin = str(body["admin_hsa_id"])
    require_authorised_admin(conn, admin, now.date(), kiosk)
    card = _active_card(conn, card_number, now)
    kind, subject_id = str(body["kind"]), str(body["subject_id"])
    try:
        der = base64.b64decode(str(body["request"]), validate=True)
        request = verify_request(der)
    except RequestInvalid as exc:
        raise ApiError(422, exc.reason, exc.detail) from None
    except ValueError:
        raise ApiError(400, "invalid_request", "request is not valid base64") from None
    if request.serial_number not in (None, card["hsa_id"], card["personnummer"]):
        raise ApiError(
            422, "request_mismatch", "the request names someone other than the card's holder"
        )
    valid = conn.execute(
        "SELECT * FROM certificates WHERE card_number = ? AND state = 'valid'", (card_number,)
    ).fetchall()
    if any(row["key_sha256"] == request.key_sha256 for row in valid):
        raise ApiError(409, "key_reused", "this key pair already has a certificate: make a new one")
    replaces = body.get("replaces")
    if replaces is not None:
        old = next((r for r in valid if r["serial"] == replaces and r["kind"] == kind), None)
        if old is None:
            raise ApiError(
                409, "replaced_certificate_unknown", f"no valid {kind} certificate {replaces}"
            )
    same = [
        r
        for r in valid
        if r["kind"] == kind
        and (kind == "additional" or r["subject_id"] == subject_id)
        and r["serial"] != replaces
    ]
    if same:
        reason = "additional_certificate_present" if kind == "additional" else "certificate_present"
        raise ApiError(
            409, reason, f"the card has a {kind} certificate ({same[0]['serial']}): replace it"
        )
    organisation = str(body.get("organisation") or DEFAULT_ORGANISATION)
    valid_until = date.fromisoformat(card["valid_until"]) if card["valid_until"] else None
    cert = ca.issue(
        request,
        card["holder_name"],
        card["hsa_id"],
        card["personnummer"],
        int(card["trust_level"]),
        subject_id,
        kind == "signature",
        now,
        valid_until,
        organisation,
    )
    serial = format(cert.serial_number, "x")
    conn.execute(
        "INSERT INTO certificates(serial, card_number, kind, subject_id, organisation, "
        "admin_hsa_id, key_sha256, der, not_before, not_after, issued_at, replaces, state) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'valid')",
        (
            serial, card_number, kind, subject_id, organisation, admin, request.key_sha256,
            cert.public_bytes(serialization.Encoding.DER),
            iso(cert.not_valid_before_utc), iso(cert.not_valid_after_utc), iso(now), replaces,
        ),
    )
    if replaces is not None:
        conn.execute(
            "UPDATE certificates SET state = 'replaced', ended_at = ?, ended_reason = ? "
            "WHERE serial = ?",
            (iso(now), f"replaced by {serial}", replaces),
        )
    record_event(conn, now, card_number, "certificate_issued", admin, f"{kind} {serial}")
    return _certificate(conn, serial, now, ca)


def _certificate(
    conn: sqlite3.Connection, serial: str, now: datetime, ca: IssuingCA | None
) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM certificates WHERE serial = ?", (serial,)).fetchone()
    return certificate_json(row, now, _chain(ca) if ca else [])


def card_certificates(
    conn: sqlite3.Connection, clock: PortalClock, ca: IssuingCA | None, card_number: str
) -> dict[str, Any]:
    """Every certificate the portal issued for the card, with state and days to expiry."""
    now = clock.now()
    card_row(conn, card_number)
    rows = conn.execute(
        "SELECT * FROM certificates WHERE card_number = ? ORDER BY issued_at, serial",
        (card_number,),
    ).fetchall()
    chain = _chain(ca) if ca else []
    return {
        "card_number": card_number,
        "warn_from": add_months(now.date(), CERTIFICATE_WARNING_MONTHS).isoformat(),
        "certificates": [certificate_json(row, now, chain) for row in rows],
    }


def revoke_certificate(
    conn: sqlite3.Connection,
    clock: PortalClock,
    ca: IssuingCA | None,
    card_number: str,
    serial: str,
    body: dict[str, Any],
    kiosk: Kiosk,
) -> dict[str, Any]:
    """Revoke one of the card's certificates (an additional one removed from the card)."""
    now = clock.now()
    admin = str(body["admin_hsa_id"])
    require_authorised_admin(conn, admin, now.date(), kiosk)
    card_row(conn, card_number)
    row = conn.execute(
        "SELECT * FROM certificates WHERE serial = ? AND card_number = ?", (serial, card_number)
    ).fetchone()
    if row is None and body.get("certificate") and ca is not None:
        _adopt(conn, ca, card_row(conn, card_number), serial, str(body["certificate"]), admin,
               now)
        row = conn.execute("SELECT * FROM certificates WHERE serial = ?", (serial,)).fetchone()
    if row is None:
        raise ApiError(404, "certificate_not_found", f"no certificate {serial} on this card")
    if row["state"] != "revoked":
        conn.execute(
            "UPDATE certificates SET state = 'revoked', ended_at = ?, ended_reason = ? "
            "WHERE serial = ?",
            (iso(now), str(body["reason"]), serial),
        )
        record_event(conn, now, card_number, "certificate_revoked", admin, serial)
    return _certificate(conn, serial, now, ca)


def _adopt(
    conn: sqlite3.Connection,
    ca: IssuingCA,
    card: sqlite3.Row,
    serial: str,
    encoded: str,
    admin: str,
    now: datetime,
) -> None:
    """Put on record a certificate this CA issued that the portal has no row for (a card's
    first certificates, made with the card), presented by the kiosk to revoke it: it must
    be this serial, issued by this CA (its signature verifies) and name the card's holder."""
    try:
        der = base64.b64decode(encoded, validate=True)
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        raise ApiError(422, "bad_certificate", "the certificate cannot be parsed") from None
    if format(cert.serial_number, "x") != serial:
        raise ApiError(422, "certificate_mismatch", "the certificate has another serial")
    try:
        cert.verify_directly_issued_by(ca.issuing.cert)
    except (ValueError, TypeError, InvalidSignature):
        raise ApiError(
            422, "untrusted_certificate", "the certificate was not issued by this CA"
        ) from None
    try:
        check_holder(cert, card["hsa_id"], card["personnummer"])
    except ReceiptInvalid as exc:
        raise ApiError(422, exc.reason, exc.detail) from None
    if conn.execute("SELECT 1 FROM certificates WHERE serial = ?", (serial,)).fetchone():
        raise ApiError(404, "certificate_not_found", f"certificate {serial} is another card's")
    names = cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
    organisation = str(names[0].value) if names else DEFAULT_ORGANISATION
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        signature = usage.content_commitment
    except x509.ExtensionNotFound:
        signature = False
    kind = "signature" if signature else (
        "authentication" if organisation == DEFAULT_ORGANISATION else "additional"
    )
    serials = cert.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)
    named = serials[0].value if serials else None
    subject_id = "personnummer" if named == card["personnummer"] else "hsa_id"
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    conn.execute(
        "INSERT INTO certificates(serial, card_number, kind, subject_id, organisation, "
        "admin_hsa_id, key_sha256, der, not_before, not_after, issued_at, replaces, state) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 'valid')",
        (
            serial, card["card_number"], kind, subject_id, organisation, admin,
            hashlib.sha256(spki).hexdigest(), der, iso(cert.not_valid_before_utc),
            iso(cert.not_valid_after_utc), iso(cert.not_valid_before_utc),
        ),
    )
    record_event(conn, now, card["card_number"], "certificate_adopted", admin, f"{kind} {serial}")


def order_pin_letter(
    conn: sqlite3.Connection,
    clock: PortalClock,
    card_number: str,
    body: dict[str, Any],
    kiosk: Kiosk,
) -> dict[str, Any]:
    """Order a PIN/PUK letter to the holder's registered address, after an ID check."""
    now = clock.now()
    admin = str(body["admin_hsa_id"])
    require_authorised_admin(conn, admin, now.date(), kiosk)
    card = _active_card(conn, card_number, now)
    check_evidence(body["evidence"], card, now.date())
    pending = conn.execute(
        "SELECT * FROM pin_letters WHERE card_number = ? AND expected_by > ?",
        (card_number, iso(now)),
    ).fetchone()
    if pending is not None:
        raise ApiError(
            409,
            "letter_already_ordered",
            f"a PIN/PUK letter was ordered {pending['ordered_at']}, due {pending['expected_by']}",
        )
    order_id = str(uuid.uuid4())
    expected = now + LETTER_DELIVERY
    conn.execute(
        "INSERT INTO pin_letters(id, card_number, admin_hsa_id, ordered_at, expected_by, "
        "evidence) VALUES (?, ?, ?, ?, ?, ?)",
        (order_id, card_number, admin, iso(now), iso(expected),
         json.dumps(body["evidence"], sort_keys=True)),
    )
    record_event(conn, now, card_number, "pin_letter_ordered", admin, order_id)
    return {
        "order_id": order_id,
        "card_number": card_number,
        "ordered_at": iso(now),
        "expected_by": iso(expected),
        "sent_to": SENT_TO,
    }
