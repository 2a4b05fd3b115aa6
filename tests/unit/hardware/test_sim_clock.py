"""hardware/sim's manual clock: time moves only by its step and by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hardware.sim.clock import ManualClock
from kiosk.ports import Clock

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def test_without_a_step_the_time_stands_still_until_advanced() -> None:
    clock = ManualClock(T0)
    assert isinstance(clock, Clock)
    assert clock.now() == clock.now() == T0
    clock.advance(hours=-2, seconds=30)
    assert clock.now() == T0 - timedelta(hours=2) + timedelta(seconds=30)


def test_each_reading_moves_on_by_the_step() -> None:
    clock = ManualClock(T0, step=timedelta(seconds=1))
    assert [clock.now(), clock.now()] == [T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)]
    assert clock.current == T0 + timedelta(seconds=2)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2026, 11, 25, 9, 0))
