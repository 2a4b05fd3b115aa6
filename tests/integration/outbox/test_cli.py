"""kioskctl outbox status|flush|export|verify and audit verify|show, as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from kiosk import demo_cast
from kiosk.devicekey import load_or_create
from kiosk.outbox import Outbox, SystemClock
from kiosk.portal_client import PortalClient
from portal.server import RunningPortal, start_in_thread
from tests.integration.outbox.portalkit import activation_result, card_status, holder_key
from tests.receipt_ca import receipt_trust
from tests.unit.outbox.helpers import rewrite_audit

pytestmark = pytest.mark.portal
ROOT = Path(__file__).resolve().parents[3]
TODAY = date.today()
ANNA = demo_cast.demo_holder("anna", TODAY)


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[RunningPortal]:
    running = start_in_thread(tmp_path / "portal.db", seed_demo=True, today=TODAY,
                              receipt_trust=receipt_trust())
    yield running
    running.stop()


@pytest.fixture
def queued(portal: RunningPortal, tmp_path: Path) -> Path:
    """A state dir with anna's activation waiting in the outbox."""
    state = tmp_path / "state"
    box = Outbox(state, load_or_create(state), SystemClock())
    client = PortalClient(portal.url, retries=0)
    box.record(activation_result(client, ANNA.card_number, ANNA.personnummer,
                                 holder_key(ANNA.hsa_id), TODAY))
    box.close()
    return state


def kioskctl(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KIOSK_CONFIG_DIR": "/nonexistent"}
    head = ["--config", str(config)] if config else []
    return subprocess.run(
        [str(ROOT / ".venv/bin/kioskctl"), *head, *args], env=env, cwd=ROOT,
        capture_output=True, text=True, timeout=120,
    )


def test_status_export_verify_and_flush(portal: RunningPortal, queued: Path,
                                        tmp_path: Path) -> None:
    status = kioskctl("outbox", "status", "--json", "--state-dir", str(queued))
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["depth"] == 1 and data["alerts"] == []

    text = kioskctl("outbox", "status", "--state-dir", str(queued), "--lang", "en")
    assert "Results waiting for the portal: 1" in text.stdout

    export = tmp_path / "export.json"
    written = kioskctl("outbox", "export", "-o", str(export), "--state-dir", str(queued))
    assert written.returncode == 0, written.stderr
    document = json.loads(export.read_text())
    assert document["results"][0]["card_number"] == ANNA.card_number
    assert ANNA.personnummer not in export.read_text()
    key = queued / "device_key.pub"
    assert kioskctl("outbox", "verify", str(export), "--key", str(key)).returncode == 0
    document["results"][0]["card_number"] = "9752210000000002"
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(document))
    refused = kioskctl("outbox", "verify", str(forged), "--lang", "en")
    assert refused.returncode == 3 and "signature does not match" in refused.stdout

    config = tmp_path / "kiosk.toml"
    config.write_text(f'[portal]\nurl = "{portal.url}"\nretries = 0\n')
    flushed = kioskctl("outbox", "flush", "--json", "--state-dir", str(queued), config=config)
    assert flushed.returncode == 0, flushed.stderr + flushed.stdout
    assert json.loads(flushed.stdout)["sent"] == 1
    assert card_status(portal.db_path, ANNA.card_number) == "Aktiv"


def test_flush_with_the_portal_down_exits_2_and_keeps_the_result(
    queued: Path, portal: RunningPortal, tmp_path: Path
) -> None:
    url = portal.url
    portal.stop()
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[portal]\nurl = "{url}"\nretries = 0\n')
    flushed = kioskctl("outbox", "flush", "--state-dir", str(queued), "--lang", "en",
                       config=config)
    assert flushed.returncode == 2
    assert "1 still waiting" in flushed.stdout
    status = json.loads(kioskctl("outbox", "status", "--json", "--state-dir",
                                 str(queued)).stdout)
    assert status["depth"] == 1 and "portal_unreachable" in status["last_error"]


def test_audit_verify_names_the_tampered_entry(queued: Path) -> None:
    ok = kioskctl("audit", "verify", "--state-dir", str(queued), "--lang", "en")
    assert ok.returncode == 0 and "intact" in ok.stdout
    shown = json.loads(kioskctl("audit", "show", "--json", "--state-dir", str(queued)).stdout)
    assert [e["action"] for e in shown] == ["result_recorded"]
    assert ANNA.personnummer not in json.dumps(shown)

    box = Outbox(queued, load_or_create(queued), SystemClock())
    for i in range(3):
        box.audit.append("card_checked", "SE2321000016-ADM1", SystemClock().now(), str(i))
    box.close()

    def edit(rows: list[tuple]) -> list[tuple]:
        seq, entry, prev, digest, sig = rows[2]
        rows[2] = (seq, entry.replace("card_checked", "card_blocked"), prev, digest, sig)
        return rows

    rewrite_audit(queued / "outbox.sqlite3", edit)
    broken = kioskctl("audit", "verify", "--json", "--state-dir", str(queued))
    assert broken.returncode == 4
    problems = json.loads(broken.stdout)["problems"]
    assert problems[0]["index"] == 2 and problems[0]["kind"] == "edited"
    text = kioskctl("audit", "verify", "--state-dir", str(queued), "--lang", "en")
    assert "Entry 2 was edited." in text.stderr
