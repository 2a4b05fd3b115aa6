"""The app's health marker: "I am up on config version N".

The app calls ``mark_healthy(paths, config_version)`` once it is up (screens drawn, reader
and portal adapters built); `kioskctl config confirm-or-rollback` confirms a new bundle
only when this marker names the bundle's version (kiosk/fleet/apply.py).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from kiosk.fleet.atomic import atomic_write
from kiosk.paths import KioskPaths


@dataclass(frozen=True)
class HealthMarker:
    """The app's last "I am up" report."""

    config_version: int
    at: datetime
    started_at: datetime
    pid: int


def mark_healthy(
    paths: KioskPaths,
    config_version: int,
    started_at: datetime | None = None,
    now: datetime | None = None,
) -> None:
    """Record that the app is up and healthy on ``config_version`` (atomic replace)."""
    now = now or datetime.now(UTC)
    data = {
        "config_version": config_version,
        "at": now.isoformat(),
        "started_at": (started_at or now).isoformat(),
        "pid": os.getpid(),
    }
    atomic_write(paths.health_marker, (json.dumps(data) + "\n").encode())


def read_health_marker(paths: KioskPaths) -> HealthMarker | None:
    """The app's health marker, or None if absent or unreadable."""
    try:
        data = json.loads(paths.health_marker.read_text(encoding="utf-8"))
        return HealthMarker(
            int(data["config_version"]),
            datetime.fromisoformat(data["at"]),
            datetime.fromisoformat(data["started_at"]),
            int(data["pid"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
