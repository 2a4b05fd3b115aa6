"""The portal's clock: UTC wall time plus an offset, so demos and tests can move in time."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta


class PortalClock:
    """Wall-clock time shifted by an adjustable offset (zero in production)."""

    def __init__(self, today: date | None = None) -> None:
        self._lock = threading.Lock()
        real_today = datetime.now(UTC).date()
        self._offset = timedelta(days=(today - real_today).days) if today else timedelta()

    def now(self) -> datetime:
        """The portal's current time, timezone-aware UTC."""
        with self._lock:
            offset = self._offset
        return datetime.now(UTC) + offset

    def today(self) -> date:
        """The portal's current date (UTC)."""
        return self.now().date()

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward (or back with a negative delta)."""
        with self._lock:
            self._offset += delta


def iso(moment: datetime) -> str:
    """A UTC timestamp as ISO 8601 with a Z suffix, second precision."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """Parse a timestamp written by ``iso``."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
