"""EffectGate: the app runs every effect through it so a script can hold effects back.

The app owns the gate (``KioskApp.effect_gate``); the tour and the UI tests (screens/driver.py,
screens/scripts.py) close it to photograph the progress screen an effect causes. It lives
here, not in the driver, so the app never imports test tooling.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class EffectGate:
    """Holds effects back so a script can photograph the progress screen they cause."""

    def __init__(self, run_effect: Callable[[Any], Any]) -> None:
        self._run_effect = run_effect
        self._open = threading.Event()
        self._open.set()
        self.waiting = 0

    def hold(self) -> None:
        """Effects from now on wait until ``release``."""
        self._open.clear()

    def release(self) -> None:
        """Let held and future effects run."""
        self._open.set()

    def __call__(self, effect: Any) -> Any:
        """Run ``effect`` once the gate is open (worker thread)."""
        self.waiting += 1
        self._open.wait(timeout=120)
        self.waiting -= 1
        return self._run_effect(effect)
