"""Kiosk health: the status report for `kioskctl status` and heartbeats.

The app's health marker (``mark_healthy``) lives in kiosk/fleet/health_marker.py, next to
the probation it ends. ``collect_status`` gathers what an operator needs; any part it
cannot read is reported as "unknown" instead of failing.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kiosk.fleet import store
from kiosk.fleet.apply import trusted_keys
from kiosk.fleet.health_marker import read_health_marker
from kiosk.outbox import process_start
from kiosk.paths import KioskPaths
from kiosk.settings import Settings

UNKNOWN = "unknown"
PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")


def _package_version() -> str:
    try:
        return metadata.version("siths-kiosk")
    except metadata.PackageNotFoundError:
        return UNKNOWN


def _system_uptime_s() -> float | None:
    try:
        return float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _process_uptime_s(pid: int) -> float | None:
    """How long process ``pid`` has run, from /proc's ticks after boot (a wall clock set
    since its start changes nothing); None if /proc does not tell."""
    system, started = _system_uptime_s(), process_start(pid)
    if system is None or not started.isdigit():
        return None
    return max(0.0, system - int(started) / os.sysconf("SC_CLK_TCK"))


def app_status(paths: KioskPaths, now: datetime) -> dict[str, Any]:
    """Whether the app reported healthy, on which config, and for how long it has run.

    The uptime is the app process's own, from /proc: the marker's wall-clock start time
    gave a day too much (or a negative uptime) after the clock was set back (or ahead).
    """
    marker = read_health_marker(paths)
    if marker is None:
        return {"state": UNKNOWN, "uptime_s": None, "config_version": None}
    running = _pid_alive(marker.pid)
    uptime = _process_uptime_s(marker.pid) if running else None
    if running and uptime is None:  # /proc hidden: the wall clock, as reported
        uptime = max(0.0, (now - marker.started_at).total_seconds())
    return {
        "state": "running" if running else "stopped",
        "uptime_s": round(uptime) if uptime is not None else None,
        "config_version": marker.config_version,
        "healthy_at": marker.at.isoformat(),
    }


def outbox_status(db: Path, now: datetime, alert_hours: float) -> dict[str, Any]:
    """Depth, oldest age, last visit and deadline alerts, read-only; "unknown" if unreadable."""
    if not db.is_file():
        return {"state": UNKNOWN, "reason": "no outbox database yet"}
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2.0)
        try:
            depth, oldest = conn.execute(
                "SELECT COUNT(*), MIN(finished_at) FROM outbox WHERE state = 'pending'"
            ).fetchone()
            (last_visit,) = conn.execute("SELECT MAX(finished_at) FROM outbox").fetchone()
            limit = (now + timedelta(hours=alert_hours)).isoformat()
            alerts = conn.execute(
                "SELECT card_number, kind, deadline FROM outbox WHERE state = 'pending'"
                " AND deadline IS NOT NULL AND deadline <= ? ORDER BY deadline",
                (limit,),
            ).fetchall()
            has_intents = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pin_intents'"
            ).fetchone()
            interrupted = conn.execute(
                "SELECT card_number, kind, ticket_id, deadline, started_at FROM pin_intents"
                " ORDER BY started_at"
            ).fetchall() if has_intents else []
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return {"state": UNKNOWN, "reason": f"outbox unreadable: {exc}"}
    age = None
    if oldest:
        age = round((now - datetime.fromisoformat(oldest)).total_seconds())
    return {
        "state": "ok",
        "depth": int(depth),
        "oldest_age_s": age,
        "last_visit": last_visit,
        "deadline_alerts": [
            {"card_number": card, "kind": kind, "deadline": deadline}
            for card, kind, deadline in alerts
        ],
        # a PIN was (or may have been) written and no result recorded: finish the visit
        "interrupted": [
            {"card_number": card, "kind": kind, "ticket_id": ticket, "deadline": deadline,
             "started_at": started}
            for card, kind, ticket, deadline, started in interrupted
        ],
    }


def reader_status(settings: Settings) -> dict[str, Any]:
    """Whether the configured card reader backend can be reached."""
    backend = settings.hardware.reader
    if backend != "pcsc":
        return {"state": "simulated", "backend": backend}
    present = PCSCD_SOCKET.exists()
    return {"state": "ok" if present else "down", "backend": backend,
            "detail": f"{PCSCD_SOCKET} {'present' if present else 'missing'}"}


def camera_status(settings: Settings) -> dict[str, Any]:
    """Whether the configured camera source exists."""
    kind, _, where = settings.camera.source.partition(":")
    if kind == "v4l2":
        device = Path(f"/dev/video{where}")
        return {"state": "ok" if device.exists() else "down", "source": settings.camera.source}
    if kind in ("file", "folder"):
        ok = where == "builtin" or Path(where).exists()
        return {"state": "ok" if ok else "down", "source": settings.camera.source}
    return {"state": UNKNOWN, "source": settings.camera.source}


def portal_status(settings: Settings, timeout_s: float = 2.0) -> dict[str, Any]:
    """Whether the portal's host accepts a TCP connection (no request is sent)."""
    parts = urlsplit(settings.portal.url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        return {"state": "down", "url": settings.portal.url, "detail": str(exc)}
    elapsed = round((time.monotonic() - started) * 1000, 1)
    return {"state": "ok", "url": settings.portal.url, "connect_ms": elapsed}


def disk_status(directory: Path) -> dict[str, Any]:
    """Free space where the state lives."""
    probe = directory
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    return {
        "path": str(directory),
        "free_bytes": usage.free,
        "total_bytes": usage.total,
        "free_percent": round(100 * usage.free / usage.total, 1) if usage.total else None,
    }


EXPIRY_WARNING = timedelta(days=7)


def config_status(paths: KioskPaths, now: datetime) -> dict[str, Any]:
    """Applied bundle version, validity, probation, last-known-good, rollbacks, trusted keys."""
    try:
        applied = store.applied(paths)
        good = store.last_known_good(paths)
        keys = sorted(trusted_keys(paths))
    except Exception as exc:  # a damaged store must still give a status report
        return {"state": UNKNOWN, "reason": str(exc)}
    marker = store.pending(paths)
    state = "ok"
    if applied and applied.payload.not_after - now < EXPIRY_WARNING:
        state = "expiring"  # a frozen feed or a signer who stopped re-signing
    return {
        "state": state,
        "trusted_keys": keys,
        "version": applied.payload.version if applied else 0,
        "issued_at": applied.payload.issued_at.isoformat() if applied else None,
        "not_after": applied.payload.not_after.isoformat() if applied else None,
        "pending": {"version": marker.version, "deadline": marker.deadline.isoformat()}
        if marker
        else None,
        "last_known_good": good.payload.version if good else 0,
        "rolled_back": store.rolled_back_version(paths),
    }


def collect_status(
    settings: Settings, paths: KioskPaths, probe_network: bool = True,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Everything `kioskctl status` and the heartbeat report, as JSON-compatible data."""
    now = now or datetime.now(UTC)
    status: dict[str, Any] = {
        "kiosk_id": settings.kiosk.kiosk_id,
        "card_office": settings.kiosk.card_office,
        "version": _package_version(),
        "at": now.isoformat(),
        "system_uptime_s": _system_uptime_s(),
        "app": app_status(paths, now),
        "config": config_status(paths, now),
        "outbox": outbox_status(paths.outbox_db, now, settings.card_rules.deadline_alert_hours),
        "reader": reader_status(settings),
        "camera": camera_status(settings),
        "portal": portal_status(settings) if probe_network else {"state": "not_checked"},
        "disk": disk_status(paths.state_dir),
    }
    problems = [
        name for name in ("reader", "camera", "portal") if status[name]["state"] == "down"
    ]
    if status["config"].get("pending"):
        problems.append("config_pending")
    if status["config"]["state"] == "expiring":
        problems.append("config_expiring")
    if status["outbox"].get("interrupted"):
        problems.append("visit_interrupted")
    status["problems"] = problems
    status["state"] = "ok" if not problems else "degraded"
    return status
