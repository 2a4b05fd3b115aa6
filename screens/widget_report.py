"""What the tour measures on each screen: touch targets and texts in millimetres, contrast.

``report(app, image)`` walks the window's widgets as drawn in ``image`` (the frame just
saved): every interactive widget (kind, text, size in px and mm, the contrast of its
edge against what surrounds it) and every text (font size in px, cap height in mm, its
colour, the background measured from the frame's pixels under it, their contrast). The
tour writes one ``widgets.json`` per language and window size; tests/ui checks the
limits in it. The demo panel (the simulated reader and cards) is marked ``demo``: a real
kiosk has none.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label
from kivy.uix.textinput import TextInput
from kivy.uix.widget import Widget

from screens.measure import CAP_HEIGHT, Panel, contrast

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in window pixels (y up)
RGB = tuple[int, int, int]


def _hex(rgb: RGB) -> str:
    return "#{:02X}{:02X}{:02X}".format(*rgb)


def _unit(rgb: RGB) -> tuple[float, float, float]:
    return (rgb[0] / 255, rgb[1] / 255, rgb[2] / 255)


def _colours(image: Any, box: Box) -> Counter[RGB]:
    """Pixel colours in ``box`` (window coordinates, y up) of the top-down image."""
    x0, y0, x1, y1 = box
    height = image.size[1]
    crop = image.crop((x0, height - y1, x1, height - y0))
    found = crop.getcolors(maxcolors=crop.size[0] * crop.size[1] + 1) or []
    return Counter({rgb: n for n, rgb in found})


def _window_box(widget: Widget, size: tuple[int, int]) -> Box | None:
    from screens.driver import _clipped

    x, y = widget.to_window(widget.x, widget.y)
    seen = _clipped(widget, (x, y, x + widget.width, y + widget.height))
    if seen is None:
        return None
    x0, y0 = max(0, round(seen[0])), max(0, round(seen[1]))
    x1, y1 = min(size[0], round(seen[2])), min(size[1], round(seen[3]))
    return (x0, y0, x1, y1) if x1 - x0 >= 2 and y1 - y0 >= 2 else None


def _edge_contrast(image: Any, widget: Widget, size: tuple[int, int]) -> float | None:
    """How well the widget's edge shows: its edge band's colours against the band outside."""
    x, y = widget.to_window(widget.x, widget.y)
    x0, y0, x1, y1 = round(x), round(y), round(x + widget.width), round(y + widget.height)
    if x0 < 3 or y0 < 3 or x1 > size[0] - 3 or y1 > size[1] - 3:
        return None
    band = 3
    outside: Counter[RGB] = Counter()
    for box in ((x0 - band, y0 - band, x1 + band, y0), (x0 - band, y1, x1 + band, y1 + band),
                (x0 - band, y0, x0, y1), (x1, y0, x1 + band, y1)):
        outside.update(_colours(image, box))
    inside: Counter[RGB] = Counter()
    for box in ((x0, y0, x1, y0 + band), (x0, y1 - band, x1, y1),
                (x0, y0 + band, x0 + band, y1 - band), (x1 - band, y0 + band, x1, y1 - band)):
        inside.update(_colours(image, box))
    if not outside or not inside:
        return None
    around = _unit(outside.most_common(1)[0][0])
    total = sum(inside.values())
    shown = [rgb for rgb, n in inside.items() if n >= 0.15 * total]
    return max(contrast(_unit(rgb), around) for rgb in shown)


def _in(widget: Widget, ancestor: Widget | None) -> bool:
    node: Any = widget
    while node is not None and ancestor is not None:
        if node is ancestor:
            return True
        parent = getattr(node, "parent", None)
        node = parent if parent is not node else None
    return False


def _in_sight_pct(widget: Widget, box: Box) -> int:
    """How much of the widget shows without scrolling, in percent of its area."""
    area = widget.width * widget.height
    seen = (box[2] - box[0]) * (box[3] - box[1])
    return min(100, round(100 * seen / area)) if area > 0 else 0


def _visible(widget: Widget) -> bool:
    from screens.driver import _visible as drawn

    return drawn(widget)


def required_mm(widget: Widget, min_target_mm: float, min_key_mm: float) -> float:
    """The smallest edge a widget must have: PIN-pad keys more than other targets."""
    from screens.widgets.pin_pad import PinKey

    return min_key_mm if isinstance(widget, PinKey) else min_target_mm


def report(app: Any, image: Any, panel: Panel) -> dict[str, Any]:
    """Every interactive widget and every text on the window now, measured."""
    size = image.size
    demo = getattr(app, "demo_panel", None)
    keyboard = getattr(app, "keyboard", None)
    ui = app.settings.ui
    targets: list[dict[str, Any]] = []
    texts: list[dict[str, Any]] = []
    window = app.root_window
    # an open modal view (the idle warning) shades everything under it: only it counts
    tops = window.children[:1] if window is not None else [app.root]
    badge = app.root.ids.get("demo_badge")
    for widget in (w for top in tops for w in top.walk(restrict=False)):
        if not isinstance(widget, Widget) or not _visible(widget):
            continue
        box = _window_box(widget, size)
        if box is None:
            continue
        covered = False
        if keyboard is not None and keyboard.shown and not _in(widget, keyboard):
            if box[3] <= keyboard.top + 2:
                continue  # under the open keyboard: not visible now
            covered = box[1] < keyboard.top
            box = (box[0], max(box[1], round(keyboard.top)), box[2], box[3])
        is_demo = _in(widget, demo) or (badge is not None and widget == badge)
        interactive = (isinstance(widget, ButtonBehavior | TextInput)
                       and not widget.disabled)
        if interactive:
            need = required_mm(widget, ui.min_target_mm, ui.min_key_mm)
            edge = None if covered else _edge_contrast(image, widget, size)
            targets.append({
                "kind": type(widget).__name__,
                "text": str(getattr(widget, "text", ""))[:60],
                "action": str(getattr(widget, "action", "") or getattr(widget, "kind", "")),
                "w_px": round(widget.width, 1), "h_px": round(widget.height, 1),
                "w_mm": round(panel.mm(widget.width), 2),
                "h_mm": round(panel.mm(widget.height), 2),
                "required_mm": need,
                "edge_contrast": round(edge, 2) if edge is not None else None,
                "in_sight_pct": _in_sight_pct(widget, box),
                "demo": is_demo,
            })
        text = getattr(widget, "text", None)
        colour: Any = None
        if isinstance(widget, TextInput):
            colour = widget.foreground_color
            if not text:  # the placeholder is what shows
                text, colour = widget.hint_text, widget.hint_text_color
        elif isinstance(widget, Label):
            colour = widget.disabled_color if widget.disabled else widget.color
        if colour is not None and isinstance(text, str) and text.strip() and not covered:
            fg = tuple(round(c * 255) for c in colour[:3])
            pixels = _colours(image, box)
            bg = max(pixels, key=lambda rgb: (pixels[rgb], rgb)) if pixels else (255, 255, 255)
            font_px = float(widget.font_size)
            texts.append({
                "kind": type(widget).__name__,
                "text": text[:60],
                "font_px": round(font_px, 1),
                "cap_mm": round(panel.mm(font_px * CAP_HEIGHT), 2),
                "fg": _hex(fg),
                "bg": _hex(bg),
                "contrast": round(contrast(_unit(fg), _unit(bg)), 2),
                "demo": is_demo,
            })
    keyboard_open = keyboard is not None and bool(keyboard.shown)
    return {"targets": targets, "texts": texts, "graphics": graphics(app, image, size, tops),
            "errors": error_texts(tops, size),
            "scrolls": [] if keyboard_open else scrolling(tops, size, demo),
            "rows": [] if keyboard_open else action_rows(tops, size, demo)}


def scrolling(tops: list[Widget], size: tuple[int, int], demo: Widget | None
              ) -> list[dict[str, Any]]:
    """Every scroll view whose content is taller than it shows (the demo panel's aside):
    how much is out of sight, and whether a scroll cue for it ("Visa mer") is in sight.
    Left out while the on-screen keyboard is open (it covers the cues; "Klar" closes it)."""
    from kivy.uix.scrollview import ScrollView

    from screens.widgets.common import ScrollCue

    widgets = [w for top in tops for w in top.walk(restrict=False)]
    cued = {id(w.scroll) for w in widgets
            if isinstance(w, ScrollCue) and w.scroll is not None and _visible(w)
            and (box := _window_box(w, size)) is not None and _in_sight_pct(w, box) >= 95}
    found = []
    for view in widgets:
        if (not isinstance(view, ScrollView) or not view.children or not view.do_scroll_y
                or _in(view, demo) or not _visible(view) or _window_box(view, size) is None):
            continue
        hidden = view.children[0].height - view.height
        if hidden > 2:
            found.append({"hidden_px": round(hidden), "cue": id(view) in cued})
    return found


def action_rows(tops: list[Widget], size: tuple[int, int], demo: Widget | None
                ) -> list[dict[str, Any]]:
    """Every row of buttons in sight: its width, and each button's label on one line
    (px, with the button's text margin) and on how many lines it is drawn."""
    from screens.widgets.common import ActionRow, KioskButton, one_line_px
    from screens.widgets.guide_cover import GuideCover

    found = []
    for row in (w for top in tops for w in top.walk(restrict=False)):
        if isinstance(row, GuideCover) and "go" in row.ids:
            buttons, room = [row.ids.go.__self__], row.ids.go.parent  # the cover's one button
            row = room
        elif isinstance(row, ActionRow) and row.orientation == "horizontal":
            buttons = [b for b in reversed(row.children) if isinstance(b, KioskButton)]
        else:
            continue
        if not buttons or _in(row, demo) or not _visible(row) or _window_box(row, size) is None:
            continue
        spacing = getattr(row, "spacing", 0) if isinstance(row, ActionRow) else 0
        found.append({
            "width_px": round(row.width - spacing * len(buttons), 1),
            "buttons": [{
                "text": b.text[:60],
                "one_line_px": round(one_line_px(b), 1),
                "lines": len(getattr(b._label, "_cached_lines", None) or [None]),
            } for b in buttons],
        })
    return found


def error_texts(tops: list[Widget], size: tuple[int, int]) -> list[dict[str, Any]]:
    """What went wrong and what to do next (every ErrorPanel's texts): how much of each
    shows without scrolling (0 when it is wholly out of sight)."""
    from screens.widgets.common import ErrorPanel

    found = []
    for panel in (w for top in tops for w in top.walk(restrict=False)):
        if not isinstance(panel, ErrorPanel) or not _visible(panel) or not panel.message:
            continue
        for label in panel.walk(restrict=True):
            text = getattr(label, "text", None)
            if label is panel or not isinstance(text, str) or not text.strip():
                continue
            box = _window_box(label, size)
            found.append({"text": text[:60],
                          "in_sight_pct": 0 if box is None else _in_sight_pct(label, box)})
    return found


def graphics(app: Any, image: Any, size: tuple[int, int], tops: list[Widget]
             ) -> list[dict[str, Any]]:
    """Shapes a person must see that are not text: the empty PIN dots, the insert arrow."""
    from screens.widgets.card_art import CardArt
    from screens.widgets.pin_pad import PinDots

    found: list[dict[str, Any]] = []
    for widget in (w for top in tops for w in top.walk(restrict=False)):
        if isinstance(widget, PinDots) and widget.total > widget.typed:
            part, colour = "empty PIN dot", app.C["dot_empty"]
        elif isinstance(widget, CardArt):
            part, colour = "insert arrow", app.C["arrow"]
        else:
            continue
        if not _visible(widget):
            continue
        box = _window_box(widget, size)
        if box is None:
            continue
        x0, y0, x1, y1 = box
        band = 4
        around: Counter[RGB] = Counter()
        for side in ((x0, y0 - band, x1, y0), (x0, y1, x1, y1 + band)):
            if side[1] >= 0 and side[3] <= size[1]:
                around.update(_colours(image, side))
        if not around:
            around = _colours(image, box)
        bg = around.most_common(1)[0][0]
        fg = tuple(round(c * 255) for c in colour[:3])
        found.append({"part": part, "fg": _hex(fg), "bg": _hex(bg),
                      "contrast": round(contrast(colour, _unit(bg)), 2)})
    return found
