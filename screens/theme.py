"""The kiosk's colours: a standard palette and a high-contrast one (the holder's choice).

Every text colour is at least 4.5:1 on the background it is drawn on and every edge a
person must see (button and key outlines, the PIN dots, the insert arrow, field borders)
at least 3:1 against what surrounds it (WCAG 2.1 1.4.3 and 1.4.11). tests/unit/screens
checks the pairs below; the tour measures what is really drawn (widgets.json).
"""

from __future__ import annotations

Colour = tuple[float, float, float, float]


def _rgb(hex_colour: str, alpha: float = 1.0) -> Colour:
    value = hex_colour.lstrip("#")
    r, g, b = (int(value[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return (r, g, b, alpha)


COLOURS: dict[str, Colour] = {
    "background": _rgb("#F5F7FA"),
    "bar": _rgb("#0B2A4A"),
    "on_bar": _rgb("#FFFFFF"),
    "text": _rgb("#1A1F24"),
    "title": _rgb("#0B2A4A"),
    "muted": _rgb("#4A5560"),
    "primary": _rgb("#005AA0"),
    "primary_down": _rgb("#003D6E"),
    "on_primary": _rgb("#FFFFFF"),
    "secondary": _rgb("#E4E9EF"),
    "secondary_down": _rgb("#B9C4D0"),
    "on_secondary": _rgb("#0B2A4A"),
    "danger": _rgb("#B3261E"),
    "danger_down": _rgb("#7F1A15"),
    "on_danger": _rgb("#FFFFFF"),
    "ok": _rgb("#1B6E35"),
    "ok_down": _rgb("#114A23"),
    "on_ok": _rgb("#FFFFFF"),
    "warn": _rgb("#F2C200"),  # the card terminal's yellow "Rätta"
    "warn_down": _rgb("#C99F00"),
    "on_warn": _rgb("#1A1F24"),
    "disabled": _rgb("#D5DBE1"),
    "on_disabled": _rgb("#3E4852"),
    "edge": _rgb("#5F6B78"),  # outlines of buttons, keys, fields: >= 3:1 on white and bg
    "focus": _rgb("#005AA0"),
    "error_bg": _rgb("#FDECEA"),
    "error_text": _rgb("#8C1D18"),
    "demo": _rgb("#FFD23F"),
    "on_demo": _rgb("#1A1F24"),
    "key": _rgb("#FFFFFF"),
    "key_down": _rgb("#C9D6E3"),
    "key_border": _rgb("#5F6B78"),
    "dot": _rgb("#0B2A4A"),
    "dot_empty": _rgb("#5F6B78"),
    "field": _rgb("#FFFFFF"),
    "hint": _rgb("#4A5560"),
    "arrow": _rgb("#005AA0"),
    "guide": _rgb("#FFD23F"),
    "keyboard": _rgb("#DDE3EA"),
    "shade": _rgb("#000000", 0.55),
}

# Larger text and the strongest contrast: black on white, black outlines, darker fills.
HIGH_CONTRAST: dict[str, Colour] = {
    **COLOURS,
    "background": _rgb("#FFFFFF"),
    "bar": _rgb("#000000"),
    "text": _rgb("#000000"),
    "title": _rgb("#000000"),
    "muted": _rgb("#1A1F24"),
    "primary": _rgb("#003D6E"),
    "primary_down": _rgb("#00213D"),
    "secondary": _rgb("#FFFFFF"),
    "secondary_down": _rgb("#C9D6E3"),
    "on_secondary": _rgb("#000000"),
    "edge": _rgb("#000000"),
    "key_border": _rgb("#000000"),
    "dot": _rgb("#000000"),
    "dot_empty": _rgb("#000000"),
    "hint": _rgb("#1A1F24"),
    "arrow": _rgb("#000000"),
    "keyboard": _rgb("#FFFFFF"),
    "on_disabled": _rgb("#000000"),
}

PALETTES = {"standard": COLOURS, "high_contrast": HIGH_CONTRAST}

# (foreground, background) pairs that carry text, and (edge, surrounding) pairs of
# outlines a person must see: checked at 4.5:1 and 3:1 in every palette.
TEXT_PAIRS = (
    ("text", "background"), ("title", "background"), ("muted", "background"),
    ("on_bar", "bar"), ("on_primary", "primary"), ("on_secondary", "secondary"),
    ("on_danger", "danger"), ("on_ok", "ok"), ("on_warn", "warn"), ("on_demo", "demo"),
    ("error_text", "error_bg"), ("text", "key"), ("text", "field"), ("hint", "field"),
    ("on_disabled", "disabled"), ("text", "keyboard"), ("on_primary", "primary_down"),
    ("on_secondary", "secondary_down"), ("text", "key_down"),
    ("ok", "background"),  # the DONE screen's new card status, beside its green mark
)
EDGE_PAIRS = (
    ("edge", "background"), ("edge", "keyboard"), ("key_border", "key"),
    ("key_border", "keyboard"), ("dot_empty", "background"), ("arrow", "background"),
    ("primary", "background"), ("danger", "background"), ("ok", "background"),
    ("edge", "field"), ("focus", "field"),
)
