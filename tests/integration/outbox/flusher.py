"""A separate flusher process for the concurrency test: logs each key just before sending.

Usage: python -m tests.integration.outbox.flusher STATE_DIR PORTAL_URL SENT_LOG
"""

from __future__ import annotations

import sys
from pathlib import Path

from kiosk.devicekey import load_or_create
from kiosk.outbox import Claimed, Outbox, SystemClock
from kiosk.portal_client import PortalClient
from kiosk.sync import SyncWorker


def main(state_dir: str, url: str, sent_log: str) -> int:
    box = Outbox(Path(state_dir), load_or_create(Path(state_dir)), SystemClock())
    with open(sent_log, "a", encoding="ascii") as log:

        def note(claimed: Claimed) -> None:
            log.write(claimed.result.idempotency_key + "\n")
            log.flush()

        worker = SyncWorker(box, PortalClient(url, retries=0), batch=2, lease_s=60,
                            on_sending=note)
        report = worker.flush()
    box.close()
    return 0 if report.rejected == 0 and report.deferred == 0 else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
