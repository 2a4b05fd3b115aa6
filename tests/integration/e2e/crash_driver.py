"""A kiosk process for the crash tests: runs the scripted visit, or restarts and flushes.

Usage: python -m tests.integration.e2e.crash_driver STATE_DIR PORTAL_URL MODE
MODE "visit": run the activation visit; KIOSK_KILL_AT names where this process SIGKILLs
itself: after_pin_written, after_result_committed, during_sync_request (a timer fires
while the request is in flight), after_portal_committed (the portal answered, the kiosk
never recorded it). MODE "restart": a fresh kiosk process on the same state that flushes
the outbox (as the app's sync worker does at start); "revisit": the administrator runs
the visit again, then the flush. Prints one JSON line; logs at DEBUG to STATE_DIR/log.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from composition.cli.demo import DEMO_HOLDER_PIN, run_activation
from composition.wiring import build_services
from kiosk import demo
from kiosk.settings import Settings
from kiosk.visit.effects import RecordResult, WritePin

KILL_AT = os.environ.get("KIOSK_KILL_AT", "")


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class KillingPortal:
    """The portal client, killing this process at the sync boundary asked for."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def complete_activation(self, *args: Any, **kwargs: Any) -> Any:
        if KILL_AT == "during_sync_request":
            threading.Timer(0.4, die).start()  # the portal delays this call by 2 s
        answer = self._inner.complete_activation(*args, **kwargs)
        if KILL_AT == "after_portal_committed":
            die()
        return answer


def main(state_dir: str, url: str, mode: str) -> int:
    state = Path(state_dir)
    (state / "log").mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=state / "log" / "kiosk.log", level=logging.DEBUG,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    services = build_services(Settings(), state, demo=True, portal_url=url,
                              with_camera=False)
    holder = demo.demo_holder("anna", services.clock.now().date())
    out: dict[str, Any] = {"mode": mode}
    try:
        if mode in ("visit", "revisit"):
            services.sync.portal = KillingPortal(services.sync.portal)
            after = {
                "after_pin_written": {WritePin: die},
                "after_result_committed": {RecordResult: die},
            }.get(KILL_AT if mode == "visit" else "", {})
            final = run_activation(services, holder, DEMO_HOLDER_PIN, after=after)
            out["final_view"] = final.view.name.value
            out["final_message"] = final.view.message
        flushed = services.sync.flush(ignore_backoff=True)
        out["flush_sent"] = flushed.sent
        out["outbox"] = services.outbox.counts()
        out["audit_ok"] = services.audit.verify().ok
        out["status"] = services.portal.card(holder.card_number).status.value
    finally:
        services.close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
