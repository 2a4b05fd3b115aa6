"""The certificate visits with the kiosk process SIGKILLed at each step boundary, on the
simulated SoftHSM2 card against the real reference portal; then the administrator runs
the visit again on the same card: it finishes, the card's key pairs and the portal's
certificates are made once (the key ids and idempotency keys survived the crash), the
result reaches the portal, and during a renewal the card never lacks a working
authentication certificate."""

from __future__ import annotations

import signal
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kiosk import demo_cast
from portal.server import RunningPortal
from tests.integration.e2e.test_crash_and_secrets import (  # noqa: F401 -- the fixture
    TODAY,
    kiosk,
    outbox_rows,
    portal,
    report,
)

pytestmark = [pytest.mark.portal, pytest.mark.softhsm, pytest.mark.slow]

SIGNATURE_KILLS = [
    "after_begin_card_work", "after_set_signature_pin", "after_generate_key_pair",
    "after_sign_request", "after_issue_committed", "after_issue_certificate",
    "after_install_certificate", "after_test_signature", "after_result_committed",
]
RENEW_KILLS = [
    "after_begin_card_work", "after_generate_key_pair", "after_sign_request",
    "after_issue_committed", "after_issue_certificate", "after_install_certificate",
    "after_test_signature", "after_delete_key_pair", "after_result_committed",
]


def issued_rows(db_path: Path, card_number: str) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db_path)
    try:
        return [(r[0], r[1]) for r in conn.execute(
            "SELECT kind, state FROM certificates WHERE card_number = ? ORDER BY kind",
            (card_number,),
        )]
    finally:
        conn.close()


def open_work(db: Path) -> int:
    """Card work left open in the outbox database (status shows it: sync.alert.card_work)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM card_work").fetchone()[0])
    finally:
        conn.close()


def working_authentication(listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Authentication certificates valid now whose private key is on the card (the chain is
    checked by the demo test: this portal's test CA is not the one the demo kiosk trusts)."""
    now = datetime.now(UTC)
    return [
        c for c in listed
        if c["usage"] == "authentication" and c["key_on_card"] is True
        and datetime.fromisoformat(c["not_after"]) > now
    ]


@pytest.mark.parametrize("kill_at", SIGNATURE_KILLS)
def test_a_killed_signature_certificate_visit_is_finished_once(
    portal: RunningPortal, tmp_path: Path, kill_at: str  # noqa: F811
) -> None:
    ingrid = demo_cast.demo_holder("ingrid", TODAY)
    state = tmp_path / "kiosk"
    crashed = kiosk(state, portal.url, "visit", kill_at, visit="signature-certificate")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-3000:]
    expected_rows = ["pending"] if kill_at == "after_result_committed" else []
    assert outbox_rows(state / "outbox.sqlite3") == expected_rows
    # the work is open until its result is recorded (the result ends it, in one commit)
    assert open_work(state / "outbox.sqlite3") == (0 if expected_rows else 1)

    again = report(kiosk(state, portal.url, "revisit", visit="signature-certificate"))
    if kill_at == "after_result_committed":  # done and recorded: the card has it already
        assert again["final_message"] == "visit.record.refused"
    else:
        assert again["final_message"] == "visit.done.signature_certificate", again
    assert again["outbox"] == {"sent": 1}, again  # nothing lost
    assert open_work(state / "outbox.sqlite3") == 0
    assert issued_rows(portal.db_path, ingrid.card_number) == [("signature", "valid")]
    signature = [c for c in again["card_after"] if c["usage"] == "signature"]  # type: ignore[union-attr]
    assert len(signature) == 1 and signature[0]["key_on_card"] is True
    assert signature[0]["serial"] == again["issued"][0]["serial"]  # type: ignore[index]
    assert again["audit_ok"] is True


@pytest.mark.parametrize("kill_at", RENEW_KILLS)
def test_a_killed_renewal_keeps_a_working_authentication_certificate(
    portal: RunningPortal, tmp_path: Path, kill_at: str  # noqa: F811
) -> None:
    hugo = demo_cast.demo_holder("hugo", TODAY)
    state = tmp_path / "kiosk"
    crashed = kiosk(state, portal.url, "visit", kill_at, visit="renew-certificates")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-3000:]
    assert open_work(state / "outbox.sqlite3") == (0 if kill_at == "after_result_committed" else 1)

    # recorded: the restarted kiosk only sends it (Hugo's card, and so its new certificates,
    # ends within 3 months: a new visit would rightly renew once more)
    mode = "restart" if kill_at == "after_result_committed" else "revisit"
    again = report(kiosk(state, portal.url, mode, visit="renew-certificates"))
    if mode == "revisit":
        before: list[dict[str, Any]] = again["card_before"]  # type: ignore[assignment]
        assert working_authentication(before), f"no working authentication certificate: {before}"
        assert again["final_message"] == "visit.done.renew_certificates", again
    assert again["outbox"] == {"sent": 1}, again
    assert open_work(state / "outbox.sqlite3") == 0
    after: list[dict[str, Any]] = again["card_after"]  # type: ignore[assignment]
    assert len(working_authentication(after)) == 1
    assert sorted(c["usage"] for c in after) == ["authentication", "signature"]
    assert all(c["key_id"] not in ("01", "02") and c["key_on_card"] for c in after)
    # one new certificate per kind, never two
    assert issued_rows(portal.db_path, hugo.card_number) == [
        ("authentication", "valid"), ("signature", "valid")
    ]
    assert again["audit_ok"] is True
