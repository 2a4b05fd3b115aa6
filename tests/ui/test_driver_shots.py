"""The driver's screenshots in a window nobody sees (``shots_only``: the tour, the demo
without a display): only the photographed frames are drawn, and each is the screen as it is."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kiosk.demo_cast import demo_admins
from kiosk.visit.contract import ViewName
from screens.scripts import Walk
from tests.ui.conftest import Harness

pytestmark = pytest.mark.ui


def test_an_offscreen_walk_draws_only_the_frames_it_photographs(
    kiosk: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kivy.clock import Clock
    from kivy.core.window import Window

    from screens.driver import draw_every_frame, save_window_png, skip_unseen_frames

    drawn: list[int] = []  # the frames the window really drew
    window_draw = type(Window).on_draw
    monkeypatch.setattr(type(Window), "on_draw",
                        lambda window: (drawn.append(Clock.frames), window_draw(window))[1])
    frames: dict[str, Any] = {}
    admin = demo_admins(date.today())[0]
    started: list[int] = []

    def script(driver: Any) -> Any:
        driver.on_frame = lambda path, frame: frames.__setitem__(path.stem, frame)
        walk = Walk(driver, kiosk.app.effect_gate, tmp_path)
        started.append(Clock.frames)
        yield from walk.shoot("sign-in")
        yield driver.insert_card(admin.card_number)
        yield walk.wait(ViewName.ADMIN_SIGN_IN, lambda v: v.params.get("stage") == "pin")
        yield from driver.type_pin(admin.pin[:3], submit=False)
        yield from walk.shoot("pin")
        started.append(Clock.frames)  # the walk ends in this frame (drawn once it has)

    draw_every_frame()  # the harness's own skipping off: the driver's shots_only must do it
    try:
        kiosk.run(script, shots_only=True)
    finally:
        skip_unseen_frames()
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["01-sign-in.png", "02-pin.png"]
    # the walk turned the event loop many times, with two frames drawn: its two shots
    assert started[1] - started[0] > 20
    assert len([n for n in drawn if n < started[1]]) == 2, drawn
    assert frames["01-sign-in"].tobytes() != frames["02-pin"].tobytes()
    # the shot is the screen as the window draws it now (the app is where the walk left it)
    window_draw(Window)
    assert save_window_png(tmp_path / "after.png").tobytes() == frames["02-pin"].tobytes()


def test_the_ui_tests_window_draws_only_what_a_test_photographs(
    kiosk: Harness, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The harness's window is offscreen too: turning the event loop draws no frame."""
    from kivy.clock import Clock
    from kivy.core.window import Window

    drawn: list[int] = []
    window_draw = type(Window).on_draw
    monkeypatch.setattr(type(Window), "on_draw",
                        lambda window: (drawn.append(Clock.frames), window_draw(window))[1])
    Window.canvas.ask_update()  # a frame to draw, for a window that draws them
    start = Clock.frames
    kiosk.pump(lambda: Clock.frames >= start + 5)
    assert drawn == []
