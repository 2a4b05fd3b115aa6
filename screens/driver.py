"""Drive the running app like a person: wait for a screen, tap real widgets, photograph it.

Used by ``kiosk --demo`` without a display (the autopilot), by ``kiosk --demo --tour``
and by the UI tests. A script is a generator that yields conditions (callables that
return True when the app is ready to go on); between yields it taps widgets. Taps are
real touch events through the window's event loop (``ScriptedTouch``), so they take the
same path as a finger on the panel.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterable
from pathlib import Path
from typing import Any

from kivy.base import EventLoop
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.input.motionevent import MotionEvent
from kivy.uix.widget import Widget

from kiosk.visit.contract import View, ViewName
from screens.widgets.common import scroll_into_view

log = logging.getLogger(__name__)

Condition = Callable[[], bool]
Script = Generator[Condition, None, None]


class DriverTimeout(RuntimeError):
    """A script waited too long for a condition."""


def _ancestor(older: Widget, widget: Widget) -> bool:
    """Whether ``older`` contains ``widget``."""
    node = widget.parent
    while node is not None and node is not node.parent:
        if node is older:
            return True
        node = getattr(node, "parent", None)
    return False


def _clipped(widget: Widget, box: tuple[float, float, float, float]
             ) -> tuple[float, float, float, float] | None:
    """The box as seen through every ScrollView (or other StencilView: the screens' area
    while the keyboard moves them up) around the widget; None if hidden."""
    from kivy.uix.stencilview import StencilView

    x0, y0, x1, y1 = box
    node = widget.parent
    while node is not None and node is not getattr(node, "parent", None):
        if isinstance(node, StencilView):
            sx, sy = node.to_window(node.x, node.y)
            x0, y0 = max(x0, sx), max(y0, sy)
            x1, y1 = min(x1, sx + node.width), min(y1, sy + node.height)
            if x1 - x0 <= 2 or y1 - y0 <= 2:
                return None
        node = getattr(node, "parent", None)
    return (x0, y0, x1, y1)


def _visible(widget: Widget) -> bool:
    """Drawn with some size and not hidden by its own or a parent's opacity."""
    if widget.width <= 1 or widget.height <= 1:
        return False
    node: Any = widget
    while node is not None:
        if getattr(node, "opacity", 1) <= 0:
            return False
        parent = getattr(node, "parent", None)
        node = parent if parent is not node else None
    return True


class ScriptedTouch(MotionEvent):
    """One finger at window pixel (x, y), put into the window's event loop.

    What kivy.tests.common.UnitTestTouch does, without importing that module: it imports
    pytest (+7.5 MB) into the kiosk, the tour and the bench.
    """

    def __init__(self, x: float, y: float) -> None:
        window = EventLoop.window
        super().__init__("scripted", 99, {"x": x / (window.width - 1.0),
                                          "y": y / (window.height - 1.0)},
                         is_touch=True, type_id="touch")
        self.profile = ["pos"]

    def depack(self, args: dict[str, float]) -> None:
        """Position as a fraction of the window (what a touch provider hands Kivy)."""
        self.sx = args["x"]
        self.sy = args["y"]
        super().depack(args)

    def touch_down(self) -> None:
        """The finger lands."""
        EventLoop.post_dispatch_input("begin", self)

    def touch_up(self) -> None:
        """The finger lifts."""
        EventLoop.post_dispatch_input("end", self)


LAST_TAP: list[str] = []  # the last tap's target and position, for timeout reports


def tap(widget: Widget) -> None:
    """A real touch down and up at the widget's centre (scrolled into sight first)."""
    scroll_into_view(widget)
    x, y = widget.to_window(*widget.center)
    LAST_TAP[:] = [f"{type(widget).__name__} {getattr(widget, 'text', '')!r} at "
                   f"({x:.0f}, {y:.0f})"]
    touch = ScriptedTouch(x, y)
    touch.touch_down()
    touch.touch_up()


def save_window_png(path: Path) -> Any:
    """Write the frame just drawn (call from on_flip) as a compact PNG; the RGB frame back."""
    from kivy.graphics.opengl import GL_RGBA, GL_UNSIGNED_BYTE, glReadPixels
    from PIL import Image

    width, height = Window.size
    pixels = glReadPixels(0, 0, width, height, GL_RGBA, GL_UNSIGNED_BYTE)
    image = Image.frombytes("RGBA", (width, height), pixels).transpose(
        Image.Transpose.FLIP_TOP_BOTTOM
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = image.convert("RGB")
    # octree at zlib level 6: ~18 ms a 1280x800 frame and smaller files than median cut
    # with optimize (~86 ms); the tour writes hundreds of them (docs/ui.md)
    frame.quantize(colors=192, method=Image.Quantize.FASTOCTREE).save(path, compress_level=6)
    return frame


_UNSEEN = {"skipping": 0, "shooting": 0}  # who asked to skip unseen frames; shots armed


def _unseen_frame(*_args: Any) -> bool:
    """Bound to the window's on_draw: True (Kivy then leaves the frame undrawn) unless a
    shot waits for this frame."""
    return _UNSEEN["shooting"] == 0


def skip_unseen_frames() -> None:
    """For a window nobody sees (offscreen): draw only the frames a ``Driver.shot`` takes.

    The app runs as before, frame by frame (input, clock, layout, label textures); only
    rendering the frames no one looks at is left out: on llvmpipe that was about half of a
    tour walk's CPU (~850 draws for 54 shots) and two thirds of the UI tests'. A shot's
    frame is drawn whole from the widgets as they are at that moment, as any frame is.
    Counted: every call is undone by one ``draw_every_frame``.
    """
    if _UNSEEN["skipping"] == 0:
        Window.bind(on_draw=_unseen_frame)
    _UNSEEN["skipping"] += 1


def draw_every_frame() -> None:
    """Undo one ``skip_unseen_frames`` (the window draws every frame again after the last)."""
    _UNSEEN["skipping"] -= 1
    if _UNSEEN["skipping"] == 0:
        Window.unbind(on_draw=_unseen_frame)


class Driver:
    """Runs one script on the Kivy clock, a condition per frame, with a timeout per wait.

    ``shots_only``: the window is offscreen, so it draws only the frames the script
    photographs while the script runs (``skip_unseen_frames``).
    """

    def __init__(self, app: Any, timeout_s: float = 30.0, shots_only: bool = False) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self.shots_only = shots_only
        self._skipping = False  # skip_unseen_frames until the script ends
        self._script: Script | None = None
        self._waiting: Condition | None = None
        self._waited = 0.0
        self._on_finish: Callable[[BaseException | None], None] | None = None
        self.shots: list[Path] = []
        self.on_frame: Callable[[Path, Any], None] | None = None  # each shot's frame (tour)

    # --- running ------------------------------------------------------------------------

    def run(self, script: Script, on_finish: Callable[[BaseException | None], None]) -> None:
        """Start ``script``; ``on_finish`` gets None or the error that stopped it."""
        self._script = script
        self._on_finish = on_finish
        if self.shots_only:
            skip_unseen_frames()
            self._skipping = True
        self._advance()
        Clock.schedule_interval(self._poll, 0)

    def _poll(self, dt: float) -> None:
        if self._waiting is None:
            return
        self._waited += dt
        try:
            ready = self._waiting()
        except Exception as exc:
            self._finish(exc)
            return
        if ready:
            self._advance()
        elif self._waited > self.timeout_s:
            shown = self.app.session.shown if self.app.session else None
            where = "nothing"
            if shown is not None:
                view = shown.view
                error = view.error
                where = f"{view.name.value} ({view.message}; {error.code if error else 'no error'}"
                where += f": {error.params})" if error else ")"
            self._finish(DriverTimeout(f"waited {self.timeout_s:.0f} s; showing {where}; "
                                       f"{self._state()}"))

    def _state(self) -> str:
        """What else a timeout report needs: the card, effects in flight, the last tap."""
        app = self.app
        deck = getattr(getattr(app, "services", None), "deck", None)
        current = getattr(deck, "current", None)
        return (f"demo card {app.demo_card!r}, in reader "
                f"{getattr(current, 'card_number', None)!r}, busy "
                f"{getattr(app.session, 'busy', None)}, last tap {LAST_TAP or None}")

    def _advance(self) -> None:
        if self._script is None:
            return
        try:
            self._waiting = next(self._script)
            self._waited = 0.0
        except StopIteration:
            self._finish(None)
        except Exception as exc:
            self._finish(exc)

    def _finish(self, error: BaseException | None) -> None:
        Clock.unschedule(self._poll)
        if self._skipping:
            self._skipping = False
            draw_every_frame()
        self._waiting = None
        if error is not None:
            log.error("script stopped: %s", error)
        if self._on_finish is not None:
            self._on_finish(error)

    # --- conditions ---------------------------------------------------------------------

    def view(self) -> View | None:
        """The view on screen now."""
        shown = self.app.session.shown if self.app.session else None
        return shown.view if shown else None

    def until_view(self, name: ViewName, check: Callable[[View], bool] | None = None,
                   idle: bool = True) -> Condition:
        """Ready when ``name`` is on screen, idle (no effect running), and ``check`` holds.

        ``idle=False`` for a screen shown while its effect runs (the reader's own PIN pad).
        """

        def ready() -> bool:
            view = self.view()
            if view is None or view.name is not name or (idle and self.app.session.busy):
                return False
            if Clock.frames < self.app.shown_frame + 3:
                return False  # laid out and drawn before anyone taps it
            return check is None or check(view)

        return ready

    def waited(self) -> float:
        """Seconds spent on the current wait so far."""
        return self._waited

    def until_view_named(self, name: str) -> Condition:
        """``until_view`` by the view's string name."""
        return self.until_view(ViewName(name))

    def insert_card_named(self, card_number: str) -> Condition:
        """``insert_card`` (for callers that only have the number)."""
        return self.insert_card(card_number)

    def until(self, condition: Callable[[], bool]) -> Condition:
        """Ready when ``condition`` holds."""
        return condition

    def pause(self, seconds: float) -> Condition:
        """Ready after ``seconds`` (e.g. a pressed key's highlight to fade)."""
        until = time.monotonic() + seconds
        return lambda: time.monotonic() >= until

    def frames(self, count: int = 2) -> Condition:
        """Ready after ``count`` more turns of the event loop (layout runs in between)."""
        target = Clock.frames + count
        return lambda: Clock.frames >= target

    def shot(self, path: Path) -> Condition:
        """Ready once the next frame was drawn and saved to ``path``."""
        done: list[bool] = []

        def grab(*_args: Any) -> None:
            Window.unbind(on_flip=grab)
            _UNSEEN["shooting"] -= 1
            frame = save_window_png(path)
            self.shots.append(path)
            if self.on_frame is not None:
                self.on_frame(path, frame)
            done.append(True)

        def arm(_dt: float) -> None:
            _UNSEEN["shooting"] += 1  # this frame is drawn (skip_unseen_frames)
            Window.bind(on_flip=grab)
            Window.canvas.ask_update()

        Clock.schedule_once(arm, 0)
        return lambda: bool(done)

    # --- layout checks ------------------------------------------------------------------

    def overlapping_texts(self) -> list[tuple[str, str]]:
        """Pairs of visible texts on the app's window whose boxes overlap (layout faults)."""
        from screens.widgets.card_art import CardArt

        boxes = []
        for widget in self.app.root.walk(restrict=True):
            text = getattr(widget, "text", None)
            if isinstance(widget, CardArt):
                text = "(the card going into the reader)"  # a picture no text may cover
            if not isinstance(text, str) or not text.strip() or not _visible(widget):
                continue
            x, y = widget.to_window(widget.x, widget.y)
            box = self._uncovered(widget, _clipped(widget, (x, y, x + widget.width,
                                                            y + widget.height)))
            if box is not None:
                boxes.append((widget, text, *box))
        found = []
        for i, (a, ta, ax0, ay0, ax1, ay1) in enumerate(boxes):
            for b, tb, bx0, by0, bx1, by1 in boxes[i + 1:]:
                if _ancestor(a, b) or _ancestor(b, a):
                    continue
                overlap_x = min(ax1, bx1) - max(ax0, bx0)
                overlap_y = min(ay1, by1) - max(ay0, by0)
                if overlap_x > 2 and overlap_y > 2:
                    found.append((ta[:60], tb[:60]))
        return found

    def _uncovered(self, widget: Widget, box: tuple[float, float, float, float] | None
                   ) -> tuple[float, float, float, float] | None:
        """The part of ``box`` the open on-screen keyboard does not cover (it is on top)."""
        keyboard = getattr(self.app, "keyboard", None)
        if box is None or keyboard is None or not keyboard.shown:
            return box
        if widget is keyboard or _ancestor(keyboard, widget):
            return box
        x0, y0, x1, y1 = box
        y0 = max(y0, keyboard.top)
        return (x0, y0, x1, y1) if y1 - y0 > 2 else None

    def clipped_texts(self) -> list[str]:
        """Visible texts drawn larger than their own box or running off the window."""
        found = []
        for widget in self.app.root.walk(restrict=True):
            text = getattr(widget, "text", None)
            texture_size = getattr(widget, "texture_size", None)
            if (not isinstance(text, str) or not text.strip() or texture_size is None
                    or not _visible(widget)):
                continue
            x, y = widget.to_window(widget.x, widget.y)
            seen = self._uncovered(widget, _clipped(widget, (x, y, x + widget.width,
                                                             y + widget.height)))
            if seen is None:
                continue  # scrolled out of sight: the scroll view shows it on demand
            tw, th = texture_size
            x0, y0, x1, y1 = seen  # the part a scroll view shows: the rest scrolls into sight
            outside = x0 < -2 or y0 < -2 or x1 > Window.width + 2 or y1 > Window.height + 2
            if tw > widget.width + 2 or th > widget.height + 2 or outside:
                found.append(text[:60])
        return found

    def broken_words(self) -> list[str]:
        """Visible wrapped texts with a word cut mid-word across lines ("Kortinnehava/re").

        Texts a scroll view hides count too (they scroll into sight cut); a label that
        shortens its text on purpose ("Inloggad: Karin Ko…") does not.
        """
        from screens.measure import broken_words

        found = []
        for widget in self.app.root.walk(restrict=True):
            text = getattr(widget, "text", None)
            core = getattr(widget, "_label", None)
            if (not isinstance(text, str) or not text.strip() or core is None
                    or getattr(widget, "shorten", False) or getattr(widget, "markup", False)
                    or not _visible(widget)):
                continue
            lines = getattr(core, "_cached_lines", None) or []
            drawn = ["".join(word.text for word in line.words) for line in lines]
            cut = broken_words(text, drawn)
            if cut:
                found.append(f"{text[:60]!r} breaks {', '.join(cut)!r}")
        return found

    # --- finding widgets ----------------------------------------------------------------

    def screen(self) -> Any:
        """The screen on display."""
        return self.app.current_screen()

    def button(self, action: str) -> Widget:
        """The visible button for ``action`` on the current screen."""
        for widget in self.screen().walk(restrict=True):
            if getattr(widget, "action", None) == action and not widget.disabled:
                return widget
        raise LookupError(f"no button {action!r} on {self.screen().name}")

    def drag(self, widget: Widget, dy: float, steps: int = 10) -> Iterable[Condition]:
        """A finger from the widget's centre, moved ``dy`` px up (down if negative) over
        ``steps`` frames, and lifted: a scroll by hand. The first step goes with the
        touch-down: a drawn frame can outlast a ScrollView's scroll_timeout (55 ms), after
        which a finger that has not moved is a tap. It lands on the middle of the part of
        the widget in sight."""
        x0, y0 = widget.to_window(widget.x, widget.y)
        box = _clipped(widget, (x0, y0, x0 + widget.width, y0 + widget.height))
        if box is None:
            raise LookupError(f"{type(widget).__name__} is out of sight: nothing to drag")
        x, y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        window = EventLoop.window
        touch = ScriptedTouch(x, y)
        touch.touch_down()
        for step in range(1, steps + 1):
            touch.move({"x": x / (window.width - 1.0),
                        "y": (y + dy * step / steps) / (window.height - 1.0)})
            EventLoop.post_dispatch_input("update", touch)
            yield self.frames(1)
        touch.touch_up()
        yield self.frames(1)

    def type_pin(self, digits: str, submit: bool = True) -> Iterable[Condition]:
        """Tap the digits on the pad (each tap a real touch), then the submit key."""
        pad = self.screen().ids.pad
        for digit in digits:
            tap(pad.digit_keys()[digit])
            yield self.frames(1)
        if submit:
            tap(pad.key("submit"))
            yield self.frames(1)

    def type_text(self, field: Widget, text: str) -> Iterable[Condition]:
        """Tap ``field``, type ``text`` key by key on the on-screen keyboard, tap its "Klar".

        Digits on the letters keyboard are typed on its 123 page, as a person would.
        """
        keyboard = self.app.keyboard
        tap(field)
        yield self.until(lambda: keyboard.shown and keyboard.target == field)
        yield self.frames(1)
        for char in text:
            keys = keyboard.keys()
            if char not in keys and char.upper() not in keys:
                page = "digits" if "digits" in keys else "letters"
                if page not in keys:
                    raise LookupError(f"no key {char!r} on the {keyboard.mode} keyboard")
                tap(keys[page])
                yield self.frames(1)
                keys = keyboard.keys()
            key = keys.get(char) or keys.get(char.upper())
            if key is None:
                raise LookupError(f"no key {char!r} on the {keyboard.mode} keyboard")
            tap(key)
            yield self.frames(1)
        tap(keyboard.keys()["done"])
        yield self.until(lambda: not keyboard.shown)

    def type_on_reader(self, digits: str) -> Iterable[Condition]:
        """Type on the simulated reader's own keypad (demo panel), press OK, see it take them."""
        panel = self.app.demo_panel
        if panel is None:
            raise LookupError("no demo panel")
        yield self.until(lambda: bool(panel.pad_prompt))
        asked = panel.pad_prompt
        keys = panel.reader_keys()
        for digit in digits:
            tap(keys[digit])
            yield self.frames(1)
        tap(keys["OK"])
        yield self.until(lambda: panel.pad_prompt != asked)

    def insert_card(self, card_number: str) -> Condition:
        """Tap the demo panel's button for ``card_number`` (scrolled into sight first).

        The demo panel stands in for putting a card in the reader; a card far down its
        scrolling list did not always take a scripted tap (the scroll view's delayed touch
        hand-over), so if the card is not in after a few frames its button's own handler
        inserts it, as the tap would have."""
        panel = self.app.demo_panel
        if panel is None:
            raise LookupError("no demo panel")
        button = panel.card_buttons()[card_number]
        tap(button)
        start = Clock.frames

        def ready() -> bool:
            if self.app.demo_card == card_number:
                return Clock.frames >= start + 2
            if Clock.frames >= start + 30:
                button.dispatch("on_release")
                return self.app.demo_card == card_number
            return False

        return ready

    def remove_card(self) -> Condition:
        """Tap the demo panel's remove button."""
        panel = self.app.demo_panel
        if panel is None:
            raise LookupError("no demo panel")
        tap(panel.ids.remove_button)
        return self.frames(2)
