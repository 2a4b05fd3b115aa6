"""Structured logs without secrets, the status report, and kioskctl's fleet commands."""

from __future__ import annotations

import io
import json
import logging
import shutil
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from composition.cli import main
from kiosk.fleet.apply import apply_bundle
from kiosk.fleet.health_marker import mark_healthy
from kiosk.health import collect_status
from kiosk.logging_setup import setup_logging
from kiosk.settings import Settings

from .conftest import Fleet


def test_logs_are_key_value_lines_with_priority_and_no_pins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "8:1234")
    out = io.StringIO()
    handler = setup_logging(stream=out)
    try:
        log = logging.getLogger("kiosk.visit")
        log.warning("pin rejected for card %s: %s", "9752 1234 5678", "123456",
                    extra={"pin": "654321", "new_pin_confirm": "654321", "card": "A1"})
        log.info("ok", extra={"api_token": "s3cret"})
    finally:
        logging.getLogger().removeHandler(handler)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("<4>ts=")
    assert "level=warning" in lines[0] and "logger=kiosk.visit" in lines[0]
    assert "card=A1" in lines[0]
    assert lines[1].startswith("<6>")
    text = out.getvalue()
    for secret in ("123456", "654321", "s3cret"):
        assert secret not in text


def test_json_log_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    out = io.StringIO()
    handler = setup_logging(json_lines=True, stream=out)
    try:
        logging.getLogger("kiosk.sync").error("portal down", extra={"attempt": 3})
    finally:
        logging.getLogger().removeHandler(handler)
    record = json.loads(out.getvalue())
    assert (record["level"], record["msg"], record["attempt"]) == ("error", "portal down", 3)


def test_status_degrades_gracefully_without_outbox_or_app(fleet: Fleet) -> None:
    status = collect_status(Settings(), fleet.paths, probe_network=False)
    assert status["outbox"]["state"] == "unknown"
    assert status["app"]["state"] == "unknown"
    assert status["config"]["version"] == 0
    assert status["disk"]["free_bytes"] > 0
    json.dumps(status)


def test_status_reads_a_real_outbox_and_app_marker(fleet: Fleet) -> None:
    now = datetime.now(UTC)
    fleet.paths.state_dir.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(fleet.paths.outbox_db) as db:
        db.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY, card_number TEXT, kind TEXT,"
                   " state TEXT, finished_at TEXT, deadline TEXT)")
        db.executemany(
            "INSERT INTO outbox (card_number, kind, state, finished_at, deadline)"
            " VALUES (?, ?, ?, ?, ?)",
            [("111", "activation", "sent", (now - timedelta(hours=5)).isoformat(), None),
             ("222", "activation", "pending", (now - timedelta(hours=2)).isoformat(),
              (now + timedelta(hours=3)).isoformat()),
             ("333", "pin_change", "pending", (now - timedelta(minutes=1)).isoformat(), None)],
        )
    apply_bundle(fleet.bundle(2), fleet.paths)
    mark_healthy(fleet.paths, 2, started_at=now - timedelta(minutes=10))
    status = collect_status(Settings(), fleet.paths, probe_network=False, now=now)
    assert status["outbox"]["depth"] == 2
    assert 7190 <= status["outbox"]["oldest_age_s"] <= 7210
    assert [a["card_number"] for a in status["outbox"]["deadline_alerts"]] == ["222"]
    assert status["app"]["state"] == "running" and status["app"]["config_version"] == 2
    assert status["config"]["pending"]["version"] == 2
    assert "config_pending" in status["problems"]
    assert status["config"]["trusted_keys"] == [fleet.key_id]
    assert status["config"]["state"] == "ok"


@pytest.mark.parametrize("step", [timedelta(days=-1), timedelta(days=1)], ids=["back", "ahead"])
def test_the_apps_uptime_is_its_process_age_whatever_the_clock_was_set_to(
    fleet: Fleet, step: timedelta
) -> None:
    """The uptime was now minus the wall-clock start the app wrote: with the clock set back
    a day since the start it read a day too much, set ahead it was negative. It is the
    app process's own age (here this test process: far younger than a day)."""
    now = datetime.now(UTC)
    mark_healthy(fleet.paths, 2, started_at=now + step)
    app = collect_status(Settings(), fleet.paths, probe_network=False, now=now)["app"]
    assert app["state"] == "running"
    assert 0 <= app["uptime_s"] < 43200


def test_status_warns_when_the_applied_bundle_is_about_to_expire(fleet: Fleet) -> None:
    now = datetime.now(UTC)
    apply_bundle(fleet.bundle(1, not_after=now + timedelta(days=3)), fleet.paths)
    status = collect_status(Settings(), fleet.paths, probe_network=False, now=now)
    assert status["config"]["state"] == "expiring"
    assert "config_expiring" in status["problems"] and status["state"] == "degraded"


def test_status_agrees_with_the_real_outbox(fleet: Fleet) -> None:
    from kiosk.devicekey import load_or_create
    from kiosk.model import VisitKind, VisitResult
    from kiosk.outbox import Outbox, SystemClock

    now = datetime.now(UTC)
    fleet.paths.state_dir.mkdir(parents=True, exist_ok=True)
    box = Outbox(fleet.paths.state_dir, load_or_create(fleet.paths.state_dir), SystemClock())
    try:
        for number, hours_ago, deadline_in in (("9752000000000011", 3, 2), ("9752000000000029",
                                                                            1, 100)):
            box.record(VisitResult(
                kind=VisitKind.ACTIVATION,
                card_number=number,
                admin_hsa_id="SE2321000016-ADM1",
                idempotency_key=f"key-{number}",
                finished_at=now - timedelta(hours=hours_ago),
                deadline=now + timedelta(hours=deadline_in),
            ))
        expected = box.status()
    finally:
        box.close()
    status = collect_status(Settings(), fleet.paths, probe_network=False, now=now)["outbox"]
    assert status["depth"] == expected.depth == 2
    assert [a["card_number"] for a in status["deadline_alerts"]] == [
        a.card_number for a in expected.alerts
    ] == ["9752000000000011"]
    assert status["oldest_age_s"] == pytest.approx(3 * 3600, abs=5)
    assert status["last_visit"] is not None


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_kioskctl_keys_sign_verify_apply_show_status(
    fleet: Fleet, kiosk_env: Callable[[], dict[str, str]], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(["keys", "generate", "--out", str(tmp_path / "new-keys")], capsys)
    assert code == 0 and "New fleet key" in out
    new_pub = next((tmp_path / "new-keys").glob("*.pub"))
    shutil.copy(new_pub, fleet.paths.fleet_keys_dir)
    code, out, _ = run(["keys", "list"], capsys)
    assert out.count("\n  ") == 2

    settings_file = tmp_path / "fleet.toml"
    settings_file.write_text('[portal]\napi_token = "tok-123"\n[ui]\nrotation = 270\n')
    bundle = tmp_path / "v7.bundle"
    code, out, err = run(["config", "sign", str(settings_file), "-o", str(bundle), "--key",
                          str(next((tmp_path / "new-keys").glob("*.key"))), "--version", "7",
                          "--office", "office-north", "--valid-days", "10"], capsys)
    assert code == 0, err
    code, out, err = run(["config", "verify", str(bundle)], capsys)
    assert code == 0, err
    assert json.loads(out)["targets"]["card_offices"] == ["office-north"]
    code, out, err = run(["config", "apply", "--dry-run", str(bundle)], capsys)
    assert code == 0 and fleet.applied_bytes() is None
    code, out, err = run(["config", "apply", str(bundle)], capsys)
    assert code == 0 and "Applied version 7" in out
    code, out, err = run(["config", "apply", str(bundle)], capsys)
    assert code == 1 and "replayed_version" in err

    code, out, _ = run(["config", "show", "--json"], capsys)
    shown = json.loads(out)
    assert shown["bundle_version"] == 7
    assert shown["settings"]["ui"]["rotation"] == 270
    assert shown["settings"]["portal"]["api_token"] == "********"
    assert "tok-123" not in out
    code, out, _ = run(["config", "show"], capsys)
    assert "rotation = 270" in out and "tok-123" not in out

    code, out, _ = run(["status", "--json", "--no-network"], capsys)
    status = json.loads(out)
    assert (status["kiosk_id"], status["config"]["version"]) == ("kiosk-7", 7)
    code, out, _ = run(["config", "confirm-or-rollback"], capsys)
    assert code == 0 and "waiting" in out
    code, out, _ = run(["config", "confirm-or-rollback", "--json"], capsys)
    assert json.loads(out) == {"action": "waiting", "version": 7, "restored_version": 0}


def test_kioskctl_config_check_reports_path_and_hint(
    kiosk_env: Callable[[], dict[str, str]], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[hardware]\nreeder = 'pcsc'\n")
    code, _, err = run(["config", "check", str(bad)], capsys)
    assert code == 1
    assert "hardware.reeder" in err and "did you mean 'hardware.reader'?" in err
    good = tmp_path / "good.toml"
    good.write_text("[hardware]\nreader = 'pcsc'\n")
    code, out, _ = run(["config", "check", str(good)], capsys)
    assert code == 0 and "valid" in out


def test_kioskctl_sign_refuses_a_bad_settings_file(
    fleet: Fleet, kiosk_env: Callable[[], dict[str, str]], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings_file = tmp_path / "fleet.toml"
    settings_file.write_text("[ui]\nrotation = 45\n")
    code, _, err = run(["config", "sign", str(settings_file), "-o", str(tmp_path / "x"),
                        "--key", str(fleet.key_path), "--version", "1"], capsys)
    assert code == 1 and "ui.rotation" in err
    assert not (tmp_path / "x").exists()


def test_status_still_reports_when_the_site_file_is_broken(
    fleet: Fleet, kiosk_env: Callable[[], dict[str, str]], capsys: pytest.CaptureFixture[str],
) -> None:
    fleet.paths.site_config.write_text("[ui\n")
    code, out, _ = run(["status", "--json", "--no-network"], capsys)
    status = json.loads(out)
    assert code == 0 and status["state"] == "degraded"
    assert status["config"]["state"] == "invalid" and "not valid TOML" in status["config"]["reason"]
    code, _, err = run(["config", "show"], capsys)
    assert code == 1 and str(fleet.paths.site_config) in err
