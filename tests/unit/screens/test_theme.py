"""The palettes' contrast and the millimetre arithmetic (no Kivy)."""

from __future__ import annotations

import pytest

from screens.measure import (
    Panel,
    cap_mm,
    contrast,
    font_px_for_cap,
    panel_for,
    panel_problem,
)
from screens.theme import EDGE_PAIRS, PALETTES, TEXT_PAIRS


@pytest.mark.parametrize("palette", sorted(PALETTES))
def test_every_text_and_edge_pair_contrasts_enough(palette: str) -> None:
    colours = PALETTES[palette]
    faint = [(fg, bg, round(contrast(colours[fg], colours[bg]), 2)) for fg, bg in TEXT_PAIRS
             if contrast(colours[fg], colours[bg]) < 4.5]
    faint += [(fg, bg, round(contrast(colours[fg], colours[bg]), 2)) for fg, bg in EDGE_PAIRS
              if contrast(colours[fg], colours[bg]) < 3.0]
    assert faint == []


def test_contrast_is_the_wcag_ratio() -> None:
    assert contrast((0, 0, 0), (1, 1, 1)) == pytest.approx(21.0)
    assert contrast((1, 1, 1), (1, 1, 1)) == pytest.approx(1.0)
    # the placeholder grey the issue measured: #949494 on white
    assert contrast((0x94 / 255,) * 3, (1, 1, 1)) == pytest.approx(3.03, abs=0.01)


def test_sizes_in_mm_on_both_panels() -> None:
    ten = panel_for(1280, 800, 216.96, 135.6)
    seven = panel_for(800, 480, 154.08, 85.92)
    assert ten.px(15) == 89 and ten.px(12) == 71
    assert seven.px(15) == 84 and seven.px(12) == 68
    assert font_px_for_cap(3.0, ten) == 25 and font_px_for_cap(3.0, seven) == 24
    assert cap_mm(24, seven) >= 3.0 > cap_mm(23, seven)
    assert panel_for(480, 800, 154.08, 85.92, rotation=90).px_per_mm == seven.px_per_mm
    assert panel_for(800, 480, 0, 0, dpi=254).px_per_mm == pytest.approx(10.0)


def test_a_panel_size_that_does_not_fit_the_window_is_named() -> None:
    # the 10.1" panel's millimetres on a 7" 800x480 window: keys would be 10 mm there
    assert "154.08 x 85.92" in (panel_problem(panel_for(800, 480, 217, 136), 800, 480,
                                               217, 136) or "")
    # millimetres that make pixels 40 % taller than wide
    odd = panel_for(1000, 1000, 200, 140)
    assert odd.mismatch > 0.1 and panel_problem(odd, 1000, 1000, 200, 140)
    assert panel_problem(panel_for(800, 480, 154.08, 85.92), 800, 480, 154.08, 85.92) is None
    assert isinstance(Panel(5.0, 5.0).mm(50), float)


def test_the_demo_on_a_known_panel_size_gets_that_panels_millimetres() -> None:
    from kiosk.settings import Settings
    from screens.measure import on_known_panel

    seven = on_known_panel(Settings(), (800, 480)).ui
    assert (seven.panel_width_mm, seven.panel_height_mm) == (154.08, 85.92)
    assert on_known_panel(Settings(), (1024, 600)) == Settings()
