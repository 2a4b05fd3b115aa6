"""Screens are built when first shown and kept; one screen in the window after fast switches."""

from __future__ import annotations

from typing import Any

from kiosk.visit.contract import View, ViewName
from screens.shell import Shown
from screens.texts import tr
from tests.ui.conftest import Harness


def _shown(name: ViewName) -> Shown:
    return Shown(View(name, "ui.app.name", "ui.app.starting"), False)


def _shown_with_error(name: ViewName) -> Shown:
    """A view whose error panel shows a message and its next step (labels of the screen's
    own: the header is the one every screen shares)."""
    from kiosk.errors import CardRemoved
    from screens.texts import error_view_for

    view = View(name, "ui.app.name", "ui.app.starting", error=error_view_for(CardRemoved()))
    return Shown(view, False)


def _own_labels(screen: Any) -> list[Any]:
    """The screen's labels that have a texture, but not the shared header's."""
    from kivy.uix.label import Label

    header = set(screen.ids.header.walk(restrict=True)) if "header" in screen.ids else set()
    return [w for w in screen.walk(restrict=True)
            if isinstance(w, Label) and w.texture is not None and w not in header]


def test_a_screen_is_built_when_first_shown_then_reused(kiosk: Harness) -> None:
    app = kiosk.app
    app.screens.pop(ViewName.DONE.value, None)  # other tests may have shown it already
    assert ViewName.DONE.value not in app.screens
    app.show(_shown(ViewName.DONE))
    built = app.screens[ViewName.DONE.value]
    assert app.current_screen() is built
    kiosk.pump(lambda: tr("ui.app.starting", app.lang) in kiosk.texts(), timeout_s=10)
    app.show(app.session.shown)  # back to the sign-in screen the flow is on
    assert app.current_screen().name == ViewName.ADMIN_SIGN_IN.value
    assert built.parent is None
    app.show(_shown(ViewName.DONE))
    assert app.screens[ViewName.DONE.value] is built
    app.show(app.session.shown)


def test_two_switches_before_a_frame_leave_only_the_last_screen(kiosk: Harness) -> None:
    app = kiosk.app
    app.show(_shown(ViewName.DONE))
    app.show(_shown(ViewName.ERROR))
    from kivy.clock import Clock

    drawn = Clock.frames
    kiosk.pump(lambda: Clock.frames >= drawn + 2, timeout_s=10)
    stage = app.root.ids.stage
    assert [child.name for child in stage.children] == [ViewName.ERROR.value]
    assert app.screens[ViewName.DONE.value].parent is None
    app.show(app.session.shown)
    kiosk.pump(lambda: app.current_screen().name == ViewName.ADMIN_SIGN_IN.value)
    assert [child.name for child in stage.children] == [ViewName.ADMIN_SIGN_IN.value]


def test_a_screen_off_display_lets_go_of_its_label_textures_and_draws_them_again(
    kiosk: Harness,
) -> None:
    """A kept screen holds no text pixels while another is shown (issue 16: ~0.7 MB a
    screen in the renderer); shown again, every label has its texture, the same size."""
    from kivy.clock import Clock

    app = kiosk.app
    app.show(_shown_with_error(ViewName.DONE))
    frame = Clock.frames
    kiosk.pump(lambda: Clock.frames >= frame + 2, timeout_s=10)
    done = app.screens[ViewName.DONE.value]
    drawn = {label: tuple(label.texture_size) for label in _own_labels(done)}
    assert len(drawn) >= 3  # the error's message, "what to do next" and its next step
    app.show(app.session.shown)  # back to the sign-in screen the flow is on
    assert all(label.texture is None for label in drawn)
    assert all(tuple(label.texture_size) == size for label, size in drawn.items())
    app.show(_shown_with_error(ViewName.DONE))
    frame = Clock.frames
    kiosk.pump(lambda: Clock.frames >= frame + 2, timeout_s=10)
    assert all(label.texture is not None for label in drawn)
    assert {label: tuple(label.texture_size) for label in drawn} == drawn
    app.show(app.session.shown)


def test_a_screen_switch_gives_the_freed_heap_back_once_quiet(kiosk: Harness) -> None:
    """What the left screen let go of (its textures) goes back to the system: the heap
    trimmer runs after a switch, on its own thread, once the UI has been quiet 0.5 s."""
    import time

    app = kiosk.app
    trimmer = app.services.trimmer
    settled = time.monotonic() + 1.5  # earlier work's trims are done
    kiosk.pump(lambda: time.monotonic() > settled, timeout_s=10)
    before = trimmer.trims
    app.show(_shown(ViewName.DONE))
    kiosk.pump(lambda: trimmer.trims > before, timeout_s=10)
    app.show(app.session.shown)


def test_a_larger_text_toggle_leaves_the_screens_off_display_without_label_textures(
    kiosk: Harness,
) -> None:
    """The holder's larger text changes every font, off display too: the kept screens'
    labels render at the new size (the next frame), then let go again; shown again, they
    are drawn at the size now in force."""
    from kivy.clock import Clock

    def frames(count: int = 3) -> None:
        target = Clock.frames + count
        kiosk.pump(lambda: Clock.frames >= target, timeout_s=10)

    app = kiosk.app
    app.show(_shown_with_error(ViewName.DONE))
    frames()
    done = app.screens[ViewName.DONE.value]
    labels = _own_labels(done)
    assert len(labels) >= 3
    standard = {label: tuple(label.texture_size) for label in labels}
    app.show(app.session.shown)  # back to the sign-in screen the flow is on
    try:
        app.toggle_large_text()
        frames()
        assert [label for label in labels if label.texture is not None] == []
        app.show(_shown_with_error(ViewName.DONE))
        frames()
        assert all(label.texture is not None for label in labels)
        larger = {label: tuple(label.texture_size) for label in labels}
        assert all(larger[label][1] > standard[label][1] for label in labels)
        app.show(app.session.shown)
    finally:
        app.set_large_text(False)
    frames()
    assert [label for label in labels if label.texture is not None] == []
    app.show(_shown_with_error(ViewName.DONE))
    frames()
    assert {label: tuple(label.texture_size) for label in labels} == standard
    app.show(app.session.shown)


def test_an_error_panel_builds_its_lines_when_it_first_has_a_message(kiosk: Harness) -> None:
    """Most screens never show an error: their panel has no lines until it first must
    (issue 16); then the lines follow the panel's texts, and it collapses without one."""
    from kivy.clock import Clock

    from screens.widgets.common import ErrorPanel

    panel = ErrorPanel()  # as every screen's is built (other tests showed errors on theirs)
    frame = Clock.frames
    kiosk.pump(lambda: Clock.frames >= frame + 2, timeout_s=10)
    assert panel.message == "" and panel.lines is None and panel.height == 0
    panel.next_heading, panel.next_step = "Nästa steg", "Sätt i kortet igen."
    panel.message = "Kortet kunde inte läsas."
    frame = Clock.frames
    kiosk.pump(lambda: Clock.frames >= frame + 2, timeout_s=10)
    texts = [label.text for label in reversed(panel.lines.children)]
    assert texts == ["Kortet kunde inte läsas.", "Nästa steg", "Sätt i kortet igen."]
    assert panel.height > panel.lines.height > 0
    panel.message = panel.next_step = ""
    kiosk.pump(lambda: panel.height == 0, timeout_s=10)


def test_every_screen_shows_the_one_header_in_its_own_place(kiosk: Harness) -> None:
    """One header for every screen (issue 16): the screen on display has it, with its
    view's title; the kept screens have an empty place."""
    app = kiosk.app
    app.show(_shown(ViewName.DONE))
    done = app.screens[ViewName.DONE.value]
    header = done.ids.header
    assert header.parent is done.ids.header_place.__self__
    assert header.title == tr("ui.app.name", app.lang)
    app.show(app.session.shown)  # back to the sign-in screen the flow is on
    sign_in = app.current_screen()
    assert sign_in.ids.header is header
    assert header.parent is sign_in.ids.header_place.__self__
    assert done.ids.header_place.children == []
    assert header.title != tr("ui.app.name", app.lang)
