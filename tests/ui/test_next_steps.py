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
    from kiosk.demo import demo_holder
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
    assert any("Steg 1 av 6" in text for text in seen["insert"]), seen["insert"]
    assert any("Steg 2 av 6" in text for text in seen["record"]), seen["record"]


def test_only_destructive_actions_are_red() -> None:
    """ "Logga ut" was as red as "Spärra kort" (issue 12.3)."""
    from screens.widgets.common import role_for

    assert role_for("sign_out") == "secondary"
    assert role_for("visit:block") == "danger" and role_for("confirm") == "danger"
    assert role_for("visit:activation") == "primary"
