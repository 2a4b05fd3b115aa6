"""Which kiosk is calling: client certificates enrolled to a kiosk id and a card office.

TLS proves only that a certificate comes from the kiosk CA. The portal also needs to
know *which* kiosk that is: each kiosk certificate is enrolled here (by its SHA-256
fingerprint) to one kiosk id and one card office, and can be revoked. A request with a
certificate that is not enrolled, or whose enrolment was revoked, is refused with 403,
whatever its body says. On plain-HTTP loopback (demo, tests) there is no certificate:
the portal then treats every caller as one configured kiosk, which must be enrolled too.

Command line (``kiosk-portal kiosk ...``)::

    kiosk-portal kiosk enrol  --db portal.db --cert kiosk.pem --office OFFICE [--kiosk-id ID]
    kiosk-portal kiosk revoke --db portal.db (--cert kiosk.pem | --kiosk-id ID)
    kiosk-portal kiosk list   --db portal.db
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from portal import db
from portal.clock import iso

KIOSK_ID_MAX = 128


@dataclass(frozen=True)
class Kiosk:
    """An enrolled kiosk: who is calling, and the card office it acts for."""

    kiosk_id: str
    card_office: str


class EnrolmentError(ValueError):
    """An enrolment or revocation that cannot be done (message for the operator)."""


def load_certificate(data: bytes) -> x509.Certificate:
    """A certificate from PEM or DER bytes (EnrolmentError if neither)."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise EnrolmentError(f"not a certificate: {exc}") from exc


def fingerprint(cert: x509.Certificate) -> str:
    """The SHA-256 fingerprint of the certificate's DER encoding, hex."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def pem_fingerprint(pem: str) -> str:
    """The fingerprint of a PEM certificate as TLS handed it over."""
    return fingerprint(x509.load_pem_x509_certificate(pem.encode("ascii")))


def _common_name(cert: x509.Certificate) -> str | None:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def _check_kiosk_id(kiosk_id: str) -> str:
    if not kiosk_id or len(kiosk_id) > KIOSK_ID_MAX or not kiosk_id.isprintable():
        raise EnrolmentError(f"kiosk id must be 1-{KIOSK_ID_MAX} printable characters")
    return kiosk_id


def ensure_kiosk(conn: sqlite3.Connection, kiosk_id: str, card_office: str,
                 now: datetime) -> None:
    """Record a kiosk and its card office; a kiosk never moves to another office silently."""
    _check_kiosk_id(kiosk_id)
    if not card_office.strip():
        raise EnrolmentError("the card office must not be empty")
    row = conn.execute(
        "SELECT card_office FROM kiosks WHERE kiosk_id = ?", (kiosk_id,)
    ).fetchone()
    if row is None:
        conn.execute(
            "INSERT INTO kiosks(kiosk_id, card_office, enrolled_at) VALUES (?, ?, ?)",
            (kiosk_id, card_office, iso(now)),
        )
    elif row["card_office"] != card_office:
        raise EnrolmentError(
            f"kiosk {kiosk_id} belongs to card office {row['card_office']}; "
            "revoke it and enrol it under a new id to move it"
        )


def enrol(
    conn: sqlite3.Connection,
    cert_bytes: bytes,
    card_office: str,
    kiosk_id: str | None = None,
    now: datetime | None = None,
) -> tuple[Kiosk, str]:
    """Enrol a kiosk certificate (kiosk id defaults to its common name); return the kiosk
    and the fingerprint. Enrolling the same certificate again changes nothing; a revoked
    certificate stays revoked (a new one must be issued)."""
    moment = now or datetime.now(UTC)
    cert = load_certificate(cert_bytes)
    kiosk = kiosk_id or _common_name(cert)
    if not kiosk:
        raise EnrolmentError("the certificate has no common name; give --kiosk-id")
    sha = fingerprint(cert)
    with db.transaction(conn):
        existing = conn.execute(
            "SELECT kiosk_id, revoked_at FROM kiosk_certs WHERE sha256 = ?", (sha,)
        ).fetchone()
        if existing is not None:
            if existing["revoked_at"] is not None:
                raise EnrolmentError("this certificate was revoked; issue a new one")
            if existing["kiosk_id"] != kiosk:
                raise EnrolmentError(
                    f"this certificate is enrolled to kiosk {existing['kiosk_id']}"
                )
        ensure_kiosk(conn, kiosk, card_office, moment)
        if existing is None:
            conn.execute(
                "INSERT INTO kiosk_certs(sha256, kiosk_id, subject, not_after, enrolled_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (sha, kiosk, cert.subject.rfc4514_string(),
                 iso(cert.not_valid_after_utc), iso(moment)),
            )
    return Kiosk(kiosk, card_office), sha


def revoke(
    conn: sqlite3.Connection,
    *,
    cert_bytes: bytes | None = None,
    kiosk_id: str | None = None,
    now: datetime | None = None,
) -> int:
    """Revoke one certificate, or every certificate of a kiosk; the number revoked."""
    moment = iso(now or datetime.now(UTC))
    with db.transaction(conn):
        if cert_bytes is not None:
            sha = fingerprint(load_certificate(cert_bytes))
            cursor = conn.execute(
                "UPDATE kiosk_certs SET revoked_at = ? WHERE sha256 = ? AND revoked_at IS NULL",
                (moment, sha),
            )
        elif kiosk_id is not None:
            cursor = conn.execute(
                "UPDATE kiosk_certs SET revoked_at = ? WHERE kiosk_id = ? AND revoked_at IS NULL",
                (moment, kiosk_id),
            )
        else:
            raise EnrolmentError("name a certificate or a kiosk id to revoke")
        return cursor.rowcount


def by_fingerprint(conn: sqlite3.Connection, sha: str) -> Kiosk | None:
    """The kiosk an enrolled, unrevoked certificate belongs to."""
    row = conn.execute(
        "SELECT k.kiosk_id, k.card_office FROM kiosk_certs c JOIN kiosks k USING (kiosk_id) "
        "WHERE c.sha256 = ? AND c.revoked_at IS NULL",
        (sha,),
    ).fetchone()
    return Kiosk(row["kiosk_id"], row["card_office"]) if row is not None else None


def by_id(conn: sqlite3.Connection, kiosk_id: str) -> Kiosk | None:
    """An enrolled kiosk by id (the plain-HTTP loopback identity)."""
    row = conn.execute(
        "SELECT kiosk_id, card_office FROM kiosks WHERE kiosk_id = ?", (kiosk_id,)
    ).fetchone()
    return Kiosk(row["kiosk_id"], row["card_office"]) if row is not None else None


def listing(conn: sqlite3.Connection) -> list[dict[str, str | None]]:
    """Every enrolled certificate with its kiosk, office and state."""
    rows = conn.execute(
        "SELECT k.kiosk_id, k.card_office, c.sha256, c.subject, c.not_after, c.enrolled_at, "
        "c.revoked_at FROM kiosks k LEFT JOIN kiosk_certs c USING (kiosk_id) "
        "ORDER BY k.kiosk_id, c.enrolled_at"
    ).fetchall()
    return [dict(row) for row in rows]


def build_parser(prog: str = "kiosk-portal kiosk") -> argparse.ArgumentParser:
    """The ``kiosk`` sub-commands."""
    parser = argparse.ArgumentParser(prog=prog, description="Enrol and revoke kiosks.")
    sub = parser.add_subparsers(dest="action", required=True)
    enrol_p = sub.add_parser("enrol", help="enrol a kiosk's client certificate")
    enrol_p.add_argument("--db", required=True, help="the portal's SQLite database")
    enrol_p.add_argument("--cert", required=True, help="the kiosk's certificate (PEM or DER)")
    enrol_p.add_argument("--office", required=True, help="the card office the kiosk serves")
    enrol_p.add_argument("--kiosk-id", default=None, help="default: the certificate's CN")
    revoke_p = sub.add_parser("revoke", help="revoke a certificate or all of a kiosk's")
    revoke_p.add_argument("--db", required=True)
    which = revoke_p.add_mutually_exclusive_group(required=True)
    which.add_argument("--cert", help="revoke this certificate")
    which.add_argument("--kiosk-id", help="revoke every certificate of this kiosk")
    list_p = sub.add_parser("list", help="enrolled kiosks and certificates")
    list_p.add_argument("--db", required=True)
    return parser


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise EnrolmentError(f"cannot read {path}: {exc.strerror}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    """``kiosk-portal kiosk enrol|revoke|list``; 0 done, 1 refused, 2 usage."""
    args = build_parser().parse_args(argv)
    try:
        db.initialise(args.db)
        conn = db.connect(args.db)
        try:
            if args.action == "enrol":
                kiosk, sha = enrol(conn, _read(args.cert), args.office, args.kiosk_id)
                print(f"enrolled {kiosk.kiosk_id} ({kiosk.card_office}) sha256:{sha}")
            elif args.action == "revoke":
                named = _read(args.cert) if args.cert else None
                count = revoke(conn, cert_bytes=named, kiosk_id=args.kiosk_id)
                print(f"revoked {count} certificate(s)")
                if count == 0:
                    return 1
            else:
                for row in listing(conn):
                    state = "revoked " + str(row["revoked_at"]) if row["revoked_at"] else "active"
                    cert = f"sha256:{row['sha256']} {row['subject']}" if row["sha256"] else "-"
                    print(f"{row['kiosk_id']}\t{row['card_office']}\t{cert}\t"
                          f"{state if row['sha256'] else 'no certificate'}")
        finally:
            conn.close()
    except (EnrolmentError, sqlite3.Error, OSError) as exc:
        print(f"kiosk-portal kiosk: {exc}", file=sys.stderr)
        return 1
    return 0
