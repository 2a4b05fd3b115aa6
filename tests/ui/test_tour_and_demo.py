"""`kiosk --demo --tour DIR` and `kiosk --demo` without a display, as the operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

pytestmark = [pytest.mark.ui, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def headless_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["XDG_STATE_HOME"] = str(tmp_path / "state")  # the kiosk's own dirs, not the user's
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    return env


def kiosk(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "screens.main", *args],
        cwd=ROOT, env=headless_env(tmp_path), capture_output=True, text=True, timeout=600,
    )


def is_drawn(path: Path, size: tuple[int, int] = (1280, 800)) -> bool:
    """Not a blank frame: several colours, at the window's size."""
    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=100_000)
        return image.size == size and colours is not None and len(colours) > 8


SIZES = {"1280x800": (1280, 800), "800x480": (800, 480)}  # the 10.1" and the 7" panel


def limit_breaches(widgets: dict[str, Any]) -> list[str]:
    """Every measured widget or text of a tour's widgets.json that breaks a limit."""
    limits = widgets["limits"]
    found = []
    for screen, measured in widgets["screens"].items():
        for target in measured["targets"]:
            if target["demo"]:
                continue  # the simulated reader and cards: no part of a real kiosk
            edge = min(target["w_mm"], target["h_mm"])
            if edge < target["required_mm"] - 0.01:
                found.append(f"{screen}: {target['kind']} {target['text']!r} {edge} mm")
            if target["edge_contrast"] is not None and target["edge_contrast"] < 3.0:
                found.append(f"{screen}: {target['kind']} {target['text']!r} edge "
                             f"{target['edge_contrast']}:1")
        for text in measured["texts"]:
            if text["demo"]:
                continue
            if text["cap_mm"] < limits["min_text_cap_mm"] - 0.01:
                found.append(f"{screen}: {text['text']!r} capitals {text['cap_mm']} mm")
            if text["contrast"] < limits["text_contrast"]:
                found.append(f"{screen}: {text['text']!r} {text['fg']} on {text['bg']} "
                             f"{text['contrast']}:1")
        for shape in measured["graphics"]:
            if shape["contrast"] < limits["non_text_contrast"]:
                found.append(f"{screen}: {shape['part']} {shape['contrast']}:1")
    return found


def test_tour_saves_every_screen_on_both_panels_in_swedish_and_english(tmp_path: Path) -> None:
    out = tmp_path / "tour"
    result = kiosk("--demo", "--tour", str(out), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    for folder, size in SIZES.items():
        swedish = sorted(p.name for p in (out / "sv" / folder).glob("*.png"))
        english = sorted(p.name for p in (out / "en" / folder).glob("*.png"))
        assert swedish == english
        assert len(swedish) >= 25
        for name in ("admin-sign-in", "home", "card-record", "document-check", "pin-choose",
                     "keyboard-letters", "keyboard-numeric", "block-type-number", "writing-pin",
                     "hand-to-holder", "receipt", "sign-receipt", "hand-to-admin", "help",
                     "done", "card-refused", "card-info", "block-reason", "block-confirm",
                     "card-removed", "idle-warning", "admin-wrong-pin", "portal-unreachable",
                     "pin-letter-done", "signature-pin-choose", "signature-certificate-done",
                     "renew-signature-pin", "renew-certificates-done", "card-info-expiring",
                     "additional-present", "additional-organisation", "additional-done",
                     "pin-current", "pin-current-wrong", "visit-cancelled"):
            assert any(n.endswith(f"-{name}.png") for n in swedish), name
        if folder == "800x480":  # the holder's screens of one visit with larger text too
            for name in ("card-record", "hand-to-holder", "pin-rule-broken", "pin-choose",
                         "pin-confirm", "writing-pin", "receipt", "sign-receipt",
                         "hand-to-admin", "done", "pin-current", "visit-cancelled"):
                assert any(n.endswith(f"-{name}-larger-text.png") for n in swedish), name
        assert all(is_drawn(out / "sv" / folder / n, size) for n in swedish)
        # every screen measured at this panel size: targets and texts in mm, contrast
        for lang in ("sv", "en"):
            widgets = json.loads((out / lang / folder / "widgets.json").read_text())
            assert widgets["window_px"] == list(size)
            assert sorted(f"{n}.png" for n in widgets["screens"]) == swedish
            pads = [t for screen in widgets["screens"].values() for t in screen["targets"]
                    if t["kind"] == "PinKey"]
            assert pads and all(t["required_mm"] >= 15 for t in pads)
            assert limit_breaches(widgets) == [], (lang, folder)
            assert buttons_out_of_sight(widgets) == [], (lang, folder)
            assert errors_out_of_sight(widgets) == [], (lang, folder)
            assert hidden_without_cue(widgets) == [], (lang, folder)
            assert wrapped_with_room(widgets) == [], (lang, folder)
    # A second walk with the reader's own PIN pad: sign-in, activation and a PIN change
    # (the current PIN checked first, a wrong one refused there) typed there.
    for lang in ("sv", "en"):
        pad = sorted(p.name for p in (out / lang / "reader-pad").glob("*.png"))
        assert [n[3:-4] for n in pad] == [
            "reader-pad-admin", "reader-pad-choose", "reader-pad-mismatch", "reader-pad-sign",
            "reader-pad-done", "reader-pad-current", "reader-pad-current-wrong",
            "reader-pad-change",
        ], pad
        assert all(is_drawn(out / lang / "reader-pad" / n) for n in pad)
    assert str(out.resolve()) in result.stdout
    assert "layout:" not in result.stderr  # no overlapping texts on any screen


# HOME's visits scroll on the 7" panel by design (two columns of nine)
SCROLLS_BY_DESIGN = frozenset({"home"})


def buttons_out_of_sight(widgets: dict[str, Any]) -> list[str]:
    """A screen's large buttons (actions, choices, reasons) not wholly in sight unscrolled."""
    found = []
    for screen, measured in widgets["screens"].items():
        if screen.split("-", 1)[1] in SCROLLS_BY_DESIGN:
            continue
        found += [f"{screen}: {t['text']!r} {t['in_sight_pct']}%" for t in measured["targets"]
                  if t["kind"] == "KioskButton" and not t["demo"] and t["in_sight_pct"] < 95]
    return found


def errors_out_of_sight(widgets: dict[str, Any]) -> list[str]:
    """What went wrong and what to do next, where either needs scrolling to be read."""
    return [f"{screen}: {text['text']!r} {text['in_sight_pct']}%"
            for screen, measured in widgets["screens"].items()
            for text in measured.get("errors", []) if text["in_sight_pct"] < 95]


def hidden_without_cue(widgets: dict[str, Any]) -> list[str]:
    """Content out of sight in a scroll view with no scroll cue ("Visa mer") in sight: on a
    touch screen without a keyboard nobody knows to look for it."""
    return [f"{screen}: {scroll['hidden_px']} px out of sight, no cue"
            for screen, measured in widgets["screens"].items()
            for scroll in measured.get("scrolls", []) if not scroll["cue"]]


def wrapped_with_room(widgets: dict[str, Any]) -> list[str]:
    """Button labels wrapped in a row that has room for every label on one line ("Till" /
    "startsidan" beside empty room)."""
    found = []
    for screen, measured in widgets["screens"].items():
        for row in measured.get("rows", []):
            if sum(button["one_line_px"] for button in row["buttons"]) > row["width_px"]:
                continue  # a full row: labels wrap between words (never mid-word: layout:)
            found += [f"{screen}: {button['text']!r} on {button['lines']} lines"
                      for button in row["buttons"] if button["lines"] > 1]
    return found


def test_cue_check_finds_content_out_of_sight_without_a_cue() -> None:
    widgets = {"screens": {
        "07-card-record": {"scrolls": [{"hidden_px": 140, "cue": False}]},
        "04-home": {"scrolls": [{"hidden_px": 90, "cue": True}]},
        "01-admin-sign-in": {"targets": []}}}
    assert hidden_without_cue(widgets) == ["07-card-record: 140 px out of sight, no cue"]


def test_wrap_check_finds_a_label_wrapped_beside_room() -> None:
    home = {"text": "Till startsidan", "one_line_px": 230.0, "lines": 2}
    widgets = {"screens": {
        "33-done-larger-text": {"rows": [{"width_px": 600.0, "buttons": [home]}]},
        "14-document-manual": {"rows": [{"width_px": 500.0, "buttons": [
            {"text": "Skanna igen", "one_line_px": 170.0, "lines": 1},
            {"text": "Kontrollera uppgifterna", "one_line_px": 340.0, "lines": 2}]}]}}}
    assert wrapped_with_room(widgets) == ["33-done-larger-text: 'Till startsidan' on 2 lines"]


def test_error_sight_check_finds_a_next_step_below_the_fold() -> None:
    widgets = {"screens": {
        "15-pin-rule-broken": {"errors": [{"text": "Koden får inte vara", "in_sight_pct": 100},
                                          {"text": "Välj en annan kod", "in_sight_pct": 30}]},
        "45-admin-not-authorised": {"errors": [{"text": "Förnya", "in_sight_pct": 0}]},
        "01-admin-sign-in": {"targets": []}}}
    assert errors_out_of_sight(widgets) == ["15-pin-rule-broken: 'Välj en annan kod' 30%",
                                            "45-admin-not-authorised: 'Förnya' 0%"]


def test_sight_check_finds_a_button_below_the_fold() -> None:
    target = {"kind": "KioskButton", "text": "Byt ut det", "demo": False}
    widgets = {"screens": {"04-home": {"targets": [{**target, "in_sight_pct": 40}]},
                           "31-additional-present": {"targets": [{**target, "in_sight_pct": 40}]},
                           "39-block-reason": {"targets": [{**target, "in_sight_pct": 99}]}}}
    assert buttons_out_of_sight(widgets) == ["31-additional-present: 'Byt ut det' 40%"]


def test_limit_check_finds_a_small_target_and_a_faint_text() -> None:
    widgets = {"limits": {"min_text_cap_mm": 3.0, "text_contrast": 4.5, "non_text_contrast": 3.0},
               "screens": {"01-home": {
                   "targets": [{"kind": "KioskButton", "text": "Logga ut", "w_mm": 20.0,
                                "h_mm": 8.1, "required_mm": 12.0, "edge_contrast": 1.2,
                                "demo": False}],
                   "texts": [{"text": "ÅÅÅÅ-MM-DD", "cap_mm": 2.3, "fg": "#999999",
                              "bg": "#FFFFFF", "contrast": 2.85, "demo": False}],
                   "graphics": [{"part": "empty PIN dot", "contrast": 1.51}]}}}
    assert len(limit_breaches(widgets)) == 5


def test_demo_without_display_runs_the_visit_and_says_where_the_screenshots_are(
    tmp_path: Path,
) -> None:
    shots = tmp_path / "shots"
    shots.mkdir()
    stale = shots / "40-pin-letter-done.png"  # an earlier run's, of other steps
    stale.write_bytes(b"not this run's")
    result = kiosk("--demo", "--shots", str(shots), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "the activation visit finished" in result.stdout
    assert str(shots.resolve()) in result.stdout
    names = sorted(p.name for p in shots.glob("*.png"))
    assert names[-1].endswith("-done.png")
    assert len(names) >= 12
    assert not stale.exists()
    listed = [line.strip() for line in result.stdout.splitlines() if line.strip().endswith(".png")]
    assert [Path(line).name for line in listed] == names  # each shot of this run, once
    assert f"{len(names)} screenshots" in result.stdout
