"""Test-only hooks: make the next API calls fail or stall, move the clock, run the sweep.

Installed only when the portal runs with test hooks (``start_in_thread(test_hooks=True)``
or KIOSK_PORTAL_TEST_HOOKS=1); a production portal has none of these routes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from portal import db, service
from portal.clock import PortalClock

TEST_PREFIX = "/_test"
FaultKind = Literal["status", "delay", "delay_after"]


class FaultSpec(BaseModel):
    """One fault: answer ``status`` without handling, or delay before or after handling."""

    kind: FaultKind
    count: int = Field(default=1, ge=1)
    status: int = Field(default=503, ge=500, le=599)
    seconds: float = Field(default=0.0, ge=0.0, le=60.0)
    retry_after: int | None = Field(default=None, ge=0, le=3600)
    path_contains: str = ""


class ClockShift(BaseModel):
    """Move the portal's clock."""

    days: float = 0.0
    seconds: float = 0.0


@dataclass
class _Armed:
    spec: FaultSpec
    left: int


class FaultInjector:
    """The queue of armed faults, consumed one per matching API call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []
        self.hits = 0

    def arm(self, spec: FaultSpec) -> None:
        """Add a fault for the next ``spec.count`` matching calls."""
        with self._lock:
            self._armed.append(_Armed(spec, spec.count))

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._armed.clear()

    def take(self, path: str) -> FaultSpec | None:
        """The fault for this call, if one is armed for it."""
        with self._lock:
            for armed in self._armed:
                if armed.spec.path_contains in path:
                    armed.left -= 1
                    if armed.left <= 0:
                        self._armed.remove(armed)
                    self.hits += 1
                    return armed.spec
        return None


def install_test_hooks(
    app: FastAPI, faults: FaultInjector, clock: PortalClock, db_path: Path
) -> None:
    """Add the fault middleware and the /_test routes (never in the OpenAPI document)."""
    app.state.faults = faults

    @app.middleware("http")
    async def inject(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        fault = None if path.startswith(TEST_PREFIX) else faults.take(path)
        if fault is None:
            return await call_next(request)
        if fault.kind == "status":
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            return JSONResponse(
                {"reason": "injected_fault", "detail": "a test fault answered this call"},
                status_code=fault.status,
                headers=headers,
            )
        if fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
            return await call_next(request)
        response = await call_next(request)
        await asyncio.sleep(fault.seconds)
        return response

    @app.post(f"{TEST_PREFIX}/faults", include_in_schema=False)
    def arm(spec: FaultSpec) -> dict[str, str]:
        faults.arm(spec)
        return {"armed": spec.kind}

    @app.delete(f"{TEST_PREFIX}/faults", include_in_schema=False)
    def clear() -> dict[str, str]:
        faults.clear()
        return {"cleared": "all"}

    @app.post(f"{TEST_PREFIX}/clock", include_in_schema=False)
    def shift(body: ClockShift) -> dict[str, str]:
        clock.advance(timedelta(days=body.days, seconds=body.seconds))
        return {"now": clock.now().isoformat()}

    @app.post(f"{TEST_PREFIX}/sweep", include_in_schema=False)
    def run_sweep() -> dict[str, list[str]]:
        conn = db.connect(db_path)
        try:
            with db.transaction(conn):
                return {"blocked": service.sweep(conn, clock.now())}
        finally:
            conn.close()
