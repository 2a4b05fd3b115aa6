"""Build what the App runs on: services from the wiring, the top-level flow, the effect runner."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.settings import Settings
from kiosk.visit.contract import Flow

if TYPE_CHECKING:
    from kiosk.visit.effects import Effect
    from kiosk.visit.events import Outcome


@dataclass
class Composition:
    """Services (may be None without devices), a flow factory, and the effect runner."""

    services: Any
    make_flow: Callable[[], Flow]
    run_effect: Callable[[Effect], Outcome] | None
    clock: Any

    def close(self) -> None:
        """Release the services (devices, workers, the demo portal)."""
        close = getattr(self.services, "close", None)
        if callable(close):
            close()


def compose(settings: Settings, state_dir: Path, demo: bool) -> Composition:
    """Services from composition.wiring and KioskSession flows on top of them."""
    from composition.wiring import build_services
    from kiosk.visit.admin_session import KioskSession

    if demo:
        from kiosk.demo_cast import demo_identity

        settings = demo_identity(settings)
    # the sign-in screen needs no portal: the demo portal's start is waited for meanwhile
    services = build_services(settings, state_dir, demo, wait_for_portal=False)

    def make_flow() -> Flow:
        # 48 random bits, as uuid4's first 12 hex digits were; uuid's import (with platform)
        # cost 2.8 ms before the first frame
        return KioskSession(settings, session_id=os.urandom(6).hex())

    return Composition(services, make_flow, services.effect_runner().run, services.clock)
