"""The demo's reference portal in its child process (portal.process), started on its own.

A light module (it imports neither the wiring nor the PKI code), so that `kioskctl demo
visit` starts the portal's child before the kiosk loads its own modules: the child's
start-up (FastAPI, uvicorn, the seeded database) then runs beside the kiosk's.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any


def start_demo_portal(state_dir: Path, today: date | None = None) -> Any:
    """The demo portal's child process, started (not yet answering: wait_until_ready)."""
    from kiosk.ca_files import trust_files
    from portal.process import start_process

    folder = state_dir / "demo-portal"
    democa = state_dir / "democa"
    return start_process(folder / "portal.db", seed_demo=True, today=today,
                         log_path=folder / "portal.log", wait=False,
                         receipt_trust=trust_files(democa),
                         # the demo cards' CA: what the portal issues chains to the demo root
                         ca_dir=democa)
