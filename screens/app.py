"""The App: the GUI composition root. Settings -> services -> flows -> screens.

Effects run on worker threads (DeskSession's executor); their outcomes come back
through Clock.schedule_once into the flow, so the UI thread never waits on a device.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.metrics import Metrics
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.stencilview import StencilView
from kivy.uix.widget import Widget

from kiosk.i18n import LANGUAGES
from kiosk.settings import Settings
from kiosk.visit.contract import Flow, View, ViewName
from screens.compose import Composition
from screens.effect_gate import EffectGate
from screens.handover import HandOver
from screens.measure import Panel, font_px_for_cap, panel_for, panel_problem
from screens.ops import Operations
from screens.scanning import DocumentScan
from screens.shell import DeskSession, Shown
from screens.texts import error_view_for, has_key, tr
from screens.theme import COLOURS, HIGH_CONTRAST
from screens.views import screen_class
from screens.views.base import KioskScreen, ScreenContext
from screens.widgets import common, progress  # noqa: F401  (the first view's widgets)

if TYPE_CHECKING:
    from screens.widgets.demo_panel import DemoPanel

if TYPE_CHECKING:  # the event and effect classes are loaded with the flows, after the first frame
    from kiosk.ports import CardEvent
    from kiosk.visit.effects import Effect
    from kiosk.visit.events import Outcome
    from screens.widgets.guide_cover import GuideLayer
    from screens.widgets.idle_warning import IdleWarning
    from screens.widgets.keyboard import OnScreenKeyboard

log = logging.getLogger(__name__)

DESIGN_SIZE = (1280, 800)
ADMIN_ONLY_VIEWS = frozenset({ViewName.HOME, ViewName.ADMIN_SIGN_IN})
FIRST_VIEW = ViewName.WORKING  # "starting": on screen until the services are composed


def release_label_surfaces() -> None:
    """Kivy's SDL2 text provider keeps each label's last SDL surface (its RGBA pixels) after
    copying them into the label's texture; drop it once copied (~11 MB over the kiosk's
    screens, issue 16). Labels render as before: the next render makes a new surface."""
    try:
        from kivy.core.text import text_sdl2
    except ImportError:  # another text provider: nothing kept
        return
    provider = text_sdl2.LabelSDL2
    if getattr(provider, "_kiosk_drops_surface", False):
        return

    def render_end(label: Any) -> Any:
        data = label._surface.get_data()  # ImageData: a copy of the pixels
        del label._surface
        return data

    provider._render_end = render_end
    provider._kiosk_drops_surface = True


def load_screen_widgets() -> None:
    """The widgets (and their kv rules) the other screens use but the first view does not:
    PIN pad, card art, camera preview, the on-screen keyboard's fields, the hand-over cover
    and the idle warning. Loaded once the first frame is drawn (issue 16: ~0.09 s of
    kv parsing and imports, kivy.uix.textinput among them)."""
    from screens.widgets import (  # noqa: F401
        camera_preview,
        card_art,
        guide_cover,
        idle_warning,
        keyboard,
        pin_pad,
    )


COMPOSE_AT_THE_LATEST_S = 1.0  # the services start on the first frame, or after this
LARGE_TEXT = 1.3  # the holder's larger-text mode: every font this much larger
DEMO_PANEL_WIDTH = 230  # the demo's side panel, in app.s units (its place on the first frame)


def key_size_px(panel: Panel, window_height: int, min_key_mm: float) -> int:
    """PIN-pad key edge in pixels: at least ``min_key_mm`` on the panel, ~11% of its height.

    Pixels per millimetre come from the panel's physical size in settings (the panel's
    own DPI is often misreported over HDMI/DSI); without it, from Metrics.dpi.
    """
    return max(panel.px(min_key_mm), round(window_height * 0.11))


class ClipArea(FloatLayout, StencilView):
    """Where the screens live: drawn only inside itself, so a screen shifted up for the
    on-screen keyboard never paints over the top bar."""

    shift = NumericProperty(0.0)  # how far the screens are moved up (px)


class KioskRoot(BoxLayout):
    """Top bar, notice, screens, and the demo panel in demo mode."""

    admin_text = StringProperty("")
    lang_text = StringProperty("")
    large_text_text = StringProperty("")
    notice = StringProperty("")
    demo_text = StringProperty("")
    help_text = StringProperty("")  # the top bar's help button; empty: none for this screen


class KioskApp(App):
    """The kiosk's touchscreen application."""

    s = NumericProperty(1.0)  # layout scale: 1.0 on the 1280x800 design size
    ts = NumericProperty(1.0)  # text scale: s, times LARGE_TEXT in the larger-text mode
    # The same two for base class rules (WrapLabel, KioskButton, PinKey): set first, so a
    # rule that overrides a base rule's font_size with ts/text_px is applied after it
    # when they change (Kivy keeps both rules' bindings; the later dispatch wins).
    ts0 = NumericProperty(1.0)
    text_px0 = NumericProperty(25)
    text_min = NumericProperty(25)  # the smallest font at the standard size (3 mm capitals)
    key_px = NumericProperty(89)  # PIN-pad key edge, >= settings.ui.min_key_mm on the panel
    touch_px = NumericProperty(71)  # smallest touch target, >= settings.ui.min_target_mm
    text_px = NumericProperty(25)  # smallest font: capitals >= settings.ui.min_text_cap_mm
    px_per_mm = NumericProperty(5.9)
    compact = BooleanProperty(False)  # a short panel (7" 800x480): secondary texts fold away
    large_text = BooleanProperty(False)  # larger text, high contrast (the holder's switch)
    C = ObjectProperty(COLOURS)  # the palette in use: kv rules read app.C["name"]
    lang = StringProperty("sv")

    def __init__(
        self,
        *,
        settings: Settings,
        compose: Callable[[], Composition],
        demo: bool = False,
        on_ready: Callable[[KioskApp], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.compose = compose
        self.composition: Composition | None = None
        self._compose_started = False
        self.services: Any = None
        self.demo = demo
        self.effect_gate = EffectGate(self._run_effect)
        self.on_ready = on_ready
        self.lang = settings.ui.language if settings.ui.language in LANGUAGES else "sv"
        self.title = tr("ui.app.name", self.lang)
        self.session: DeskSession | None = None
        # the screens built so far, by view name: each is built when first shown, then kept
        self.screens: dict[str, KioskScreen] = {}
        self.current_name = ""
        self.idle_warning: IdleWarning | None = None
        self.hand_over = HandOver()  # who has the screen (administrator or holder)
        self.guide: GuideLayer | None = None  # the hand-over and help cover
        self.keyboard: OnScreenKeyboard | None = None
        self.demo_panel: DemoPanel | None = None
        self._demo_place: Widget | None = None  # where the panel goes, until it is built
        self._watcher: threading.Thread | None = None
        self.scan: DocumentScan | None = None
        self.frame_source: Any = None  # the camera while DOCUMENT_CHECK is on screen
        self.demo_card: str | None = None  # the simulated card last put in the reader
        self._stopping = threading.Event()
        self.frames_drawn = 0
        self.shown_frame = 0  # Clock.frames when the current view was rendered
        self.ops: Operations | None = None  # watchdog, background sync, banner, signals
        self.exit_code = 0  # 75 after SIGHUP: systemd restarts the kiosk
        self.handle_signals = False  # SIGHUP/SIGTERM handlers (set by screens.launch)
        self._panel_warned: str | None = None

    # --- building ---------------------------------------------------------------------

    def build(self) -> KioskRoot:
        """Window, screens, session; then the first view."""
        Window.clearcolor = COLOURS["background"]
        self._rescale()
        root = KioskRoot()
        if self.demo:  # the panel itself comes with the rest (_finish_building): ~7 ms
            self._demo_place = Widget(size_hint_x=None, width=self.s * DEMO_PANEL_WIDTH)
            root.ids.side.add_widget(self._demo_place)
        self.scan = DocumentScan(
            None,
            self.settings.scanner,
            post=lambda fn: Clock.schedule_once(lambda _dt: fn(), 0),
            deliver=self._scan_update,
        )
        self.session = DeskSession(
            make_flow=self._make_flow,
            clock=self,
            run_effect=self.effect_gate,
            post=lambda fn: Clock.schedule_once(lambda _dt: fn(), 0),
            show=self.show,
            ui=self.settings.ui,
            on_signed_out=self._forget_session_key,
        )
        Window.bind(on_touch_down=self._touched, size=lambda *_: self._rescale())
        Window.bind(on_flip=self._flipped)
        Clock.schedule_interval(self._tick, 0.5)
        self.ops = Operations(self)
        self.ops.install(root)
        return root

    def _finish_building(self) -> None:
        """What the first view does not show: the on-screen keyboard, the hand-over and help
        cover, the idle warning, and the other screens' widgets. Built once the first frame
        is drawn (or before any other view is shown, whichever comes first)."""
        if self.keyboard is not None or self.root is None:
            return
        load_screen_widgets()
        from screens.widgets.guide_cover import GuideLayer
        from screens.widgets.idle_warning import IdleWarning
        from screens.widgets.keyboard import OnScreenKeyboard

        root = self.root
        if self.demo:
            from screens.widgets.demo_panel import DemoPanel

            side = root.ids.side
            side.remove_widget(self._demo_place)
            self.demo_panel = DemoPanel(
                insert_handler=self.demo_insert, remove_handler=self.demo_remove,
                remove_admin_handler=self.demo_remove_admin,
            )
            side.add_widget(self.demo_panel)
        self.idle_warning = IdleWarning(stay_handler=self._stay)
        keyboard = OnScreenKeyboard()
        keyboard.on_shift = self._shift_screens
        root.ids.clip.add_widget(keyboard)
        self.guide = GuideLayer(root.ids.clip, root.ids.stage)
        self.keyboard = keyboard
        self._refresh_chrome()

    def on_start(self) -> None:
        """The window is up: show "starting", and once it is drawn compose the services on a
        worker (started earlier, the worker's imports would hold the GIL the first frame
        waits for; a window that never flips still gets its services after a second)."""
        self.show(Shown(View(ViewName.WORKING, "ui.app.name", "ui.app.starting"), False))
        Window.bind(on_flip=self._compose_after_first_frame)
        Clock.schedule_once(self._compose_after_first_frame, COMPOSE_AT_THE_LATEST_S)

    def _compose_after_first_frame(self, *_args: Any) -> None:
        Window.unbind(on_flip=self._compose_after_first_frame)
        if self._compose_started:
            return
        self._compose_started = True
        # the rest of the window is built on the next tick, while the services compose
        Clock.schedule_once(lambda _dt: self._finish_building(), 0)

        def work() -> None:
            try:
                composition = self.compose()
            except Exception as exc:  # shown on screen with its next step, and logged
                log.exception("the kiosk's services did not start")
                Clock.schedule_once(lambda _dt, failure=exc: self._failed_to_start(failure), 0)
                return
            Clock.schedule_once(lambda _dt: self._services_ready(composition), 0)

        threading.Thread(target=work, name="kiosk-compose", daemon=True).start()

    def _services_ready(self, composition: Composition) -> None:
        if self._stopping.is_set():
            composition.close()
            return
        self.composition = composition
        self.services = composition.services
        self._finish_building()
        if self.scan is not None:
            self.scan.scanner = getattr(self.services, "scanner", None)
        self._start_watcher()
        self._connect_demo_reader_pad()
        if self.session is not None:
            self.session.begin()
        if self.ops is not None:
            self.ops.services_ready(self.services)
        self._refresh_chrome()
        ready = self.on_ready
        if ready is not None:
            Clock.schedule_once(lambda _dt: ready(self), 0)

    def _failed_to_start(self, exc: BaseException) -> None:
        if self.ops is not None:
            self.ops.services_failed(exc)
        view = View(ViewName.ERROR, "ui.app.name", "ui.app.not_started", error=error_view_for(exc))
        self.show(Shown(view, True))

    def _make_flow(self) -> Flow:
        if self.composition is None:
            raise RuntimeError("services are not ready")
        return self.composition.make_flow()

    def _run_effect(self, effect: Effect) -> Outcome:
        if self.composition is None or self.composition.run_effect is None:
            raise RuntimeError("services are not ready")
        return self.composition.run_effect(effect)

    def now(self) -> datetime:
        """The services' clock once they are up (the session's Clock port)."""
        clock = getattr(self.composition, "clock", None)
        return clock.now() if clock is not None else datetime.now(UTC)

    def on_stop(self) -> None:
        """Wipe the visit, stop the watcher and the workers."""
        self._stopping.set()
        if self.ops is not None:
            self.ops.stop()
        reader = getattr(self.services, "reader", None)
        if reader is not None:
            reader.cancel()
        if self.scan is not None:
            self.scan.stop()
        if self.session is not None:
            self.session.shutdown()
        if self.composition is not None:
            self.composition.close()

    # --- rendering ----------------------------------------------------------------------

    def context(self, view: ViewName | None = None) -> ScreenContext:
        """What the screens need besides the view (``view``'s screen: the holder's document
        picture only for the screen that shows it; every screen keeps its last context)."""
        if self.session is None:
            raise RuntimeError("no session yet")
        extras: dict[str, Any] = {"key_click": self.settings.ui.key_click}
        if view is ViewName.DOCUMENT_CONFIRM and self.scan is not None:
            extras["document_snapshot"] = self.scan.snapshot
        return ScreenContext(
            lang=self.lang,
            input=self.session,
            shuffle_pin_pad=self.settings.ui.shuffle_pin_pad,
            pin_length=self.settings.pin_policy.length,
            frame_source=self.frame_source,
            extras=extras,
        )

    def show(self, shown: Shown) -> None:
        """Render a view on its screen and bring the screen up."""
        self._camera_for(shown.view.name)
        if shown.view.name in ADMIN_ONLY_VIEWS:  # the holder's visit is over
            if self.large_text:
                self.set_large_text(False)  # the holder's choice ends with their visit
            if self.scan is not None:
                self.scan.snapshot = None  # and the picture of their document (~1.3 MB)
        screen = self._screen(shown.view.name)
        self.shown_frame = Clock.frames
        screen.render(shown, self.context(shown.view.name))
        self._bring_up(screen)
        self._cover_for(shown.view.name, screen)
        self._refresh_chrome()
        trimmer = getattr(self.services, "trimmer", None)
        if trimmer is not None:  # the left screen's textures go back to the system when quiet
            trimmer.poke()

    # --- hand-over and help (issue 12.3, 12.7) ----------------------------------------------

    def _cover_for(self, name: ViewName, screen: KioskScreen) -> None:
        """A hand-over when the screen changes hands; help closes when the view changes."""
        side = self.hand_over.shown(name)
        guide = self.guide
        if guide is None:  # only the first view has been shown: nothing to cover
            return
        if side is None:
            guide.take_down()
            return
        lang = self.lang
        texts = tuple(tr(f"ui.handover.{side.value}.{part}", lang)
                      for part in ("title", "message", "go"))
        guide.show(side.value, (texts[0], texts[1], texts[2]), screen, self._taken_over)

    def _taken_over(self) -> None:
        """The person handed the screen tapped "it is me – continue"."""
        self.hand_over.taken()
        if self.guide is not None:
            self.guide.take_down()
        self._refresh_chrome()

    def help_key(self) -> str | None:
        """The help text of the screen on display, if it has one and nothing covers it."""
        key = f"ui.help.{self.current_name}"
        up = self.guide is not None and self.guide.up
        return key if self.current_name and not up and has_key(key, self.lang) else None

    def open_help(self) -> None:
        """The top bar's help: a short text for this step over the screen, and "Tillbaka"."""
        key = self.help_key()
        if key is None or self.guide is None or not self.current_name:
            return
        lang = self.lang
        title = tr("ui.help.title", lang)
        shown = self.session.shown if self.session is not None else None
        if shown is not None and "step" in shown.view.params:  # "Hjälp · Steg 2 av 6"
            title = f"{title} · {tr('ui.step', lang, **shown.view.params)}"
        texts = (title, tr(key, lang), tr("ui.help.back", lang))
        self.guide.show("help", texts, self.current_screen(), self.close_help)
        self._refresh_chrome()

    def close_help(self) -> None:
        """Back from help to the screen."""
        if self.guide is not None and self.guide.cover.kind == "help":
            self.guide.take_down()
        self._refresh_chrome()

    def _camera_for(self, name: ViewName) -> None:
        """The camera and the scan run exactly while the document check is on screen."""
        scan = self.scan
        if scan is None:
            return
        if name is ViewName.DOCUMENT_CHECK and self.frame_source is None:
            self.frame_source = self._document_source()
            scan.start(self.frame_source)
        elif name is not ViewName.DOCUMENT_CHECK and self.frame_source is not None:
            self.frame_source = None
            scan.stop()

    def _document_source(self) -> Any:
        """The configured camera; in the demo, the inserted holder's bundled document."""
        if self.demo and self.demo_card is not None:
            from datetime import date

            from hardware.camera.sources import FolderSource
            from kiosk.demo_cast import demo_holders
            from screens.scanning import demo_document_folder

            holder = next((h for h in demo_holders(date.today())
                           if h.card_number == self.demo_card), None)
            state_dir = getattr(self.services, "state_dir", None)
            if holder is not None and state_dir is not None:
                folder = demo_document_folder(state_dir, holder.key)
                if folder is not None and hasattr(self.scan and self.scan.scanner,
                                                  "start_session"):
                    from hardware.scan.worker import WorkerCamera

                    return WorkerCamera(f"folder:{folder}", self.settings.camera, fps=10)
                if folder is not None:
                    return FolderSource(str(folder), self.settings.camera, fps=10)
        return getattr(self.services, "camera", None)

    def _scan_update(self, update: Any) -> None:
        """A scan result while the document check is on screen: to the flow as an event."""
        session = self.session
        if session is None or session.shown is None:
            return
        if session.shown.view.name is not ViewName.DOCUMENT_CHECK:
            return
        from kiosk.visit.events import DocumentScanned, ScanFailed

        if update.kind == "evidence" and update.evidence is not None:
            session.send(DocumentScanned(update.evidence))
        elif update.kind == "error" and update.error is not None:
            session.send(ScanFailed(update.error))

    def current_screen(self) -> KioskScreen:
        """The screen on display."""
        return self.screens[self.current_name]

    def _screen(self, name: ViewName) -> KioskScreen:
        """The screen for ``name``; built when first shown (~5-15 ms), then kept."""
        # a screen never shown costs nothing: all 18 built at start held 14 MB (docs/ui.md)
        screen = self.screens.get(name.value)
        if screen is None:
            if name is not FIRST_VIEW:
                self._finish_building()
            # its module and .kv load here too: start-up parses only what the first view needs
            screen = screen_class(name)(name=name.value, view_name=name.value)
            self.screens[name.value] = screen
        return screen

    def _bring_up(self, screen: KioskScreen) -> None:
        """Exactly one screen in the window: the old one leaves before the new one enters.

        (A ScreenManager switched twice within one transition can leave the old screen
        in the tree, drawn under the new one.) The old screen is kept for its next showing:
        dropping it costs a 50-120 ms garbage collection on the UI thread (docs/ui.md).
        """
        if self.root is None or self.current_name == screen.name:
            return
        stage = self.root.ids.stage
        if self.keyboard is not None:
            self.keyboard.detach()  # a field of the old screen lets go
        old = self.screens.get(self.current_name)
        if old is not None and old.parent is not None:
            old.parent.remove_widget(old)
            old.dispatch("on_leave")
        stage.add_widget(screen)
        self.current_name = screen.name
        screen.dispatch("on_enter")

    def _shift_screens(self, px: float) -> None:
        """Move the screens up by ``px`` (the on-screen keyboard covers the bottom)."""
        if self.root is None:
            return
        clip = self.root.ids.clip
        clip.shift = px
        self.root.ids.side.pos_hint = {"x": 0, "y": px / clip.height if clip.height else 0}

    def switch_language(self) -> None:
        """Swedish <-> English; the current view is drawn again in the other language."""
        self.lang = "en" if self.lang == "sv" else "sv"
        if self.session is not None:
            self.session.touched()
            if self.session.shown is not None:
                self.show(self.session.shown)
        self._refresh_chrome()

    def _refresh_chrome(self) -> None:
        root, session = self.root, self.session
        if root is None or session is None:
            return
        lang = self.lang
        admin = session.admin
        root.admin_text = (tr("ui.admin.signed_in", lang, name=getattr(admin, "name", ""))
                           if admin is not None else tr("ui.admin.not_signed_in", lang))
        root.lang_text = tr("ui.lang.switch_to", lang)
        root.large_text_text = tr("ui.large_text", lang)
        root.help_text = tr("ui.help.button", lang) if self.help_key() else ""
        if self.keyboard is not None:
            self.keyboard.set_texts({kind: tr(f"ui.kb.{kind}", lang) for kind in (
                "back", "done", "space", "shift", "digits", "letters")})
        root.notice = tr(session.notice, lang) if session.notice else ""
        root.demo_text = tr("ui.app.demo_badge", lang) if self.demo else ""
        if self.demo_panel is not None:
            self.demo_panel.title = tr("ui.demo.panel_title", lang)
            self.demo_panel.hint = tr("ui.demo.panel_hint", lang)
            self.demo_panel.remove_text = tr("ui.demo.remove", lang)
            two = bool(getattr(getattr(self.services, "deck", None), "two_readers", False))
            self.demo_panel.remove_admin_text = tr("ui.demo.remove_admin", lang) if two else ""
            self.demo_panel.set_cards(self._demo_cards())
            self.demo_panel.pad_cancel_text = tr("ui.demo.reader.cancel", lang)
            self.demo_panel.pad_hint = tr("ui.demo.reader.hint", lang)
            self._show_demo_pad_prompt()
        if self.idle_warning is not None:  # the kind the countdown leads to, as _tick sets it
            self.idle_warning.title = tr(f"ui.{session.idle_kind}.title", lang)
            self.idle_warning.stay_text = tr(f"ui.{session.idle_kind}.stay", lang)
        if self.ops is not None:
            self.ops.refresh_banner()

    def panel(self) -> Panel:
        """Pixels per millimetre of the window, from the panel's size in settings."""
        ui = self.settings.ui
        width, height = Window.size
        return panel_for(width, height, ui.panel_width_mm, ui.panel_height_mm, ui.rotation,
                         Metrics.dpi)

    def _rescale(self) -> None:
        width, height = Window.size
        self.s = min(width / DESIGN_SIZE[0], height / DESIGN_SIZE[1])
        ui = self.settings.ui
        panel = self.panel()
        problem = panel_problem(panel, width, height, ui.panel_width_mm, ui.panel_height_mm)
        if problem is not None and problem != self._panel_warned:
            log.warning("panel size: %s", problem)
        self._panel_warned = problem
        scale = LARGE_TEXT if self.large_text else 1.0
        self.px_per_mm = panel.px_per_mm
        self.key_px = key_size_px(panel, height, ui.min_key_mm)
        self.touch_px = panel.px(ui.min_target_mm)
        self.text_min = font_px_for_cap(ui.min_text_cap_mm, panel)
        text_px = math.ceil(self.text_min * scale)
        self.ts0, self.text_px0 = self.s * scale, text_px
        self.text_px, self.ts = text_px, self.s * scale
        self.compact = height < 600
        # the kept screens' labels render at the new sizes on the next frame, off display too
        Clock.schedule_once(self._let_go_off_display, 0)

    def _let_go_off_display(self, _dt: float) -> None:
        """The screens off display let go of the label textures a rescale made again."""
        for screen in self.screens.values():
            if screen.parent is None:
                screen.let_go()

    def toggle_large_text(self) -> None:
        """Larger text and high contrast on or off (the holder's switch, on every screen)."""
        self.set_large_text(not self.large_text)

    def set_large_text(self, on: bool) -> None:
        """Larger text and the high-contrast palette, or back to the standard ones."""
        if self.session is not None:
            self.session.touched()
        self.large_text = on
        self.C = HIGH_CONTRAST if on else COLOURS
        Window.clearcolor = self.C["background"]
        self._rescale()

    # --- input and time ---------------------------------------------------------------

    def _touched(self, _window: Any, _touch: Any) -> None:
        if self.session is not None:
            hadnotice = bool(self.session.notice)
            self.session.touched()
            if hadnotice:
                self._refresh_chrome()
        if self.idle_warning is not None and self.idle_warning.parent is not None:
            self.idle_warning.dismiss()

    def _stay(self) -> None:
        if self.session is not None:
            self.session.touched()

    def _tick(self, _dt: float) -> None:
        session, warning = self.session, self.idle_warning
        if session is None or warning is None:
            return
        before = session.shown
        session.tick()
        left = session.idle_seconds_left()
        if left is not None and left > 0:
            kind = session.idle_kind  # "lock": the session locks; "idle": the visit ends
            warning.title = tr(f"ui.{kind}.title", self.lang)
            warning.stay_text = tr(f"ui.{kind}.stay", self.lang)
            warning.message = tr(f"ui.{kind}.message", self.lang, seconds=math.ceil(left))
            if warning.parent is None:
                warning.open(animation=False)
        elif warning.parent is not None:
            warning.dismiss(animation=False)
        if session.shown is not before:
            self._refresh_chrome()

    def _forget_session_key(self) -> None:
        """No administrator signed in (signed out, locked): drop their session key."""
        handout = getattr(self.services, "handout", None)
        if handout is not None and handout.active:
            handout.forget()

    def _flipped(self, *_args: Any) -> None:
        self.frames_drawn += 1

    # --- the reader -------------------------------------------------------------------

    def _start_watcher(self) -> None:
        reader = getattr(self.services, "reader", None)
        if reader is None:
            return

        def watch() -> None:
            while not self._stopping.is_set():
                try:
                    event = reader.wait_for_change(0.5)
                except Exception:  # a lost reader must not kill the watcher
                    log.exception("reader watch failed")
                    self._stopping.wait(1.0)
                    continue
                if event is not None:
                    Clock.schedule_once(lambda _dt, e=event: self._card_event(e), 0)

        self._watcher = threading.Thread(target=watch, name="kiosk-reader", daemon=True)
        self._watcher.start()

    def _card_event(self, event: CardEvent) -> None:
        if self.session is not None:
            self.session.card_event(event)
            self._refresh_chrome()

    # --- the demo panel ---------------------------------------------------------------

    def _demo_cards(self) -> list[tuple[str, str]]:
        deck = getattr(self.services, "deck", None)
        if deck is None:
            return []
        from datetime import date

        from kiosk.demo_cast import demo_admins, demo_holders

        today = date.today()
        names = {h.card_number: h.name for h in demo_holders(today)}
        names.update({a.card_number: f"{tr('ui.demo.admin_card', self.lang)} {a.name}"
                      for a in demo_admins(today)})
        return [(n, f"{names[n]}\n…{n[-4:]}" if n in names else n) for n in deck.cards()]

    def demo_insert(self, card_number: str) -> None:
        """Put a simulated card in the reader (on a worker: the deck may talk to pcscd)."""
        deck = getattr(self.services, "deck", None)
        if deck is None:
            return
        if getattr(deck, "two_readers", False) and self._is_admin_card(card_number):
            # two-reader demo: an administrator's card goes into the administrator's reader
            threading.Thread(target=deck.insert_admin, args=(card_number,), daemon=True).start()
            return
        self.demo_card = card_number
        threading.Thread(target=deck.insert, args=(card_number,), daemon=True).start()

    def _is_admin_card(self, card_number: str) -> bool:
        from datetime import date

        from kiosk.demo_cast import demo_admins

        return any(a.card_number == card_number for a in demo_admins(date.today()))

    def demo_remove_admin(self) -> None:
        """Take the card out of the administrator's reader (two-reader demo)."""
        deck = getattr(self.services, "deck", None)
        if deck is not None and getattr(deck, "two_readers", False):
            threading.Thread(target=deck.remove_admin, daemon=True).start()

    def _connect_demo_reader_pad(self) -> None:
        """The simulated PIN-pad reader's keypad lives in the demo panel."""
        pad = getattr(self.services, "pin_pad", None)
        if pad is None or self.demo_panel is None:
            return
        self.demo_panel.pad_handler = self.demo_pad_entry
        post = Clock.schedule_once
        pad.on_prompt(lambda _prompt: post(lambda _dt: self._show_demo_pad_prompt(), 0))

    def _show_demo_pad_prompt(self) -> None:
        pad = getattr(self.services, "pin_pad", None)
        if pad is None or self.demo_panel is None:
            return
        asking = pad.asking
        text = tr(f"ui.demo.reader.{asking.value}", self.lang) if asking is not None else ""
        if text != self.demo_panel.pad_prompt:
            self.demo_panel.ask_on_reader(text)

    def demo_pad_entry(self, digits: str | None) -> None:
        """OK (digits) or cancel (None) on the simulated reader's own keypad."""
        pad = getattr(self.services, "pin_pad", None)
        if pad is None:
            return
        if digits is None:
            pad.cancel()
        elif digits:
            pad.enter(digits)  # OK with nothing typed: a reader ignores it too

    def demo_remove(self) -> None:
        """Take the simulated card out."""
        deck = getattr(self.services, "deck", None)
        if deck is not None:
            threading.Thread(target=deck.remove, daemon=True).start()


release_label_surfaces()
Builder.load_file(str(Path(__file__).with_suffix(".kv")))
