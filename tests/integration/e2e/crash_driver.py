"""A kiosk process for the crash tests: runs the scripted visit, or restarts and flushes.

Usage: python -m tests.integration.e2e.crash_driver STATE_DIR PORTAL_URL MODE
MODE "visit": run the activation visit; KIOSK_KILL_AT names where this process SIGKILLs
itself: after_pin_written, after_result_committed, during_sync_request (a timer fires
while the request is in flight), after_portal_committed (the portal answered, the kiosk
never recorded it). MODE "restart": a fresh kiosk process on the same state that flushes
the outbox (as the app's sync worker does at start); "revisit": the administrator runs
the visit again, then the flush. Prints one JSON line; logs at DEBUG to STATE_DIR/log.
KIOSK_CRASH_VISIT=pin-letter runs Eva's PIN/PUK letter visit instead (kill points
after_record_fetched, after_result_committed, during_sync_request, after_portal_committed).
KIOSK_CRASH_VISIT=signature-certificate (Ingrid), renew-certificates (Hugo) or
additional-certificate (Jonas: his additional certificate replaced) runs a
certificate visit: kill points after_<effect> for each card-work effect (CARD_WORK_KILLS;
after_test_signature is the first test signature of a new certificate, not the login's),
after_issue_committed (the portal issued, the kiosk never saw the answer) and
after_result_committed. Their report adds the card's certificates before the visit
(``card_before``) and after (``card_after``), and the certificates the portal issued.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from composition.cli.demo import (
    DEMO_HOLDER_PIN,
    VISIT_PINS,
    VISITS,
    run_activation,
    run_additional_certificate,
    run_pin_letter,
    run_renew_certificates,
    run_signature_certificate,
)
from composition.cli.demo_certificates import card_certificates, card_pins
from composition.wiring import build_services
from kiosk import demo_cast
from kiosk.settings import Settings
from kiosk.visit.effects import (
    BeginCardWork,
    DeleteKeyPair,
    Effect,
    FetchRecord,
    GenerateKeyPair,
    InstallCertificate,
    IssueCertificate,
    RecordResult,
    SetSignaturePin,
    SignProbe,
    SignRequest,
    WritePin,
)

KILL_AT = os.environ.get("KIOSK_KILL_AT", "")
VISIT = os.environ.get("KIOSK_CRASH_VISIT", "activation")
CERTIFICATE_RUNS: dict[str, Callable[..., Any]] = {
    "signature-certificate": run_signature_certificate,
    "renew-certificates": run_renew_certificates,
    "additional-certificate": run_additional_certificate,
}


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class KillingPortal:
    """The portal client, killing this process at the sync boundary asked for."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def complete_activation(self, *args: Any, **kwargs: Any) -> Any:
        return self._killing("complete_activation", *args, **kwargs)

    def order_pin_letter(self, *args: Any, **kwargs: Any) -> Any:
        return self._killing("order_pin_letter", *args, **kwargs)

    def issue_certificate(self, *args: Any, **kwargs: Any) -> Any:
        answer = self._inner.issue_certificate(*args, **kwargs)
        if KILL_AT == "after_issue_committed":
            die()
        return answer

    def _killing(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if KILL_AT == "during_sync_request":
            threading.Timer(0.4, die).start()  # the portal delays this call by 2 s
        answer = getattr(self._inner, method)(*args, **kwargs)
        if KILL_AT == "after_portal_committed":
            die()
        return answer


CARD_WORK_KILLS: dict[str, type[Effect]] = {
    "after_begin_card_work": BeginCardWork,
    "after_set_signature_pin": SetSignaturePin,
    "after_generate_key_pair": GenerateKeyPair,
    "after_sign_request": SignRequest,
    "after_issue_certificate": IssueCertificate,
    "after_install_certificate": InstallCertificate,
    "after_test_signature": SignProbe,
    "after_delete_key_pair": DeleteKeyPair,
}


def die_on(nth: int) -> Callable[[], None]:
    """A hook that kills this process the ``nth`` time it runs."""
    seen = {"n": 0}

    def hook() -> None:
        seen["n"] += 1
        if seen["n"] == nth:
            die()

    return hook


def certificate_visit(services: Any, mode: str, out: dict[str, Any]) -> Any:
    """Run the certificate visit (killed where KIOSK_KILL_AT says, in mode "visit")."""
    holder = demo_cast.demo_holder(VISITS[VISIT], services.clock.now().date())
    pins = card_pins(holder, *VISIT_PINS.get(VISIT, (None, None)))
    out["card_before"] = card_certificates(services, holder.card_number, pins)
    services.portal = KillingPortal(services.portal)
    after: dict[type[Effect], Callable[[], None]] = {}
    if mode == "visit" and KILL_AT in CARD_WORK_KILLS:
        effect = CARD_WORK_KILLS[KILL_AT]
        after[effect] = die_on(2 if effect is SignProbe else 1)  # the login signs first
    if mode == "visit" and KILL_AT == "after_result_committed":
        after[RecordResult] = die
    final = CERTIFICATE_RUNS[VISIT](services, holder, after=after)
    out["card_after"] = card_certificates(services, holder.card_number, pins)
    return holder, final


def main(state_dir: str, url: str, mode: str) -> int:
    state = Path(state_dir)
    (state / "log").mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=state / "log" / "kiosk.log", level=logging.DEBUG,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    services = build_services(Settings(), state, demo=True, portal_url=url,
                              with_camera=False)
    letter = VISIT == "pin-letter"
    holder = demo_cast.demo_holder("eva" if letter else "anna", services.clock.now().date())
    out: dict[str, Any] = {"mode": mode}
    try:
        if mode in ("visit", "revisit") and VISIT in CERTIFICATE_RUNS:
            holder, final = certificate_visit(services, mode, out)
            out["final_view"] = final.view.name.value
            out["final_message"] = final.view.message
        elif mode in ("visit", "revisit"):
            services.sync.portal = KillingPortal(services.sync.portal)
            kill_points: dict[str, dict[type[Effect], Callable[[], None]]] = {
                "after_pin_written": {WritePin: die},
                "after_record_fetched": {FetchRecord: die},
                "after_result_committed": {RecordResult: die},
            }
            after = kill_points.get(KILL_AT if mode == "visit" else "", {})
            if letter:
                final = run_pin_letter(services, holder, after=after)
            else:
                final = run_activation(services, holder, DEMO_HOLDER_PIN, after=after)
            out["final_view"] = final.view.name.value
            out["final_message"] = final.view.message
        flushed = services.sync.flush(ignore_backoff=True)
        out["flush_sent"] = flushed.sent
        out["outbox"] = services.outbox.counts()
        out["audit_ok"] = services.audit.verify().ok
        out["status"] = services.portal.card(holder.card_number).status.value
        if VISIT in CERTIFICATE_RUNS:
            holder = demo_cast.demo_holder(VISITS[VISIT], services.clock.now().date())
            if "card_after" not in out:
                pins = card_pins(holder, *VISIT_PINS.get(VISIT, (None, None)))
                out["card_after"] = card_certificates(services, holder.card_number, pins)
            out["issued"] = [
                {"serial": c.serial, "kind": c.kind, "state": c.state}
                for c in services.portal.card_certificates(holder.card_number)
            ]
    finally:
        services.close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
