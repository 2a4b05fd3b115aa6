"""The additional-certificate visit (Jonas's card: his additional certificate from Region
Norrland replaced by one from Region Skåne) with the kiosk process SIGKILLed at each step
boundary, on the simulated SoftHSM2 card against the real reference portal; then the
administrator runs the visit again on the same card (or, once the result is recorded, the
kiosk only restarts and sends it). Nothing is lost, nothing is issued twice (the key id and
the idempotency keys survived in the card work), the card ends with exactly one additional
certificate, and until the new one has verified the old one stays on the card."""

from __future__ import annotations

import signal
import sqlite3
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

VISIT = "additional-certificate"
OLD, NEW = demo_cast.OTHER_ORGANISATIONS
KILLS = [
    "after_begin_card_work", "after_generate_key_pair", "after_sign_request",
    "after_issue_committed", "after_issue_certificate", "after_install_certificate",
    "after_test_signature", "after_delete_key_pair", "after_result_committed",
]


def issued_rows(db_path: Path, card_number: str) -> list[tuple[str, str, str]]:
    conn = sqlite3.connect(db_path)
    try:
        return [(r[0], r[1], r[2]) for r in conn.execute(
            "SELECT kind, state, organisation FROM certificates WHERE card_number = ?",
            (card_number,),
        )]
    finally:
        conn.close()


def additional(listed: list[dict[str, Any]], organisation: str) -> list[dict[str, Any]]:
    return [c for c in listed if f"O={organisation}," in c["subject"]]


@pytest.mark.parametrize("kill_at", KILLS)
def test_a_killed_additional_certificate_visit_is_finished_once(
    portal: RunningPortal, tmp_path: Path, kill_at: str  # noqa: F811
) -> None:
    jonas = demo_cast.demo_holder("jonas", TODAY)
    state = tmp_path / "kiosk"
    crashed = kiosk(state, portal.url, "visit", kill_at, visit=VISIT)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-3000:]
    expected_rows = ["pending"] if kill_at == "after_result_committed" else []
    assert outbox_rows(state / "outbox.sqlite3") == expected_rows

    # recorded: the restarted kiosk only sends it (a new visit would rightly replace again)
    mode = "restart" if kill_at == "after_result_committed" else "revisit"
    again = report(kiosk(state, portal.url, mode, visit=VISIT))
    if mode == "revisit":
        before: list[dict[str, Any]] = again["card_before"]  # type: ignore[assignment]
        if kill_at != "after_delete_key_pair":  # the old one stays until the new one verified
            assert [c["key_on_card"] for c in additional(before, OLD)] == [True], before
        assert again["final_message"] == "visit.done.additional_certificate.replace", again
    assert again["outbox"] == {"sent": 1}, again  # nothing lost, sent once
    after: list[dict[str, Any]] = again["card_after"]  # type: ignore[assignment]
    assert additional(after, OLD) == []
    (new,) = additional(after, NEW)  # exactly one additional certificate: the new one
    assert new["key_on_card"] is True
    # issued once: one additional certificate at the portal, for the chosen organisation
    assert issued_rows(portal.db_path, jonas.card_number) == [("additional", "valid", NEW)]
    valid = [c for c in again["issued"] if c["state"] == "valid"]  # type: ignore[union-attr]
    assert [c["serial"] for c in valid] == [new["serial"]]
    assert again["audit_ok"] is True
