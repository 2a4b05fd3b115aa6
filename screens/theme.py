"""Colours with strong contrast for a bright card office (WCAG AA or better on white)."""

from __future__ import annotations


def _rgb(hex_colour: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    value = hex_colour.lstrip("#")
    r, g, b = (int(value[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return (r, g, b, alpha)


COLOURS: dict[str, tuple[float, float, float, float]] = {
    "background": _rgb("#F5F7FA"),
    "bar": _rgb("#0B2A4A"),
    "on_bar": _rgb("#FFFFFF"),
    "text": _rgb("#1A1F24"),
    "title": _rgb("#0B2A4A"),
    "muted": _rgb("#55606B"),
    "primary": _rgb("#005AA0"),
    "primary_down": _rgb("#003D6E"),
    "on_primary": _rgb("#FFFFFF"),
    "secondary": _rgb("#DDE3EA"),
    "secondary_down": _rgb("#B9C4D0"),
    "on_secondary": _rgb("#0B2A4A"),
    "danger": _rgb("#B3261E"),
    "danger_down": _rgb("#7F1A15"),
    "on_danger": _rgb("#FFFFFF"),
    "ok": _rgb("#1B6E35"),
    "error_bg": _rgb("#FDECEA"),
    "error_text": _rgb("#8C1D18"),
    "demo": _rgb("#FFD23F"),
    "on_demo": _rgb("#1A1F24"),
    "key": _rgb("#FFFFFF"),
    "key_down": _rgb("#C9D6E3"),
    "key_border": _rgb("#8A99A8"),
    "dot": _rgb("#0B2A4A"),
    "dot_empty": _rgb("#C3CCD5"),
    "guide": _rgb("#FFD23F"),
    "shade": _rgb("#000000", 0.55),
}
