"""Small shared widgets: wrapping labels, the screen header, action buttons, fact rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

from kivy.lang import Builder
from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.widget import Widget

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

ActionHandler = Callable[[str], None]


class WrapLabel(Label):
    """A label that wraps to its width and grows to its text's height."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("width", 0)  # no width until its layout gives it one
        super().__init__(**kwargs)

    def texture_update(self, *largs: object) -> None:
        """Render the text, once the label has a width to wrap it to.

        Before its layout ran, a label is Kivy's default 100 px wide, or 0 in a parent not
        laid out yet; wrapping a title to that measured it a word, then a character, at a
        time: 270 of the first frame's 362 text measurements, for nothing."""
        if self.width < 1:
            return
        super().texture_update(*largs)


class KioskButton(Button):
    """A large touch button; ``role`` picks its colour (primary, secondary, danger)."""

    role = StringProperty("primary")
    action = StringProperty("")


class ErrorPanel(BoxLayout):
    """An error's translated message and next step; collapses when there is none.

    Every screen has one and most never show an error: its lines (three labels) are built
    when it first has a message (issue 16: ~0.1 MB of widgets a screen, 13 screens)."""

    message = StringProperty("")
    next_step = StringProperty("")
    heading = StringProperty("")
    next_heading = StringProperty("")
    lines: ErrorLines | None = None

    def on_message(self, _panel: object, message: str) -> None:
        """The first message: the lines, which follow the panel's texts from then on."""
        if not message or self.lines is not None:
            return
        lines = ErrorLines(message=message, next_step=self.next_step,
                           next_heading=self.next_heading)
        self.bind(message=lines.setter("message"), next_step=lines.setter("next_step"),
                  next_heading=lines.setter("next_heading"))
        self.add_widget(lines)
        self.lines = lines


class ErrorLines(BoxLayout):
    """The error panel's message, "what to do next" heading and next step."""

    message = StringProperty("")
    next_step = StringProperty("")
    next_heading = StringProperty("")


class ScreenHeader(BoxLayout):
    """Title and message at the top of every screen."""

    title = StringProperty("")
    message = StringProperty("")


_HEADER: list[ScreenHeader] = []


def shared_header() -> ScreenHeader:
    """The one header every screen shows (issue 16): one screen is on display at a time,
    and a header per screen kept its two labels on every screen off display. Each screen
    takes it into its ``header_place`` when it renders (``take_into``)."""
    if not _HEADER:
        _HEADER.append(ScreenHeader())
    return _HEADER[0]


def take_into(widget: Widget, place: Widget) -> bool:
    """Move ``widget`` into ``place`` (the screen about to show it), unless it is there;
    whether it moved."""
    place = place.__self__  # the widget itself (kv ids hold weak proxies)
    if widget.parent is place:
        return False
    if widget.parent is not None:
        widget.parent.remove_widget(widget)
    place.add_widget(widget)
    return True


class ScrollCue(KioskButton):
    """"Visa mer" in a screen's action row while its body is taller than the panel shows.

    On a touch screen without a keyboard nobody knows that a cut-off column scrolls: the
    cue says so in words, with an arrow, and a tap scrolls the body a view's height on;
    at the end it reads "Till toppen" and takes the body back up. A finger on the
    content scrolls it too, and the scroll bar shows where the view is. In a row without
    room for every label on one line it says only "Mer" / "Upp" (``short``)."""

    needed = BooleanProperty(False)  # the body is taller than its view
    at_end = BooleanProperty(False)  # the view shows the body's end
    short = BooleanProperty(False)  # the short words: the row is full (ActionRow._fit)
    scroll = ObjectProperty(None, allownone=True)  # the ScrollView it moves
    extra_px = NumericProperty(0)  # room for the drawn arrow before the words (.kv)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        from kivy.app import App

        app = App.get_running_app()
        if app is not None and hasattr(app, "lang"):
            app.bind(lang=self._words)
        self.bind(at_end=self._words, short=self._words)
        self._words()

    def words(self, short: bool | None = None) -> tuple[str, str]:
        """Its two labels (more below, back to the top) in the language, and in the length
        shown (or the one asked for)."""
        from kivy.app import App

        from screens.texts import tr

        lang = str(getattr(App.get_running_app(), "lang", "sv"))
        form = ".short" if (self.short if short is None else short) else ""
        return (tr(f"ui.scroll.more{form}", lang), tr(f"ui.scroll.top{form}", lang))

    def _words(self, *_args: object) -> None:
        more, top = self.words()
        self.text = top if self.at_end else more

    def on_release(self) -> None:
        """A view's height on (less a line, so the reader keeps their place), or back up."""
        scroll = self.scroll
        if scroll is None or not scroll.children:
            return
        room = scroll.children[0].height - scroll.height
        if room <= 0:
            return
        if self.at_end:
            scroll.scroll_y = 1.0
        else:
            step = max(1.0, scroll.height * 0.85)
            scroll.scroll_y = max(0.0, scroll.scroll_y - step / room)
        scroll.update_from_scroll()


def _level(needs: Sequence[float], total: float, cap: float) -> float:
    """The largest width <= ``cap`` that every button narrower than it can be raised to
    with the row's ``total`` still holding them all (each keeps at least its need)."""
    low, high = 0.0, max(0.0, cap)
    if sum(max(high, need) for need in needs) <= total:
        return high
    for _ in range(24):
        middle = (low + high) / 2
        if sum(max(middle, need) for need in needs) <= total:
            low = middle
        else:
            high = middle
    return low


def one_line_px(button: KioskButton, short: bool | None = None) -> float:
    """How wide ``button`` must be to draw its label on one line (its text margin, the
    scroll cue's arrow, and a pixel for rounding); the cue's in its ``short`` words or not."""
    from kivy.app import App

    margin = getattr(App.get_running_app(), "s", 1.0) * 20 + 1
    # the scroll cue as wide as the longer of its two labels: it turns at the end
    texts = button.words(short) if isinstance(button, ScrollCue) else (button.text,)
    return (max(_text_width(text, button.font_size, bold=button.bold) for text in texts)
            + margin + getattr(button, "extra_px", 0.0))


class ActionRow(BoxLayout):
    """The screen's buttons, one per action the flow offers (and the body's scroll cue,
    at the left, while the body scrolls)."""

    handler = ObjectProperty(None, allownone=True)
    button_width = NumericProperty(300)
    empty = BooleanProperty(False)  # no buttons: the row takes no room
    text_height = NumericProperty(0)  # the tallest button label's height (wrapped lines)
    _shown: list[tuple[str, ...]] | None = None

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._buttons: list[KioskButton] = []
        self._spacer = Widget()
        self._cue: ScrollCue | None = None

    def attach_cue(self, cue: ScrollCue) -> None:
        """The body's scroll cue: shown in this row whenever it is needed."""
        self._cue = cue
        cue.bind(needed=lambda *_a: self._arrange(), texture_size=self._text_height,
                 font_size=lambda *_a: self._fit())
        self._arrange()

    def set_actions(self, actions: Sequence[tuple[str, str, str]]) -> None:
        """Replace the buttons with (action, label, role) triples (kept if unchanged)."""
        wanted = [tuple(a) for a in actions]
        if wanted == self._shown:
            return  # a PIN-pad tap re-renders the screen: no new buttons, no new textures
        self._shown = wanted
        self._arrange()

    def _arrange(self) -> None:
        actions = self._shown or []
        cue = self._cue if self._cue is not None and self._cue.needed else None
        self.empty = not actions and cue is None
        self.clear_widgets()
        row = self.orientation == "horizontal"
        ordered = sorted(actions, key=lambda a: a[2] == "primary") if row else list(actions)
        if cue is not None:
            cue.size_hint_x = None if row else 1
            self.add_widget(cue)  # at the left, apart from the screen's own buttons
        if row:
            self.add_widget(self._spacer)  # buttons sit at the right, the main one last
        while len(self._buttons) < len(ordered):  # made once, reused: see FactsTable
            button = KioskButton()
            button.bind(on_release=self._pressed, texture_size=self._text_height,
                        font_size=lambda *_a: self._fit())  # larger text: wider words
            self._buttons.append(button)
        for button, (action, label, role) in zip(self._buttons, ordered, strict=False):
            button.text, button.role, button.action = label, role, action
            button.size_hint_x = None if row else 1
            self.add_widget(button)
        self._fit()
        self._text_height()

    def on_size(self, *_args: object) -> None:
        """Buttons share a narrow row instead of running past its end."""
        self._fit()

    def _fit(self) -> None:
        if self.orientation != "horizontal":
            return
        buttons = [c for c in self.children if isinstance(c, KioskButton)]
        if not buttons:
            return
        from kivy.app import App

        total = self.width - self.spacing * len(buttons)
        equal = min(self.button_width, total / len(buttons))
        app = App.get_running_app()
        margin = getattr(app, "s", 1.0) * 20 + 4
        # each label on one line where the row has room for all of them ("Till
        # startsidan" with larger text, never "Till" / "startsidan" beside empty room),
        # the short ones as wide as the row's equal share allows
        cue = next((b for b in buttons if isinstance(b, ScrollCue)), None)
        if cue is not None:  # its full words where every label fits on one line with them
            cue.short = sum(one_line_px(b, short=False) for b in buttons) > total
        whole = [one_line_px(b) for b in buttons]
        if sum(whole) <= total:
            floor = _level(whole, total, equal)
            for button, need in zip(buttons, whole, strict=True):
                button.width = max(floor, need)
            return
        # else each button at least as wide as its longest word (+ its text margin):
        # "Skriv på kortläsaren igen" beside the 7" reader pad, never "kortläsar" / "en"
        least = float(getattr(app, "touch_px", 0))
        needs = [max(least, _widest_word(b.text, b.font_size, bold=True) + margin
                     + getattr(b, "extra_px", 0.0)) for b in buttons]
        if sum(needs) <= total:
            # as many labels on one line as the row has room for, the shortest first; the
            # rest of the row shared by the labels that wrap ("Jag godkänner – signera"
            # on two lines beside the scroll cue with larger text, not three)
            widths = list(needs)
            left = total - sum(widths)
            for i in sorted(range(len(buttons)), key=lambda i: whole[i]):
                if whole[i] - widths[i] <= left:
                    left -= whole[i] - widths[i]
                    widths[i] = whole[i]
            wrapped = [i for i in range(len(buttons)) if widths[i] < whole[i]]
            for i in wrapped:
                widths[i] += left / len(wrapped)
        else:
            widths = [max(equal, need) for need in needs]
            excess = sum(widths) - total
            slack = sum(w - need for w, need in zip(widths, needs, strict=True) if w > need)
            if excess > 0 and slack > 0:
                cut = min(1.0, excess / slack)
                widths = [w - (w - need) * cut if w > need else w
                          for w, need in zip(widths, needs, strict=True)]
        for button, width in zip(buttons, widths, strict=True):
            button.width = max(1.0, width)

    def _text_height(self, *_args: object) -> None:
        shown = [b for b in self.children if isinstance(b, KioskButton)]
        self.text_height = max((b.texture_size[1] for b in shown), default=0)

    def _pressed(self, button: KioskButton) -> None:
        if self.handler is not None:
            self.handler(button.action)


class ScreenBody(BoxLayout):
    """A screen's column: what does not fit the panel scrolls; the buttons stay in sight.

    Every child but the ActionRow goes into a ScrollView. While everything fits, the
    inner column is as tall as the view and stretchy children share the room as before.
    """

    def __init__(self, **kwargs: object) -> None:
        self._inner: BoxLayout | None = None
        super().__init__(**kwargs)
        from kivy.uix.scrollview import ScrollView

        self._scroll = ScrollView(do_scroll_x=False, bar_width=6, scroll_type=["bars", "content"])
        inner = BoxLayout(orientation="vertical", size_hint_y=None, spacing=self.spacing)
        self._scroll.add_widget(inner)
        super().add_widget(self._scroll)
        self._inner = inner
        self.cue = ScrollCue(scroll=self._scroll, role="secondary")
        self._scroll.bind(height=self._fit, scroll_y=self._cue_state)
        inner.bind(minimum_height=self._fit, height=self._cue_state)
        self.bind(spacing=lambda _w, value: setattr(inner, "spacing", value))
        self.bind(padding=self._bar_beside)
        from kivy.app import App

        app = App.get_running_app()
        if app is not None and hasattr(app, "C"):
            app.bind(C=self._bar_look, px_per_mm=self._bar_look)
            self._bar_look()

    def _bar_look(self, *_args: object) -> None:
        """A bar that shows while the column scrolls, not only while a finger moves it:
        in the palette's button colour (>= 3:1 on the screen), 1.2 mm wide."""
        from kivy.app import App

        app = App.get_running_app()
        colour = list(app.C["primary"])
        scroll = self._scroll
        scroll.bar_color = scroll.bar_inactive_color = colour
        scroll.bar_width = max(6, round(app.px_per_mm * 1.2))
        self._bar_beside()

    def _bar_beside(self, *_args: object) -> None:
        """The scroll bar in the right padding, beside the column: over it, it hid the end
        of right-aligned texts ("Passe|d") on a screen that scrolls."""
        scroll = self._scroll
        scroll.bar_margin = -max(0.0, (self.padding[2] - scroll.bar_width) / 2)

    def _fit(self, *_args: object) -> None:
        if self._inner is not None:
            self._inner.height = max(self._inner.minimum_height, self._scroll.height)
            self._cue_state()

    def _cue_state(self, *_args: object) -> None:
        """The cue while the column is taller than its view; "to the top" at its end."""
        if self._inner is None:
            return
        hidden = self._inner.height - self._scroll.height
        self.cue.needed = hidden > 2
        self.cue.at_end = self.cue.needed and self._scroll.scroll_y * hidden <= 2

    def to_top(self) -> None:
        """Show the column from its start (a new card's facts)."""
        self._scroll.scroll_y = 1.0
        self._scroll.update_from_scroll()

    def add_widget(self, widget: Widget, *args: object, **kwargs: object) -> None:
        """The buttons below the scrolling part; everything else into it."""
        if self._inner is None or isinstance(widget, ActionRow):
            super().add_widget(widget, *args, **kwargs)
            cue = getattr(self, "cue", None)
            if isinstance(widget, ActionRow) and cue is not None:
                widget.attach_cue(cue)
        else:
            self._inner.add_widget(widget, *args, **kwargs)
            if isinstance(widget, type(self._scroll)):
                widget.bind(height=self._nested_drag)
                for content in widget.children:
                    content.bind(height=lambda *_a, view=widget: self._nested_drag(view))
                self._nested_drag(widget)

    @staticmethod
    def _nested_drag(view: Widget, *_args: object) -> None:
        """A scroll view in the column that is as tall as what it holds (the facts) leaves
        a finger's drag to the column: it took the drag and moved nothing, so the 7" card
        record scrolled only from its heading."""
        content = view.children[0] if view.children else None
        view.do_scroll_y = content is not None and content.height > view.height + 1


def scroll_into_view(widget: Widget) -> None:
    """Scroll every ScrollView around ``widget`` until it is in sight, as a finger would.

    The layouts between the scroll view and the widget are laid out at once, so the
    widget's window position is true for a tap in the same frame.
    """
    from kivy.uix.layout import Layout
    from kivy.uix.scrollview import ScrollView

    chain: list[Widget] = []
    node = widget.parent
    while node is not None and node is not getattr(node, "parent", None):
        if isinstance(node, ScrollView) and node.children:
            _x, y = widget.to_window(widget.x, widget.y)
            _sx, sy = node.to_window(node.x, node.y)
            room = node.children[0].height - node.height
            below = sy + 10 - y
            above = (y + widget.height) - (sy + node.height - 10)
            if room > 0 and (below > 0 or above > 0):
                step = below if below > 0 else -above
                node.scroll_y = min(1.0, max(0.0, node.scroll_y - step / room))
                node.update_from_scroll()
                for inner in [node.children[0], *reversed(chain)]:
                    if isinstance(inner, Layout):
                        inner.do_layout()
        chain.append(node)
        node = getattr(node, "parent", None)


# (least, most) share of a label/value pair's width for the label
LABEL_SHARE = (0.38, 0.62)


class FactsTable(GridLayout):
    """Label/value rows: two pairs a row when there are many, one pair a row, or, where
    a label's word and its value's do not fit side by side (larger text on the 7" panel),
    each label above its value."""

    rows_data = ListProperty([])
    rows_before_pairs = NumericProperty(6)  # more rows than this: two label/value pairs a row

    def __init__(self, **kwargs: object) -> None:
        self._pool: list[FactLabel] = []  # before super(): kv may set rows_data
        self._pairs_a_row = 1
        super().__init__(**kwargs)
        self.bind(width=self._fit_labels)

    def on_rows_data(self, _instance: object, rows: list[tuple[str, str]]) -> None:
        """Show the rows, reusing the label widgets (no new widgets per visit)."""
        from kivy.app import App

        # two pairs a row only where they fit: on the 7" panel 3 mm text breaks the words
        compact = bool(getattr(App.get_running_app(), "compact", False))
        self._pairs_a_row = 2 if len(rows) > self.rows_before_pairs and not compact else 1
        while len(self._pool) < 2 * len(rows):
            cell = FactLabel()
            cell.bind(font_size=self._fit_labels)  # larger text: wider words
            self._pool.append(cell)
        self.clear_widgets()
        for index, (label, value) in enumerate(rows):
            name, shown = self._pool[2 * index], self._pool[2 * index + 1]
            name.text, name.bold = label, True
            shown.text, shown.bold = value, False
            self.add_widget(name)
            self.add_widget(shown)
        self._fit_labels()

    def _fit_labels(self, *_args: object) -> None:
        """The label column as wide as its longest word (never "Kortinnehava/re"), within
        LABEL_SHARE of a pair; the value the rest. If a label's and a value's longest words
        cannot both fit, fewer pairs a row, and at last each label above its value."""
        cells = list(reversed(self.children))
        names, values = cells[0::2], cells[1::2]
        if not names or self.width <= 1:
            self.cols = 2 * self._pairs_a_row
            return
        label_px = max(_widest_word(n.text, n.font_size, bold=True) for n in names) + 4
        whole_px = max(_text_width(n.text, n.font_size, bold=True) for n in names) + 4
        value_px = max(_widest_word(v.text, v.font_size, bold=False) for v in values) + 4
        least, most = LABEL_SHARE
        for pairs in range(self._pairs_a_row, 0, -1):
            cols = 2 * pairs
            pair_px = (self.width - self.spacing[0] * (cols - 1)) / pairs
            # every label on one line where the values' words still fit beside it (a
            # wrapped "Referens för / support" took the line the 7" done screen lacked)
            whole = whole_px <= most * pair_px and value_px <= pair_px - whole_px + 1
            share = min(most, max(least, (whole_px if whole else label_px) / pair_px))
            if label_px <= share * pair_px and value_px <= (1 - share) * pair_px + 1:
                self.cols = cols
                for name, value in zip(names, values, strict=False):
                    name.size_hint_x = share / pairs
                    value.size_hint_x = (1 - share) / pairs
                return
        self.cols = 1
        for cell in cells:
            cell.size_hint_x = 1


@lru_cache(maxsize=512)
def _text_width(text: str, font_size: float, bold: bool) -> float:
    """The width in px of ``text`` on one line at ``font_size`` (cached like _widest_word)."""
    from kivy.core.text import Label as CoreLabel

    if not text.strip():
        return 0.0
    return float(CoreLabel(font_size=font_size, bold=bold).get_extents(text)[0])


@lru_cache(maxsize=512)
def _widest_word(text: str, font_size: float, bold: bool) -> float:
    """The width in px of the widest word of ``text`` drawn at ``font_size`` (cached: the
    same labels come back on every screen)."""
    from kivy.core.text import Label as CoreLabel

    words = [w for w in text.replace("\n", " ").split(" ") if w]
    if not words:
        return 0.0
    measure = CoreLabel(font_size=font_size, bold=bold)
    return float(max(measure.get_extents(w)[0] for w in words))


class FactLabel(WrapLabel):
    """One cell of a FactsTable."""


class CheckRow(BoxLayout):
    """One check's name and its result (passed, failed, pending)."""

    name = StringProperty("")
    result = StringProperty("")
    state = StringProperty("pending")
    visible = BooleanProperty(True)


# red only for what destroys something (issue 12.3): blocking a card; signing out is not
DANGER_ACTIONS = frozenset({"confirm", "visit:block"})
SECONDARY_ACTIONS = frozenset({"back", "cancel", "home", "document_manual", "document_scan",
                               "retry", "sign_out"})


def role_for(action: str) -> str:
    """The button colour of an action (the block visit's confirm is the only red one)."""
    if action in DANGER_ACTIONS:
        return "danger"
    if action in SECONDARY_ACTIONS:
        return "secondary"
    return "primary"
