"""The administrator's session times out in the running app: by its own clock, never mid-visit.

The session's time is moved, not waited for: the sign-in instant is put back by the
timeout, and the shell's next clock tick is due now. Everything else is the real app:
real taps, the real flow, the shell's own 0.5 s tick.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from kiosk.visit.contract import ViewName
from screens.scripts import Walk, choose, sign_in
from tests.ui.conftest import Harness

pytestmark = pytest.mark.ui


def age_the_sign_in(kiosk: Harness) -> None:
    """As if the administrator had signed in one timeout (and a second) ago."""
    session = kiosk.app.session
    flow = session.flow
    assert flow.signed_in_at is not None, "not signed in"
    limit = flow.settings.ui.admin_session_timeout_s
    flow.signed_in_at -= timedelta(seconds=limit + 1)
    session._last_clock_event = float("-inf")  # the shell's next tick sends a clock event


def shown_message(kiosk: Harness) -> str | None:
    shown = kiosk.app.session.shown
    return shown.view.message if shown else None


def test_an_untouched_home_screen_signs_out_when_the_session_expires(kiosk: Harness) -> None:
    kiosk.run(lambda driver: sign_in(Walk(driver, kiosk.app.effect_gate, None), shots=False))
    assert kiosk.app.current_screen().name == "home"
    age_the_sign_in(kiosk)
    kiosk.pump(lambda: kiosk.app.current_screen().name == "admin_sign_in", timeout_s=10)
    assert shown_message(kiosk) == "visit.session.expired"
    assert kiosk.app.session.admin is None
    assert "Din session har gått ut. Logga in igen." in kiosk.texts()


def test_a_visit_in_progress_is_never_cut_by_the_session_timeout(kiosk: Harness) -> None:
    def to_visit(driver: Any) -> Any:
        walk = Walk(driver, kiosk.app.effect_gate, None)
        yield from sign_in(walk, shots=False)
        yield from choose(walk, "card_check")

    kiosk.run(to_visit)
    age_the_sign_in(kiosk)
    for _ in range(3):  # several ticks of the shell's own clock
        kiosk.app.session._last_clock_event = float("-inf")
        kiosk.app.session.tick()
    assert kiosk.app.current_screen().name == ViewName.INSERT_CARD.value
    assert kiosk.app.session.admin is not None  # still signed in while the visit runs

    def cancel(driver: Any) -> Any:
        walk = Walk(driver, kiosk.app.effect_gate, None)
        yield walk.act("cancel")
        yield walk.wait(ViewName.ERROR)
        yield walk.act("home")

    kiosk.run(cancel)
    # The visit ended: the expired session signs out on the way home, not back to HOME.
    kiosk.pump(lambda: kiosk.app.current_screen().name == "admin_sign_in", timeout_s=10)
    assert shown_message(kiosk) == "visit.session.expired"
    assert kiosk.app.session.admin is None
