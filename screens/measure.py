"""Millimetres and contrast: how large things are on the panel, and how well they show.

No Kivy here: the app, the tour's widget report and the tests share these figures.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

# Cap height / em of Roboto, Kivy's default font (capHeight 1456 of 2048 units).
CAP_HEIGHT = 1456 / 2048

# The panels the kiosk is built for, by window size: their visible area in millimetres.
KNOWN_PANELS: dict[tuple[int, int], tuple[float, float]] = {
    (800, 480): (154.08, 85.92),  # 7" 800x480 (Raspberry Pi Touch Display)
    (1280, 800): (216.96, 135.6),  # 10.1" 16:10
}
PANEL_WARN = 0.10  # pixels per mm across and down differ more: the settings name another panel


def luminance(colour: Sequence[float]) -> float:
    """WCAG relative luminance of an sRGB colour (0..1 components)."""

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(float(c)) for c in colour[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: Sequence[float], b: Sequence[float]) -> float:
    """WCAG contrast ratio of two opaque colours (1..21)."""
    la, lb = luminance(a), luminance(b)
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


@dataclass(frozen=True)
class Panel:
    """Pixels per millimetre across and down the panel, from its size in settings."""

    px_per_mm_x: float
    px_per_mm_y: float

    @property
    def px_per_mm(self) -> float:
        """The larger of the two: a size in px from it is at least that many mm both ways."""
        return max(self.px_per_mm_x, self.px_per_mm_y)

    @property
    def mismatch(self) -> float:
        """How far apart the two are (0 = square pixels, as every panel has)."""
        return abs(self.px_per_mm_x / self.px_per_mm_y - 1.0)

    def mm(self, px: float) -> float:
        """Millimetres of ``px`` pixels (the smaller reading: the conservative one)."""
        return px / self.px_per_mm

    def px(self, mm: float) -> int:
        """Whole pixels that are at least ``mm`` millimetres."""
        return math.ceil(mm * self.px_per_mm - 1e-9)


def panel_for(width: int, height: int, width_mm: float, height_mm: float,
              rotation: int = 0, dpi: float = 96.0) -> Panel:
    """The panel of a ``width`` x ``height`` window; its mm from settings (0: from ``dpi``)."""
    if rotation in (90, 270):
        width_mm, height_mm = height_mm, width_mm
    if width_mm <= 0 or height_mm <= 0:
        per_mm = dpi / 25.4
        return Panel(per_mm, per_mm)
    return Panel(width / width_mm, height / height_mm)


def panel_problem(panel: Panel, width: int, height: int, width_mm: float,
                  height_mm: float) -> str | None:
    """Why the panel size in settings does not fit the window (None if it does).

    Pixels are square on every panel, so px/mm across and down must agree; and a window
    the size of a known panel should have that panel's millimetres.
    """
    known = KNOWN_PANELS.get((width, height))
    if known is not None and (abs(width_mm / known[0] - 1) > PANEL_WARN
                              or abs(height_mm / known[1] - 1) > PANEL_WARN):
        return (f"the window is {width}x{height} like a {known[0]:g} x {known[1]:g} mm panel, "
                f"but ui.panel_width_mm x panel_height_mm = {width_mm:g} x {height_mm:g} mm: "
                "touch targets and text are sized from the settings")
    if panel.mismatch <= PANEL_WARN:
        return None
    return (f"ui.panel_width_mm x panel_height_mm = {width_mm:g} x {height_mm:g} mm does not "
            f"fit the {width}x{height} window: {panel.px_per_mm_x:.2f} px/mm across but "
            f"{panel.px_per_mm_y:.2f} down ({panel.mismatch:.0%} apart); sizes use "
            f"{panel.px_per_mm:.2f} px/mm")


def font_px_for_cap(cap_mm: float, panel: Panel) -> int:
    """The smallest font size (px) whose capital letters are ``cap_mm`` high on the panel."""
    return panel.px(cap_mm / CAP_HEIGHT)


def cap_mm(font_px: float, panel: Panel) -> float:
    """Cap height in mm of text drawn at ``font_px``."""
    return panel.mm(font_px * CAP_HEIGHT)


def on_known_panel(settings: Any, size: tuple[int, ...]) -> Any:
    """``settings`` with the millimetres of the panel a ``size`` window is on (7" 800x480,
    10.1" 1280x800), for the demo and the tour; other sizes keep the settings' panel."""
    known = KNOWN_PANELS.get((size[0], size[1])) if len(size) == 2 else None
    if known is None:
        return settings
    return replace(settings, ui=replace(settings.ui, panel_width_mm=known[0],
                                        panel_height_mm=known[1]))


def _words(text: str) -> list[str]:
    """Words as a label wraps them: split at spaces and line breaks only (a no-break space
    keeps "Steg 4 av 6" one word)."""
    return [w for w in re.split(r"[ \t\n]+", text) if w]


def broken_words(text: str, lines: Sequence[str]) -> list[str]:
    """The words of ``text`` that a label's wrapping cut into pieces across ``lines``.

    Kivy breaks a word that is wider than the label anywhere inside it ("Kortinnehava" /
    "re"): every piece it drew that is not a whole word of the text is such a cut.
    """
    whole = set(_words(text))
    drawn = [w for line in lines for w in _words(line)]
    if all(w in whole for w in drawn):
        return []
    cut = {w for w in whole if w not in drawn}
    return sorted(cut) or [w for w in drawn if w not in whole]
