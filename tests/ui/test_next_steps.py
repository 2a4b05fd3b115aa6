"""Wrong next steps fixed (issue 12.7) on the manual document form."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from kiosk.errors import InvalidInput, MissingInput
from screens.views.document_manual import typed_evidence

pytestmark = pytest.mark.ui


@pytest.mark.parametrize(("doc_type", "expiry", "field"), [
    ("", "2030-01-01", "doc_type"), ("passport", "", "expiry"), ("passport", "  ", "expiry"),
])
def test_an_empty_field_is_empty_not_unreadable(doc_type: str, expiry: str, field: str) -> None:
    with pytest.raises(MissingInput) as empty:
        typed_evidence(doc_type, "", expiry, "", date.today())
    assert empty.value.code == "missing_input" and empty.value.data["field"] == field


def test_a_date_that_cannot_be_read_is_still_said_so() -> None:
    with pytest.raises(InvalidInput) as bad:
        typed_evidence("passport", "", "31/12/2030", "", date.today())
    assert bad.value.code == "invalid_input"


def test_the_visit_screens_say_step_n_of_m(kiosk: Any) -> None:
    from kiosk.demo_cast import demo_holder
    from kiosk.visit.contract import ViewName
    from screens.scripts import Walk, choose, sign_in

    seen: dict[str, list[str]] = {}

    def script(driver: Any) -> Any:
        walk = Walk(driver, kiosk.app.effect_gate, None)
        yield from sign_in(walk, shots=False)
        yield from choose(walk, "activation")
        seen["insert"] = kiosk.texts()
        yield driver.insert_card(demo_holder("anna", walk.today).card_number)
        yield walk.wait(ViewName.CARD_RECORD)
        seen["record"] = kiosk.texts()
        yield walk.act("cancel")
        yield walk.wait(ViewName.ERROR)
        yield walk.act("home")
        yield walk.wait(ViewName.HOME)

    kiosk.run(script)
    # the step is one piece: no-break spaces ("Steg 4" never wraps away from "av 6")
    assert any("Steg\u00a01\u00a0av\u00a06" in text for text in seen["insert"]), seen["insert"]
    assert any("Steg\u00a02\u00a0av\u00a06" in text for text in seen["record"]), seen["record"]


def test_only_destructive_actions_are_red() -> None:
    """ "Logga ut" was as red as "Spärra kort" (issue 12.3)."""
    from screens.widgets.common import role_for

    assert role_for("sign_out") == "secondary"
    assert role_for("visit:block") == "danger" and role_for("confirm") == "danger"
    assert role_for("visit:activation") == "primary"


HOLDER_SCREENS = {"pin_choose", "pin_confirm", "pin_current", "sign_receipt", "writing_pin"}


def test_a_full_activation_takes_the_administrator_at_most_12_taps(
    kiosk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Own PIN included (issue 12); the holder's PIN taps and the DEMO panel's card taps
    (a hand putting a card in a reader) are not the administrator's."""
    import screens.driver
    import screens.scripts
    from screens.scripts import Walk, activation, sign_in

    taps: list[str] = []
    real_tap = screens.driver.tap

    def counting_tap(widget: Any) -> None:
        panel = kiosk.app.demo_panel
        in_panel = panel is not None and any(w is panel for w in _parents(widget))
        screen = kiosk.app.current_screen().name
        if not in_panel and screen not in HOLDER_SCREENS:
            taps.append(screen)
        real_tap(widget)

    monkeypatch.setattr(screens.driver, "tap", counting_tap)
    monkeypatch.setattr(screens.scripts, "tap", counting_tap)

    def script(driver: Any) -> Any:
        walk = Walk(driver, kiosk.app.effect_gate, None)
        yield from sign_in(walk, shots=False)
        yield from activation(walk, "anna", shots=False, mistakes=False)

    kiosk.run(script, timeout_s=120)
    print(f"administrator's taps for a full activation: {len(taps)}: {taps}")
    assert len(taps) <= 12, taps


def _parents(widget: Any) -> list[Any]:
    found: list[Any] = []
    while widget is not None and len(found) < 64 and widget not in found:
        found.append(widget)  # (the window is its own parent)
        widget = widget.parent
    return found
