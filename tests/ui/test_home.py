"""HOME shows every visit at once on the 10.1" panel, no word of a label broken."""

from __future__ import annotations

from typing import Any

import pytest

from kiosk.visit.contract import ViewName
from screens.scripts import Walk, sign_in
from screens.views.home import _longest_word_px
from tests.ui.conftest import Harness

pytestmark = pytest.mark.ui


def test_every_visit_button_shows_without_scrolling(kiosk: Harness) -> None:
    def script(driver: Any) -> Any:
        walk = Walk(driver, kiosk.app.effect_gate, None)
        yield from sign_in(walk, shots=False)
        yield walk.wait(ViewName.HOME)
        yield driver.frames(3)

    kiosk.run(script)
    home = kiosk.app.current_screen()
    grid = home.ids.visits
    buttons = list(grid.children)
    assert len(buttons) > 6  # the certificate visits joined the six of before
    assert grid.cols == 3
    body = next(w for w in home.walk() if type(w).__name__ == "ScreenBody")
    _x, body_bottom = body.to_window(body.x, body.y)
    _x, body_top = body.to_window(body.x, body.top)
    for button in buttons:
        _x, bottom = button.to_window(button.x, button.y)
        _x, top = button.to_window(button.x, button.top)
        assert body_bottom <= bottom and top <= body_top, button.text
        assert _longest_word_px(button) <= button.text_size[0], button.text
