"""A manual clock (kiosk.ports.Clock) for simulations and tests: time moves only when told.

``step`` makes every reading move the clock on (a visit driven by a test sees each event a
moment after the last); ``advance`` and assigning ``current`` move it by hand.
"""

from __future__ import annotations

from datetime import datetime, timedelta


class ManualClock:
    """UTC time that starts at ``current`` and moves by ``step`` at each ``now()``."""

    def __init__(self, current: datetime, step: timedelta = timedelta()) -> None:
        if current.tzinfo is None:
            raise ValueError("a clock's time is timezone-aware (UTC)")
        self.current = current
        self.step = step

    def now(self) -> datetime:
        """The clock's time, after moving it on by ``step``."""
        self.current += self.step
        return self.current

    def advance(self, **delta: float) -> None:
        """Move the clock by ``timedelta(**delta)`` (backwards with negative values)."""
        self.current += timedelta(**delta)
