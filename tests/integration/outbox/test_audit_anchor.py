"""The audit log against every tamper, with its head anchored at the portal (D4).

Each case builds a kiosk state with ten signed entries, sends a heartbeat (the sync worker's,
which carries the signed audit head) to a real portal, tampers with the log or its head
file, and runs `kioskctl audit verify --json`, which fetches the anchored head.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from composition.cli import main
from kiosk.devicekey import KEY_FILE, load_or_create
from kiosk.outbox import Outbox, SystemClock
from kiosk.portal_client import PortalClient
from kiosk.sync import SyncWorker
from portal.server import RunningPortal, start_in_thread
from tests.receipt_ca import receipt_trust
from tests.unit.outbox.helpers import rewrite_audit

pytestmark = pytest.mark.portal
TODAY = date.today()
ENTRIES = 10


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[RunningPortal]:
    running = start_in_thread(tmp_path / "portal.db", seed_demo=True, today=TODAY,
                              receipt_trust=receipt_trust())
    yield running
    running.stop()


def append(state: Path, count: int) -> None:
    box = Outbox(state, load_or_create(state), SystemClock())
    for i in range(count):
        box.audit.append("card_checked", "SE2321000016-ADM1", SystemClock().now(), str(i))
    box.close()


def sync(state: Path, portal: RunningPortal) -> None:
    box = Outbox(state, load_or_create(state), SystemClock())
    client = PortalClient(portal.url, retries=0, kiosk_id="demo-kiosk-1")
    try:
        assert SyncWorker(box, client).send_heartbeat()
    finally:
        client.close()
        box.close()


def verify(state: Path, config: Path, capsys: pytest.CaptureFixture[str],
           *extra: str) -> tuple[int, dict]:
    code = main(["--config", str(config), "audit", "verify", "--json", "--state-dir",
                 str(state), *extra])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip().startswith("{") else {}


@pytest.fixture
def kiosk(tmp_path: Path, portal: RunningPortal) -> tuple[Path, Path, bytes]:
    """A state with ENTRIES entries anchored at the portal, the config pointing there, and
    a genuine head from when only three entries existed (for replay)."""
    state = tmp_path / "state"
    append(state, 3)
    old_head = (state / "audit.head").read_bytes()
    append(state, ENTRIES - 3)
    sync(state, portal)
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[portal]\nurl = "{portal.url}"\nretries = 0\n')
    return state, config, old_head


Tamper = Callable[[Path, bytes], None]


def rows_as(transform: Callable[[list[tuple]], list[tuple]]) -> Tamper:
    return lambda state, _old: rewrite_audit(state / "outbox.sqlite3", transform)


def edit(rows: list[tuple]) -> list[tuple]:
    seq, entry, prev, digest, sig = rows[4]
    rows[4] = (seq, entry.replace("card_checked", "card_blocked"), prev, digest, sig)
    return rows


def truncate_without_head(state: Path, old: bytes) -> None:
    rewrite_audit(state / "outbox.sqlite3", lambda rows: rows[:6])
    (state / "audit.head").unlink()


def truncate_with_replayed_head(state: Path, old: bytes) -> None:
    rewrite_audit(state / "outbox.sqlite3", lambda rows: rows[:3])
    (state / "audit.head").write_bytes(old)


CASES: dict[str, tuple[Tamper, str]] = {
    "edit": (rows_as(edit), "edited"),
    "delete": (rows_as(lambda rows: rows[:4] + rows[5:]), "deleted"),
    "insert": (rows_as(lambda rows: [*rows[:6], rows[2], *rows[6:]]), "inserted"),
    "reorder": (rows_as(lambda rows: [*rows[:3], rows[4], rows[3], *rows[5:]]), "reordered"),
    "truncate_with_head": (rows_as(lambda rows: rows[:6]), "truncated"),
    "truncate_without_head": (truncate_without_head, "truncated"),
    "truncate_with_replayed_head": (truncate_with_replayed_head, "truncated"),
    "head_empty_object": (lambda state, _o: (state / "audit.head").write_text("{}"), "bad_head"),
    "head_seq_not_a_number": (
        lambda state, _o: (state / "audit.head").write_text(
            '{"seq": "nine", "hash": "' + "0" * 64 + '", "signature": "x"}'
        ),
        "bad_head",
    ),
    "head_not_json": (lambda state, _o: (state / "audit.head").write_text("]["), "bad_head"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_tamper_is_found_with_its_kind(
    case: str, kiosk: tuple[Path, Path, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    state, config, old_head = kiosk
    code, report = verify(state, config, capsys)
    assert (code, report["ok"], report["anchored"], report["anchor_seq"]) == (
        0, True, True, ENTRIES - 1
    )
    tamper, kind = CASES[case]
    tamper(state, old_head)
    code, report = verify(state, config, capsys)
    assert code == 4, report
    assert kind in {p["kind"] for p in report["problems"]}, report["problems"]


def test_a_replayed_head_alone_is_no_tamper(
    kiosk: tuple[Path, Path, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    """An older genuine head with the log whole is what a crash before the head write
    leaves: every entry is still there and the anchor is in the log."""
    state, config, old_head = kiosk
    (state / "audit.head").write_bytes(old_head)
    code, report = verify(state, config, capsys)
    assert (code, report["ok"]) == (0, True)


def test_without_the_portal_a_cut_without_head_is_not_seen_and_says_so(
    kiosk: tuple[Path, Path, bytes], capsys: pytest.CaptureFixture[str], portal: RunningPortal
) -> None:
    state, config, old_head = kiosk
    truncate_without_head(state, old_head)
    portal.stop()
    code = main(["--config", str(config), "audit", "verify", "--json", "--lang", "en",
                 "--state-dir", str(state)])
    captured = capsys.readouterr()
    assert code == 0 and json.loads(captured.out)["anchored"] is False
    assert "checked on this kiosk alone" in captured.err


def test_the_portal_never_lets_the_anchor_go_back(
    kiosk: tuple[Path, Path, bytes], portal: RunningPortal, capsys: pytest.CaptureFixture[str]
) -> None:
    state, config, old_head = kiosk
    truncate_with_replayed_head(state, old_head)
    sync(state, portal)  # the cut-back kiosk sends its older head: not kept
    code, report = verify(state, config, capsys)
    assert code == 4 and report["anchor_seq"] == ENTRIES - 1


def test_a_missing_device_key_is_a_clear_error_and_no_new_key_is_made(
    kiosk: tuple[Path, Path, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    state, config, _old = kiosk
    (state / KEY_FILE).unlink()
    code = main(["--config", str(config), "audit", "verify", "--lang", "en", "--state-dir",
                 str(state)])
    captured = capsys.readouterr()
    assert code == 1
    assert "device key" in (captured.out + captured.err) and "missing" in (
        captured.out + captured.err
    )
    assert "Traceback" not in captured.out + captured.err
    assert not (state / KEY_FILE).exists()


def test_a_copied_state_verifies_only_with_its_own_anchor(
    kiosk: tuple[Path, Path, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, config, _old = kiosk
    copy = tmp_path / "copy"
    shutil.copytree(state, copy)
    code, report = verify(copy, config, capsys, "--offline")
    assert code == 0 and report["anchored"] is False
