"""MRZ reading on synthetic OCR-B documents: valid ones read, corrupted ones never accepted."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import numpy as np
import pytest

from hardware.scan.mrz_ocr import MrzReader
from hardware.scan.synth import Degradation, place, render_mrz_document, sample_mrz
from kiosk.demo_cast import demo_holder
from kiosk.document.consensus import MrzConsensus
from kiosk.identity.mrz import build_mrz, parse_mrz

ON = date(2026, 1, 1)
STILL = Degradation(angle=3.0, perspective=0.01, blur=0.6, noise=2.0, jpeg_quality=85)


def td3() -> tuple[str, ...]:
    return build_mrz(
        "TD3", document_number="84711081", birth_date=date(1979, 11, 30),
        expiry_date=date(2033, 8, 9), surname="Lindqvist", given_names="Karin", sex="F",
        optional_data=("7911302384",),
    )


def td1() -> tuple[str, ...]:
    return build_mrz(
        "TD1", document_number="82233445", birth_date=date(2001, 2, 3),
        expiry_date=date(2029, 12, 24), surname="Öberg", given_names="Åke", sex="M",
        optional_data=("0102031234", ""),
    )


def frames(lines: tuple[str, ...], count: int, pitch: float = 18.0, seed: int = 0) -> list[Any]:
    """The same document held still: the same look, fresh sensor noise each frame."""
    document = render_mrz_document(lines, pitch, seed=seed)
    return [place(document, look=STILL, seed=seed * 100 + i) for i in range(count)]


def accept(reader: MrzReader, images: list[Any]) -> tuple[tuple[str, ...] | None, int]:
    """Feed frames to a consensus; the accepted lines and how many frames it took."""
    consensus = MrzConsensus(on=ON)
    for used, image in enumerate(images, start=1):
        reading = reader.read(image)
        if reading is None:
            continue
        result = consensus.offer(reading.lines, reading.uncertain)
        if result is not None:
            return result.lines, used
    return None, len(images)


@pytest.mark.parametrize("make", [td3, td1], ids=["TD3", "TD1"])
def test_valid_mrz_is_read_and_accepted(mrz_reader: MrzReader, make: Any) -> None:
    lines = make()
    accepted, _ = accept(mrz_reader, frames(lines, 8))
    assert accepted == lines


def test_reading_returns_the_lines_of_a_clean_frame(mrz_reader: MrzReader) -> None:
    lines = td3()
    reading = mrz_reader.read(frames(lines, 1, pitch=20.0)[0])
    assert reading is not None
    assert len(reading.lines) == 2 and all(len(line) == 44 for line in reading.lines)
    differences = sum(a != b for x, y in zip(reading.lines, lines, strict=True)
                      for a, b in zip(x, y, strict=True))
    assert differences <= 2


@pytest.mark.parametrize("make", [td3, td1], ids=["TD3", "TD1"])
def test_corrupted_check_digit_is_never_accepted(mrz_reader: MrzReader, make: Any) -> None:
    lines = list(make())
    row = len(lines) - 1 if len(lines) == 2 else 1
    last = lines[row][-1]
    lines[row] = lines[row][:-1] + str((int(last) + 3) % 10)  # the composite check digit
    assert not parse_mrz(lines, ON).valid
    accepted, _ = accept(mrz_reader, frames(tuple(lines), 6, seed=3))
    assert accepted is None


def test_no_mrz_in_a_frame_without_one(mrz_reader: MrzReader) -> None:
    blank = np.full((720, 1280, 3), 120, np.uint8)
    assert mrz_reader.read(blank) is None


def test_demo_samples_match_the_demo_cast(mrz_reader: MrzReader) -> None:
    anna = demo_holder("anna", ON)
    lines = sample_mrz(anna)
    result = parse_mrz(lines, ON)
    assert result.valid and result.personnummer is not None
    assert result.personnummer.normalised == anna.personnummer
    assert result.document_number == anna.document_number
    assert result.expiry_date.year >= 2036


def test_check_digits_miss_some_letter_digit_swaps() -> None:
    from hardware.scan.mrz_ocr import _check_digit_notices

    assert not _check_digit_notices("8", "S")  # S = 28: same weight mod 10
    assert not _check_digit_notices("6", "G")
    assert _check_digit_notices("7", "Z")
    assert _check_digit_notices("0", "O")


def test_a_document_held_upside_down_is_read(mrz_reader: MrzReader) -> None:
    lines = td1()
    upside_down = [np.ascontiguousarray(np.rot90(frame, 2)) for frame in frames(lines, 6)]
    accepted, _ = accept(mrz_reader, upside_down)
    assert accepted == lines


# --- the locator's failure kinds on real documents (issue 11), drawn synthetically -----

def accept_within(reader: MrzReader, lines: tuple[str, ...], document: Any,
                  look: Degradation, budget: int) -> bool:
    """Whether the consensus takes exactly ``lines`` within ``budget`` frames."""
    images = [place(document, look=look, seed=300 + i) for i in range(budget)]
    accepted, _ = accept(reader, images)
    return accepted == lines


def test_lines_far_apart_are_grouped_into_one_zone(mrz_reader: MrzReader) -> None:
    # passport pages print the two lines up to three character pitches apart: each line
    # is a blob of its own that a band filter throws away as too long and thin
    lines = td3()
    page = render_mrz_document(lines, 16.0, line_pitch=3.0, seed=1)
    assert accept_within(mrz_reader, lines, page, STILL, 4)


@pytest.mark.parametrize("angle", [92.0, 180.0, -93.0],
                         ids=["turned-90", "upside-down", "turned-270"])
def test_a_passport_turned_on_the_desk_is_read(mrz_reader: MrzReader, angle: float) -> None:
    # a page turned a quarter has its zone running down the frame; turned half, the
    # upside-down glyphs still resemble OCR-B well enough to pass for upright
    lines = td3()
    page = render_mrz_document(lines, 11.0 if abs(angle) < 120 else 13.0, seed=4)
    assert accept_within(mrz_reader, lines, page, replace(STILL, angle=angle), 3)


def test_a_small_id_card_at_arms_length_is_read(mrz_reader: MrzReader) -> None:
    # TD1 at 10 px per character: the whole card is about 340 px wide in the frame
    lines = td1()
    card = render_mrz_document(lines, 10.0, seed=2)
    assert accept_within(mrz_reader, lines, card, replace(STILL, angle=2.0), 4)


def test_an_mrz_at_the_card_edge_under_fine_print_is_read(mrz_reader: MrzReader) -> None:
    # the card is cut 0.3 mm below the last line and a line of small print sits above
    # the zone: a band detector merges the zone with both
    lines = td1()
    card = render_mrz_document(lines, 10.0, bottom_mm=0.3, fine_print=True, seed=4)
    assert accept_within(mrz_reader, lines, card, STILL, 4)


def test_a_mark_past_the_line_end_is_left_out_of_the_grid() -> None:
    from hardware.scan.mrz_ocr import _assign_cells

    pitch = 20
    boxes = [(10 + pitch * i, 5, 24 + pitch * i, 30) for i in range(30)]
    stray = (10 + pitch * 31, 5, 24 + pitch * 31, 30)  # one empty cell past the end
    cells = _assign_cells([*boxes, stray], 30)
    assert cells is not None and cells == boxes


def test_the_locator_finds_nothing_in_plain_print() -> None:
    from hardware.scan.mrz_locate import find_zones

    blank = np.full((720, 1280), 200, np.uint8)
    assert find_zones(blank) == []


@pytest.mark.parametrize("shape", [(1, 1), (1, 500), (500, 1), (7, 2000), (64, 4000)])
def test_degenerate_frames_read_as_nothing(mrz_reader: MrzReader, shape: tuple[int, int]
                                           ) -> None:
    # a frame one pixel high, or a long thin strip of stripes: no MRZ and no exception
    stripes = np.zeros(shape, np.uint8)
    stripes[::4] = 255
    assert mrz_reader.read(stripes) is None
    assert mrz_reader.read(np.dstack([stripes] * 3)) is None


def test_letter_digit_swaps_that_cancel_in_the_check_sum_are_never_accepted(
        mrz_reader: MrzReader) -> None:
    # DO6SSSOGG read as D06SSS0GG passes the document number's check digit (O = 24 at
    # weights 3 and 7: 240 = 0 mod 10); the round capitals O, S, G stand nearly as tall
    # as digits and the heights of 13-px print are coarse, so the height must not decide
    # such cells with certainty. A hand-held look from the synthetic bench's generator.
    lines = build_mrz(
        "TD3", document_number="DO6SSSOGG", birth_date=date(1980, 5, 17),
        expiry_date=date(2031, 3, 3), surname="Doe", given_names="John", sex="M",
        issuing_state="UTO", nationality="UTO", optional_data=("",),
    )
    page = render_mrz_document(lines, 13.34, seed=13)
    look = Degradation(angle=-0.19, perspective=0.024, blur=0.875, noise=3.15,
                       jpeg_quality=60, offset=(0.0063, -0.0008))
    consensus = MrzConsensus(on=ON)
    for i in range(6):
        reading = mrz_reader.read(place(page, look=look, seed=130 + i))
        if reading is None:
            continue
        result = consensus.offer(reading.lines, reading.uncertain)
        assert result is None or result.lines == lines
