"""Shared builders for the outbox and audit tests."""

from __future__ import annotations

import base64
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kiosk.model import VisitKind, VisitResult

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def activation_result(
    n: int, card: str = "9752210000000001", deadline: datetime | None = None
) -> VisitResult:
    """An activation result as a visit would record it."""
    return VisitResult(
        kind=VisitKind.ACTIVATION,
        card_number=card,
        admin_hsa_id="SE2321000016-ADM1",
        idempotency_key=f"key-{n}",
        finished_at=T0,
        payload={
            "activation_id": f"act-{n}",
            "receipt": base64.b64encode(f"Kvittens {n}".encode()).decode(),
            "signature": base64.b64encode(b"sig").decode(),
            "certificate": base64.b64encode(b"cert").decode(),
            "evidence": '{"doc_type": "passport", "how": {"expiry": "scanned"}}',
        },
        deadline=deadline or T0 + timedelta(days=5),
    )


def rewrite_audit(db: Path, transform: object) -> None:
    """Replace the audit table's rows by ``transform(rows)``, bypassing the triggers."""
    conn = sqlite3.connect(db, isolation_level=None)
    rows = conn.execute(
        "SELECT seq, entry, prev_hash, hash, signature FROM audit ORDER BY rowid"
    ).fetchall()
    new_rows = transform(rows)  # type: ignore[operator]
    conn.execute("DROP TRIGGER audit_no_delete")
    conn.execute("DELETE FROM audit")
    conn.executemany(
        "INSERT INTO audit (seq, entry, prev_hash, hash, signature) VALUES (?, ?, ?, ?, ?)",
        new_rows,
    )
    conn.close()
