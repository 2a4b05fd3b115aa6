"""End to end: the scripted visit on the simulated SoftHSM2 card against the real reference
portal; the kiosk process SIGKILLed at every step boundary, then restarted; and no PIN or
full personnummer anywhere the kiosk writes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import requests

from composition.cli.demo import DEMO_HOLDER_PIN
from hardware.sim.democa import trust_files
from kiosk import demo_cast
from kiosk.health import outbox_status
from portal.server import RunningPortal, start_in_thread
from tests.conftest import require_tool
from tests.integration.outbox.portalkit import card_status, portal_counts

pytestmark = [pytest.mark.portal, pytest.mark.softhsm, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[3]
TODAY = date.today()
ANNA = demo_cast.demo_holder("anna", TODAY)


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[RunningPortal]:
    require_tool("softhsm2-util", "the simulated card's token")
    running = start_in_thread(tmp_path / "portal" / "portal.db", seed_demo=True, today=TODAY,
                              test_hooks=True,
                              receipt_trust=trust_files(tmp_path / "kiosk" / "democa"))
    yield running
    running.stop()


def kiosk(
    state: Path, url: str, mode: str, kill_at: str = "", visit: str = "activation"
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KIOSK_KILL_AT": kill_at,
           "KIOSK_CRASH_VISIT": visit}
    log = state.parent / f"{state.name}-{mode}-{kill_at or 'none'}"
    proc = subprocess.run(
        [sys.executable, "-m", "tests.integration.e2e.crash_driver", str(state), url, mode],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    log.with_suffix(".out").write_text(proc.stdout)
    log.with_suffix(".err").write_text(proc.stderr)
    return proc


def report(proc: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def outbox_rows(db: Path) -> list[str]:
    """The outbox rows' states, read as a second process would (the WAL included)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT state FROM outbox ORDER BY id")]
    finally:
        conn.close()


def files_under(*roots: Path) -> list[Path]:
    return [p for root in roots for p in root.rglob("*") if p.is_file()]


def assert_nowhere(secret: str, files: list[Path]) -> None:
    needle = secret.encode()
    hits = [str(p) for p in files if needle in p.read_bytes()]
    assert not hits, f"{secret!r} found in {hits}"


def kiosk_written(root: Path) -> list[Path]:
    """Files the kiosk wrote: the simulated card (its token and certificates) and the
    portal's own records legitimately hold the personnummer; the kiosk's must not."""
    return [p for p in files_under(root)
            if not {"softhsm", "democa", "portal", "demo-portal"} & set(p.parts)]


def personnummer_forms() -> tuple[str, ...]:
    pnr = ANNA.personnummer
    return (pnr, f"{pnr[:8]}-{pnr[8:]}", pnr[2:], f"{pnr[2:8]}-{pnr[8:]}")


KILL_POINTS = [
    "after_pin_written",
    "after_result_committed",
    "during_sync_request",
    "after_portal_committed",
]


@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_a_killed_kiosk_restarts_to_exactly_one_activation(
    portal: RunningPortal, tmp_path: Path, kill_at: str
) -> None:
    state = tmp_path / "kiosk"
    if kill_at == "during_sync_request":
        requests.post(
            f"{portal.url}/_test/faults",
            json={"kind": "delay", "seconds": 2, "path_contains": "complete"},
            timeout=5,
        ).raise_for_status()
    crashed = kiosk(state, portal.url, "visit", kill_at)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-3000:]
    # The crash left what the kill point says: the WAL unmerged, the row (not) queued.
    assert (state / "outbox.sqlite3-wal").exists()
    assert_nowhere(DEMO_HOLDER_PIN, files_under(tmp_path))
    assert (state / "outbox.sqlite3-wal") in kiosk_written(tmp_path)
    for form in personnummer_forms():
        assert_nowhere(form, kiosk_written(tmp_path))
    queued = outbox_rows(state / "outbox.sqlite3")
    completed = portal_counts(portal.db_path)["completed"]
    expected = {
        "after_pin_written": ([], 0),
        "after_result_committed": (["pending"], 0),
        "during_sync_request": (["pending"], None),
        "after_portal_committed": (["pending"], 1),
    }[kill_at]
    assert queued == expected[0]
    assert expected[1] is None or completed == expected[1]
    # D8: the PIN write was committed as an intent first; with no result, status shows it.
    interrupted = outbox_status(state / "outbox.sqlite3", datetime.now(UTC), 24)["interrupted"]
    if kill_at == "after_pin_written":
        assert [(i["card_number"], i["kind"]) for i in interrupted] == [
            (ANNA.card_number, "activation")
        ]
        assert interrupted[0]["ticket_id"] and interrupted[0]["deadline"]
    else:
        assert interrupted == []

    mode = "revisit" if kill_at == "after_pin_written" else "restart"
    after = report(kiosk(state, portal.url, mode))

    counts = portal_counts(portal.db_path)
    assert counts["completed"] == 1, counts
    assert counts["activated_events"] == 1, counts
    assert card_status(portal.db_path, ANNA.card_number) == "Aktiv"
    assert after["status"] == "Aktiv"
    assert after["outbox"] == {"sent": 1}, after
    assert after["audit_ok"] is True
    assert outbox_status(state / "outbox.sqlite3", datetime.now(UTC), 24)["interrupted"] == []
    everything = files_under(tmp_path)
    assert_nowhere(DEMO_HOLDER_PIN, everything)


LETTER_KILL_POINTS = [
    "after_record_fetched",
    "after_result_committed",
    "during_sync_request",
    "after_portal_committed",
]


def letters(db_path: Path, card_number: str) -> int:
    conn = sqlite3.connect(db_path)
    try:
        return int(conn.execute(
            "SELECT COUNT(*) FROM pin_letters WHERE card_number = ?", (card_number,)
        ).fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("kill_at", LETTER_KILL_POINTS)
def test_a_killed_kiosk_orders_exactly_one_pin_letter(
    portal: RunningPortal, tmp_path: Path, kill_at: str
) -> None:
    eva = demo_cast.demo_holder("eva", TODAY)
    state = tmp_path / "kiosk"
    if kill_at == "during_sync_request":
        requests.post(
            f"{portal.url}/_test/faults",
            json={"kind": "delay", "seconds": 2, "path_contains": "pin-letters"},
            timeout=5,
        ).raise_for_status()
    crashed = kiosk(state, portal.url, "visit", kill_at, visit="pin-letter")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-3000:]
    queued = outbox_rows(state / "outbox.sqlite3")
    expected = {
        "after_record_fetched": ([], 0),
        "after_result_committed": (["pending"], 0),
        "during_sync_request": (["pending"], None),
        "after_portal_committed": (["pending"], 1),
    }[kill_at]
    assert queued == expected[0]
    assert expected[1] is None or letters(portal.db_path, eva.card_number) == expected[1]
    for form in (eva.personnummer, f"{eva.personnummer[:8]}-{eva.personnummer[8:]}"):
        assert_nowhere(form, kiosk_written(tmp_path))

    mode = "revisit" if kill_at == "after_record_fetched" else "restart"
    after = report(kiosk(state, portal.url, mode, visit="pin-letter"))

    assert letters(portal.db_path, eva.card_number) == 1  # nothing lost, nothing twice
    assert after["outbox"] == {"sent": 1}, after
    assert after["audit_ok"] is True


def test_no_pin_or_personnummer_in_logs_databases_or_audit(
    portal: RunningPortal, tmp_path: Path
) -> None:
    state = tmp_path / "kiosk"
    done = report(kiosk(state, portal.url, "visit"))
    assert done["status"] == "Aktiv" and done["audit_ok"] is True
    demo_out = subprocess.run(
        [str(ROOT / ".venv/bin/kioskctl"), "demo", "visit", "--state-dir",
         str(tmp_path / "demo")],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, capture_output=True,
        text=True, timeout=180,
    )
    assert demo_out.returncode == 0, demo_out.stderr[-3000:]
    (tmp_path / "demo-cli.out").write_text(demo_out.stdout + demo_out.stderr)
    audit = subprocess.run(
        [str(ROOT / ".venv/bin/kioskctl"), "audit", "show", "--json", "--state-dir", str(state)],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, capture_output=True,
        text=True, timeout=60,
    )
    assert audit.returncode == 0 and '"result_recorded"' in audit.stdout
    (tmp_path / "audit-show.out").write_text(audit.stdout)

    kiosk_files = kiosk_written(tmp_path)
    names = {p.name for p in kiosk_files}
    assert {"outbox.sqlite3", "audit.head", "kiosk.log"} <= names, names
    assert any(p.name.endswith("-wal") or p.name == "outbox.sqlite3" for p in kiosk_files)
    assert_nowhere(DEMO_HOLDER_PIN, files_under(tmp_path))
    for form in personnummer_forms():
        assert_nowhere(form, kiosk_files)
