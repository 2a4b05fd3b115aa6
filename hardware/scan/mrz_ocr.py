"""Read the machine-readable zone of a passport or ID card from a camera frame.

1. Locate: morphology on a downscaled frame finds wide bands of dense small dark text.
2. Level: the band is cut out at full resolution, rotated level and enlarged.
3. Grid: text rows by projection, glyphs by connected components; an MRZ line has a
   glyph in every one of its 30, 36 or 44 cells, so the longest evenly spaced run of
   glyphs is the line (the local pitch follows perspective).
4. Read: OCR-B templates (Debian's fonts-ocr-b) classify every cell within its field's
   kind (no letter in a date, no digit in a name); look-alike letters and digits go by
   glyph height; other close calls compare the two candidates where they differ. One
   reused Tesseract API (A-Z 0-9 < only) reads the band too and breaks ties.
5. Doubt: cells whose call is not clear are reported in ``MrzRead.uncertain``.
The lines returned are NOT validated: kiosk.document.consensus repairs and checks them.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from typing import Any

import cv2
import numpy as np
import tesserocr
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from hardware.scan.mrz_locate import find_zones
from hardware.scan.resources import ocrb_font_path, tessdata_dir
from kiosk.document.consensus import checked_positions
from kiosk.errors import InvalidInput, ScanError
from kiosk.identity.mrz import MrzFormat, position_kinds, reading_kinds, repair_mrz
from kiosk.ports import MrzRead

Image8 = NDArray[Any]  # an OpenCV image (uint8, grey or BGR)

MRZ_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
LINE_LENGTHS = {3: (30,), 2: (44, 36)}  # lines in the zone -> possible characters per line
LOCATE_WIDTH = 640  # the frame is searched at this width
UPRIGHT_FIT = 0.85  # glyphs matching OCR-B this well are upright (else both ways are tried)
BAND_WIDTH = 1100  # a narrower MRZ band is enlarged to this width before reading
CELL_SIZE = (20, 28)  # template comparison size (width, height)
FILLER_SCORE = 0.55  # template score above which a cell is a filler '<'
MIN_PITCH_PX = 6.0  # below this the characters are too small to read
OCR_CONTEXT = 4  # Tesseract reads this many character pitches beyond the doubtful cells
OCR_MAX_DOUBTS = 12  # Tesseract breaks ties in a reading with at most this many doubtful cells


Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive) in band pixels


@dataclass(frozen=True)
class LineGrid:
    """One MRZ text line inside the levelled band: rows and a fixed character grid."""

    top: int
    bottom: int
    length: int
    glyph_height: float
    cells: tuple[Box | None, ...]  # the glyph box found in each cell, if any

    def cell_of(self, x: float) -> int:
        """The cell whose glyph centre is nearest to x (-1 when no glyph is near)."""
        best, best_d = -1, float("inf")
        for col, box in enumerate(self.cells):
            if box is not None and abs((box[0] + box[2]) / 2 - x) < best_d:
                best, best_d = col, abs((box[0] + box[2]) / 2 - x)
        box = self.cells[best] if best >= 0 else None
        return best if box is not None and best_d <= (box[2] - box[0]) else -1


def find_mrz_bands(gray: Image8, max_candidates: int = 3) -> list[NDArray[np.float32]]:
    """Rotated boxes (4 corner points, frame pixels) that may hold an MRZ, best first."""
    width = gray.shape[1]
    scale = min(1.0, LOCATE_WIDTH / width)
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (3, 3), 0)
    rect_kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (13, 5))
    blackhat = cv2.morphologyEx(small, cv2.MORPH_BLACKHAT, rect_kernel)
    grad_x = np.absolute(cv2.Sobel(blackhat, cv2.CV_32F, 1, 0, ksize=-1))
    grad: Image8 = (255 * grad_x / max(1e-6, float(grad_x.max()))).astype(np.uint8)
    grad = cv2.morphologyEx(grad, cv2.MORPH_CLOSE, rect_kernel)
    _, mask = cv2.threshold(grad, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(
        mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (21, 15))
    )
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8), iterations=2)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    scored: list[tuple[float, NDArray[np.float32]]] = []
    for contour in contours:
        (cx, cy), (w, h), angle = cv2.minAreaRect(contour)
        long_side, short_side = max(w, h), max(1.0, min(w, h))
        aspect = long_side / short_side
        if long_side < 0.15 * small.shape[1] or not 3.0 <= aspect <= 25.0:
            continue
        fill = cv2.contourArea(contour) / (long_side * short_side)
        if fill < 0.5:
            continue
        box = cv2.boxPoints(((cx, cy), (w, h), angle)) / scale
        scored.append((long_side * fill, box.astype(np.float32)))
    scored.sort(key=lambda item: -item[0])
    return [box for _, box in scored[:max_candidates]]


def level_band(gray: Image8, box: NDArray[np.float32]) -> Image8:
    """Cut the rotated box out of the frame, level, with a margin around the text."""
    points = _order_corners(box)
    top_w = float(np.linalg.norm(points[1] - points[0]))
    side_h = float(np.linalg.norm(points[3] - points[0]))
    zoom = max(1.0, BAND_WIDTH / top_w)  # small glyphs are cut out enlarged
    top_w, side_h = top_w * zoom, side_h * zoom
    pad_x, pad_y = 0.08 * top_w, 0.25 * side_h
    width, height = round(top_w + 2 * pad_x), round(side_h + 2 * pad_y)
    target = np.array(
        [
            [pad_x, pad_y],
            [pad_x + top_w, pad_y],
            [pad_x + top_w, pad_y + side_h],
            [pad_x, pad_y + side_h],
        ],
        dtype=np.float32,
    )
    matrix = cv2.getPerspectiveTransform(points, target)
    return cv2.warpPerspective(
        gray, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )


def _order_corners(box: NDArray[np.float32]) -> NDArray[np.float32]:
    """Corners as top-left, top-right, bottom-right, bottom-left with the long side on top."""
    centre = box.mean(axis=0)
    edges = [box[(i + 1) % 4] - box[i] for i in range(4)]
    direction = max(edges, key=lambda e: float(np.linalg.norm(e)))
    if direction[0] < 0:
        direction = -direction
    angle = float(np.arctan2(direction[1], direction[0]))
    cos, sin = np.cos(-angle), np.sin(-angle)
    local = (box - centre) @ np.array([[cos, -sin], [sin, cos]]).T
    wanted = ((-1, -1), (1, -1), (1, 1), (-1, 1))
    order = [int(np.argmax(local[:, 0] * sx + local[:, 1] * sy)) for sx, sy in wanted]
    return box[order].astype(np.float32)


INK_KERNEL = BAND_WIDTH // 16  # wider than any MRZ glyph of a band enlarged to BAND_WIDTH


def ink_level(band: Image8) -> Image8:
    """How much darker each pixel is than the paper around it (a black-hat).

    It keeps only dark marks smaller than a few glyphs, so shading, glare, background
    print wider than a stroke and a dark card edge beside the zone fall away.
    """
    smooth = cv2.GaussianBlur(band, (3, 3), 0)
    side = min(INK_KERNEL, max(15, band.shape[0] // 2 * 2 + 1))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (INK_KERNEL, side))
    return np.asarray(cv2.morphologyEx(smooth, cv2.MORPH_BLACKHAT, kernel))


def ink_mask(band: Image8, level: Image8 | None = None) -> Image8:
    """Dark text as 255 on 0: Otsu on the band's ink level."""
    dark = ink_level(band) if level is None else level
    _, mask = cv2.threshold(dark, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return mask


def _text_rows(mask: Image8) -> list[tuple[int, int]]:
    profile = (mask > 0).sum(axis=1)
    limit = max(3, int(0.12 * profile.max())) if profile.size else 0
    rows: list[tuple[int, int]] = []
    start = None
    for y, value in enumerate(profile):
        if value >= limit and start is None:
            start = y
        elif value < limit and start is not None:
            rows.append((start, y))
            start = None
    if start is not None:
        rows.append((start, len(profile)))
    return [(a, b) for a, b in rows if b - a >= 4]


def _glyph_boxes(
    mask: Image8, top: int, bottom: int, core: float | None = None
) -> tuple[list[Box], float]:
    """Glyph boxes of one text row, left to right; broken glyphs are joined.

    ``core``: the height of the row's ink (the strip may be taller, to keep slanted
    glyphs whole); fillers '<' stand about 0.7 of it.
    """
    strip = mask[top:bottom]
    count, _, stats, _ = cv2.connectedComponentsWithStats(strip, connectivity=8)
    if count <= 1:
        return [], 0.0
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    widths = stats[1:, cv2.CC_STAT_WIDTH]
    tall = heights >= (0.3 * strip.shape[0] if core is None else 0.45 * core)
    if not tall.any():
        return [], 0.0
    median_h = float(np.median(heights[tall]))
    lefts = stats[1:, cv2.CC_STAT_LEFT]
    inside = (lefts > 0) & (lefts + widths < strip.shape[1])  # not the card edge or desk
    keep = tall & inside & (heights <= 1.5 * median_h) & (widths <= 2.5 * median_h)
    boxes = sorted(
        (int(x), int(y) + top, int(x + w), int(y + h) + top)
        for x, y, w, h in (stats[i + 1, :4] for i in np.flatnonzero(keep))
    )
    if len(boxes) < 2:
        return boxes, median_h
    centres = [(b[0] + b[2]) / 2 for b in boxes]
    typical = float(np.median(np.diff(centres)))
    merged = [boxes[0]]
    for box in boxes[1:]:
        last = merged[-1]
        if (box[0] + box[2]) / 2 - (last[0] + last[2]) / 2 < 0.45 * typical:
            merged[-1] = (
                min(last[0], box[0]),
                min(last[1], box[1]),
                max(last[2], box[2]),
                max(last[3], box[3]),
            )
        else:
            merged.append(box)
    return merged, median_h


def printed_rules(mask: Image8, rows: Sequence[tuple[int, int]] | None = None) -> Image8:
    """Printed rules and frames in an ink mask: marks longer than any glyph, which would
    otherwise join the glyphs they touch into one blob (255 where a rule is)."""
    rows = _text_rows(mask) if rows is None else rows
    if not rows:
        return np.zeros_like(mask)
    row_h = float(np.median([b - a for a, b in rows]))
    across = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, BAND_WIDTH // 30), np.uint8))
    upright_rules = cv2.morphologyEx(
        mask, cv2.MORPH_OPEN, np.ones((max(3, round(1.6 * row_h)), 1), np.uint8))
    return np.asarray(cv2.bitwise_or(across, upright_rules))


def line_grids(mask: Image8) -> list[LineGrid]:
    """The MRZ lines of a levelled band's ink mask, each with its character grid."""
    lines: list[tuple[int, int, list[Box], float]] = []
    rows = _text_rows(mask)
    mask = np.asarray(cv2.subtract(mask, printed_rules(mask, rows)))
    for i, (top, bottom) in enumerate(rows):
        # widen the row so that a slightly slanted line keeps its glyphs whole
        margin = (bottom - top) // 2
        above = (rows[i - 1][1] + top) // 2 if i > 0 else 0
        below = (bottom + rows[i + 1][0]) // 2 if i + 1 < len(rows) else mask.shape[0]
        core = bottom - top
        top, bottom = max(above, top - margin), min(below, bottom + margin)
        boxes, glyph_h = _glyph_boxes(mask, top, bottom, core)
        if len(boxes) >= 20:
            lines.append((top, bottom, boxes, glyph_h))
    if len(lines) >= 3:
        lines = _most_alike(lines, 3) if _looks_like(lines, 3) else _most_alike(lines, 2)
    if len(lines) not in LINE_LENGTHS:
        return []
    counts = sorted(len(boxes) for _, _, boxes, _ in lines)
    length = min(LINE_LENGTHS[len(lines)], key=lambda n: abs(n - counts[-1]))
    grids = []
    for top, bottom, boxes, glyph_h in lines:
        cells = _assign_cells(boxes, length)
        if cells is None:
            return []
        whole = _whole_glyphs(mask, top, bottom, cells, glyph_h)
        grids.append(LineGrid(top, bottom, length, glyph_h, tuple(whole)))
    return grids


Row = tuple[int, int, list[Box], float]


def _looks_like(lines: list[Row], count: int) -> bool:
    best = _most_alike(lines, count)
    return all(abs(len(xs) - 30) <= 4 for _, _, xs, _ in best)


def _most_alike(lines: list[Row], count: int) -> list[Row]:
    """The ``count`` consecutive lines whose glyph counts agree best (the MRZ is last)."""
    best = lines[-count:]
    best_spread = float("inf")
    for i in range(len(lines) - count, -1, -1):
        group = lines[i : i + count]
        sizes = [len(xs) for _, _, xs, _ in group]
        spread = float(max(sizes) - min(sizes))
        if spread < best_spread:
            best, best_spread = group, spread
    return best


def _whole_glyphs(
    mask: Image8, top: int, bottom: int, cells: Sequence[Box | None], glyph_h: float
) -> list[Box | None]:
    """Each cell's box grown to all ink in its slot (thin bars a blur cut off the stem)."""
    centres = [(b[0] + b[2]) / 2 if b is not None else None for b in cells]
    known = [c for c in centres if c is not None]
    pitch = float(np.median(np.diff(known))) if len(known) > 1 else glyph_h
    min_area = max(2, int(0.01 * glyph_h * glyph_h))
    # ink above or below the line's glyphs (guilloche, a stray mark) is not part of a glyph
    tops = [b[1] for b in cells if b is not None]
    bottoms = [b[3] for b in cells if b is not None]
    if tops:
        top = max(top, int(np.median(tops) - 0.2 * glyph_h))
        bottom = min(bottom, int(np.median(bottoms) + 0.2 * glyph_h) + 1)
    grown: list[Box | None] = []
    for col, box in enumerate(cells):
        if box is None:
            grown.append(None)
            continue
        centre = (box[0] + box[2]) / 2
        left = max(0, int(centre - 0.5 * pitch))
        right = min(mask.shape[1], int(np.ceil(centre + 0.5 * pitch)))
        window = mask[top:bottom, left:right]
        count, _, stats, _ = cv2.connectedComponentsWithStats(window, connectivity=8)
        x0, y0, x1, y1 = box
        for i in range(1, count):
            x, y, w, h, area = (int(v) for v in stats[i])
            if area >= min_area:
                x0, y0 = min(x0, left + x), min(y0, top + y)
                x1, y1 = max(x1, left + x + w), max(y1, top + y + h)
        grown.append((x0, y0, x1, y1) if col >= 0 else box)
    return grown


def _assign_cells(boxes: Sequence[Box], length: int) -> list[Box | None] | None:
    """Glyph boxes placed in ``length`` cells, following the local pitch (perspective).

    The MRZ has a glyph in every cell (fillers are glyphs too), so the longest run of
    boxes without a wide gap is the line; None unless it spans exactly ``length`` cells.
    """
    centres = np.asarray([(b[0] + b[2]) / 2 for b in boxes])
    if len(centres) < 0.8 * length:
        return None
    gaps = np.diff(centres)
    typical = float(np.median(gaps))
    if typical < MIN_PITCH_PX:
        return None
    runs: list[list[int]] = [[0]]
    for i, gap in enumerate(gaps, start=1):
        if gap > 2.5 * typical:
            runs.append([i])
        else:
            runs[-1].append(i)
    run = max(runs, key=len)
    cols, col, pitch = [0], 0, typical
    for prev, cur in itertools.pairwise(run):
        step = max(1, round((centres[cur] - centres[prev]) / pitch))
        col += step
        cols.append(col)
        if step == 1:
            pitch = 0.8 * pitch + 0.2 * float(centres[cur] - centres[prev])
    # a mark beyond the line's end (card edge, a stray print) sits a skipped cell or more
    # away: drop such ends while the run is longer than the line
    first, last = 0, len(cols) - 1
    while cols[last] - cols[first] + 1 > length and last - first > 1:
        head, tail = cols[first + 1] - cols[first], cols[last] - cols[last - 1]
        if max(head, tail) < 2:
            return None
        if tail >= head:
            last -= 1
        else:
            first += 1
    if cols[last] - cols[first] + 1 != length:
        return None
    cells: list[Box | None] = [None] * length
    for index in range(first, last + 1):
        cells[cols[index] - cols[first]] = boxes[run[index]]
    return cells


TEMPLATE_SIZES = 16  # glyph heights whose templates are kept (about 0.6 MB each)
SHIFTS = ((-1, 0), (1, 0), (0, -1), (0, 1))  # glyph box offsets tried (band pixels)
CLEAR_SCORE, CLEAR_GAP = 0.9, 0.15  # a glyph this sure of its template is not shifted
TEMPLATE_BLURS = (0.0, 0.8, 1.4, 2.0, 2.8, 4.0, 5.5)  # sharp to blurred (small print enlarged)


@lru_cache(maxsize=TEMPLATE_SIZES)
def _templates(glyph_height: int) -> NDArray[np.float32]:
    """OCR-B glyph vectors at the observed glyph height: (blur variants, alphabet, features).

    Glyphs are drawn four times larger and shrunk, as print is, so that the font's
    hinting at small sizes (which reshapes 3, R, E) does not distort the templates.
    """
    big = glyph_height * 4
    probe = ImageFont.truetype(str(ocrb_font_path()), 100)
    cap = probe.getbbox("E")[3] - probe.getbbox("E")[1]
    font = ImageFont.truetype(str(ocrb_font_path()), max(6, round(big * 100 / cap)))
    glyphs = []
    for char in MRZ_ALPHABET:
        canvas = Image.new("L", (big * 3, big * 3), 0)
        ImageDraw.Draw(canvas).text((big, big // 2), char, fill=255, font=font)
        small = cv2.resize(np.asarray(canvas), (glyph_height * 3, glyph_height * 3),
                           interpolation=cv2.INTER_AREA)
        ys, xs = np.nonzero(small > 100)
        glyphs.append((small, (int(xs.min()), int(ys.min()), int(xs.max()) + 1,
                               int(ys.max()) + 1)))
    variants = []
    for sigma in TEMPLATE_BLURS:
        rows = []
        for glyph, box in glyphs:
            blurred = np.asarray(cv2.GaussianBlur(glyph, (0, 0), sigma) if sigma > 0 else glyph)
            # the box is found as on a camera glyph: blurred, at the same low ink level
            rows.append(_glyph_vector(blurred, _faint_box(blurred, box, grow=round(2 * sigma) + 2)))
        variants.append(np.stack(rows))
    return np.stack(variants)


def _glyph_vector(ink: Image8, box: Box) -> NDArray[np.float32]:
    """The ink inside ``box`` centred in a box of CELL_SIZE's aspect, resized, normalised."""
    x0, y0, x1, y1 = box
    glyph = ink[y0:y1, x0:x1].astype(np.float32)
    side_h = glyph.shape[0]
    side_w = max(glyph.shape[1], round(side_h * CELL_SIZE[0] / CELL_SIZE[1]))
    canvas = np.zeros((side_h, side_w), np.float32)
    left = (side_w - glyph.shape[1]) // 2
    canvas[:, left : left + glyph.shape[1]] = glyph
    vector = np.asarray(cv2.resize(canvas, CELL_SIZE, interpolation=cv2.INTER_AREA),
                        dtype=np.float32).ravel()
    vector -= vector.mean()
    norm = float(np.linalg.norm(vector))
    return (vector / norm if norm > 0 else vector).astype(np.float32)


def _faint_box(ink: Image8, box: Box, grow: int = 2) -> Box:
    """The glyph's box redrawn at a low ink level, so thin faint strokes stay inside."""
    x0, y0 = max(0, box[0] - grow), max(0, box[1] - grow)
    x1, y1 = min(ink.shape[1], box[2] + grow), min(ink.shape[0], box[3] + grow)
    window = ink[y0:y1, x0:x1]
    values = np.sort(window, axis=None)
    if values.size == 0:
        return box
    low = float(values[int(0.10 * (values.size - 1))])
    high = float(values[int(0.98 * (values.size - 1))])
    ys, xs = np.nonzero(window > low + 0.35 * (high - low))
    if ys.size == 0:
        return box
    return (x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1,
            y0 + int(ys.max()) + 1)


@dataclass(frozen=True)
class CellMatch:
    """A line's glyphs against the OCR-B templates."""

    scores: NDArray[np.float32]  # cells x alphabet: best correlation over blur variants
    vectors: NDArray[np.float32]  # cells x features: the normalised glyphs
    variants: NDArray[np.intp]  # cells x alphabet: which blur variant scored best
    templates: NDArray[np.float32]  # variants x alphabet x features

    def separation(self, col: int, first: str, second: str) -> float:
        """Where the glyph lies between two templates: +0.5 is ``first``, -0.5 ``second``.

        Only the pixels where the two characters differ count (E and F differ only in
        the bottom bar), which separates look-alikes far better than whole-glyph scores.
        """
        a, b = MRZ_ALPHABET.index(first), MRZ_ALPHABET.index(second)
        variant = int(self.variants[col, a])
        ta, tb = self.templates[variant, a], self.templates[variant, b]
        direction = ta - tb
        length = float(direction @ direction)
        if length <= 1e-9:
            return 0.0
        return float((self.vectors[col] - (ta + tb) / 2) @ direction) / length


def template_match(
    band: Image8, grid: LineGrid, ink: Image8 | None = None, shifts: bool = True
) -> CellMatch:
    """Every cell of ``grid`` against every OCR-B template; empty cells score zero.

    ``ink``: the band's ink level (dark = high); by default the inverted band.
    ``shifts``: glyphs whose best template is not clearly ahead are also cut one pixel
    off to each side (a box a pixel off, from blur or a stray mark, shifts the whole
    glyph against the templates) and the best cut counts.
    """
    ink = 255 - band if ink is None else ink
    templates = _templates(max(6, round(grid.glyph_height)))
    boxes = [_faint_box(ink, box) if box is not None else None for box in grid.cells]
    cells = np.zeros((grid.length, templates.shape[2]), np.float32)
    for col, box in enumerate(boxes):
        if box is not None:
            cells[col] = _glyph_vector(ink, box)
    all_scores = np.einsum("cf,vaf->vca", cells, templates)
    scores, variants = all_scores.max(axis=0), all_scores.argmax(axis=0)
    if shifts:
        ranked = np.sort(scores, axis=1)
        unclear = (ranked[:, -1] < CLEAR_SCORE) | (ranked[:, -1] - ranked[:, -2] < CLEAR_GAP)
        for col in (int(i) for i in np.flatnonzero(unclear)):
            box = boxes[col]
            if box is None:
                continue
            x0, y0, x1, y1 = box
            for dx, dy in SHIFTS:
                vector = _glyph_vector(ink, (max(0, x0 + dx), max(0, y0 + dy), x1 + dx, y1 + dy))
                tried = templates @ vector  # variant, char
                if tried.max() > scores[col].max():
                    cells[col], scores[col], variants[col] = vector, tried.max(axis=0), \
                        tried.argmax(axis=0)
    return CellMatch(scores.astype(np.float32), cells, variants, templates)


def template_scores(band: Image8, grid: LineGrid) -> NDArray[np.float32]:
    """Correlation of every cell of ``grid`` with every OCR-B template (cells x alphabet)."""
    return template_match(band, grid).scores


def _ink_height(ink: Image8, box: Box) -> float:
    """The glyph's height with sub-pixel edges (half-maximum of its row ink profile)."""
    x0, y0, x1, y1 = box
    top, bottom = max(0, y0 - 2), min(ink.shape[0], y1 + 2)
    profile = ink[top:bottom, x0:x1].astype(np.float32).max(axis=1)
    base, peak = float(profile.min()), float(profile.max())
    if peak - base < 1:
        return float(y1 - y0)
    level = (base + peak) / 2
    above = np.flatnonzero(profile >= level)
    first, last = int(above[0]), int(above[-1])

    def cross(a: int, b: int) -> float:  # where the profile passes ``level`` between rows
        va, vb = float(profile[a]), float(profile[b])
        return a + (level - va) / (vb - va) * (b - a) if vb != va else float(a)

    upper = cross(first - 1, first) if first > 0 else float(first)
    lower = cross(last + 1, last) if last + 1 < len(profile) else float(last)
    return lower - upper + 1


def _relative_heights(
    ink: Image8, grids: Sequence[LineGrid], kinds: Sequence[Sequence[str]] | None = None,
    template_lines: Sequence[str] | None = None,
) -> list[list[float | None]]:
    """Each glyph's height on a scale where digits stand at DIGIT_HEIGHT, capitals at
    LETTER_HEIGHT.

    The zone calibrates itself where it can: glyphs in digit-only fields (dates, check
    digits) that read as digits give the digit height, glyphs in letter-only fields
    (names, state) that read as letters give the capital height; without both, the
    zone's tallest glyphs (digits) are the reference.
    """
    measured = [[_ink_height(ink, b) if b is not None else None for b in g.cells] for g in grids]
    heights = [h for row in measured for h in row if h is not None]
    tall = float(np.percentile(heights, 90)) if heights else 0.0
    digit_h: list[float] = []
    letter_h: list[float] = []
    if kinds is not None and template_lines is not None:
        for row, line in enumerate(measured):
            for col, height in enumerate(line):
                char = template_lines[row][col]
                if height is None or char == "<":
                    continue
                if kinds[row][col] == "numeric" and char in DIGITS:
                    digit_h.append(height)
                elif kinds[row][col] == "alpha" and char not in DIGITS:
                    letter_h.append(height)
    if len(digit_h) >= 4 and len(letter_h) >= 4:
        digit, letter = float(np.median(digit_h)), float(np.median(letter_h))
        if 0.02 * digit < digit - letter < 0.2 * digit:
            span = DIGIT_HEIGHT - LETTER_HEIGHT
            return [[LETTER_HEIGHT + (h - letter) / (digit - letter) * span if h is not None
                     else None for h in row] for row in measured]
    return [[h / tall if h is not None and tall > 0 else None for h in row] for row in measured]


def _height_noise(heights: Sequence[Sequence[float | None]], kinds: Sequence[Sequence[str]],
                  template_lines: Sequence[str]) -> float:
    """Twice the spread of the digit heights in digit-only fields: how far a measured
    height may stray (a few pixels per glyph measure coarsely)."""
    digits = [h for row, line in enumerate(heights) for col, h in enumerate(line)
              if h is not None and kinds[row][col] == "numeric"
              and template_lines[row][col] in DIGITS]
    return float(np.std(digits)) if len(digits) >= 4 else 0.0


@dataclass(frozen=True)
class BandGrid:
    """A levelled band with its MRZ line grids and each line's template match."""

    band: Image8
    ink: Image8  # the band's ink level (ink_level)
    grids: list[LineGrid]
    matches: list[CellMatch]
    asked: bool = False  # Tesseract has read this band already

    @property
    def fit(self) -> float:
        """How well the glyphs match OCR-B (mean best score); 0 without an MRZ grid."""
        if not self.grids:
            return 0.0
        return float(np.mean([m.scores.max(axis=1).mean() for m in self.matches]))


def band_grid(band: Image8, shifts: bool = True) -> BandGrid:
    """The band's line grids and template matches (empty when it holds no MRZ grid);
    ``shifts`` as in ``template_match``."""
    ink = ink_level(band)
    mask = ink_mask(band, ink)
    # a rule is not part of the glyph it runs past: take it out of the ink as well
    rules = cv2.dilate(printed_rules(mask), np.ones((3, 3), np.uint8))
    ink = np.where(rules > 0, 0, ink).astype(np.uint8)
    grids = line_grids(mask)
    return BandGrid(band, ink, grids,
                    [template_match(band, grid, ink, shifts) for grid in grids])


def _template_fit(band: Image8) -> float:
    """How well a band's glyphs match OCR-B (mean best score); 0 without an MRZ grid."""
    return band_grid(band).fit


def upright_grid(band: Image8) -> BandGrid:
    """The band the right way up, with its grid: a document may be held upside down."""
    found = band_grid(band, shifts=False)
    if found.fit < UPRIGHT_FIT:
        turned = band_grid(np.asarray(cv2.rotate(band, cv2.ROTATE_180)), shifts=False)
        found = turned if turned.fit > found.fit else found
    if not found.grids:
        return found
    return BandGrid(found.band, found.ink, found.grids,
                    [template_match(found.band, grid, found.ink) for grid in found.grids])


def upright(band: Image8) -> Image8:
    """The band turned the right way up: a document may be held upside down."""
    return upright_grid(band).band


def first_repairable(candidates: Sequence[tuple[str, ...]]) -> tuple[str, ...] | None:
    """The first reading whose check digits pass after position-based repair."""
    for lines in candidates:
        try:
            if repair_mrz(lines) is not None:
                return lines
        except InvalidInput:
            continue
    return None


def _candidates(gray: Image8) -> Iterator[NDArray[np.float32]]:
    """Boxes that may hold an MRZ, searched lazily (most frames end at the first):
    zones along the frame, zones across it (turned 90/270), the band detector's."""
    for orientation in (False, True):
        for zone in find_zones(gray, orientations=(orientation,)):
            yield zone.box
    yield from find_mrz_bands(gray)


class MrzReader:
    """Finds and reads MRZ lines in frames with one reused Tesseract API (thread-safe).

    The API starts when a reading first needs Tesseract (a cell the templates leave in
    doubt), or at ``start_engine``: a clean MRZ is read by the templates alone, and
    starting Tesseract costs ~0.15 s and ~26 MB (a third of `kioskctl demo visit`'s
    sample scan).
    """

    def __init__(
        self, choose: Callable[[Sequence[tuple[str, ...]]], tuple[str, ...] | None] | None = None
    ) -> None:
        """``choose`` returns the first acceptable of several candidate readings (by
        default the first whose check digits pass after repair), or None. A missing
        language file fails here (ScanError)."""
        self._tessdata = tessdata_dir("eng")
        self._api: Any = None
        self._lock = threading.Lock()
        self._choose = choose or first_repairable
        self._verdicts: dict[tuple[str, ...], bool] = {}  # lines -> chosen (repair is slow)

    @property
    def engine_started(self) -> bool:
        """Whether the Tesseract API has started (and not been closed)."""
        return self._api is not None

    def start_engine(self) -> None:
        """Start the Tesseract API now (a broken installation fails here: ScanError)."""
        with self._lock:
            self._engine()

    def _engine(self) -> Any:
        """The Tesseract API, started on first use (call with the lock held)."""
        if self._api is not None:
            return self._api
        try:
            api = tesserocr.PyTessBaseAPI(
                path=str(self._tessdata) + "/", lang="eng", psm=tesserocr.PSM.SINGLE_BLOCK
            )
        except RuntimeError as exc:
            raise ScanError(f"Tesseract could not start: {exc}") from exc
        api.SetVariable("tessedit_char_whitelist", MRZ_ALPHABET)
        api.SetVariable("load_system_dawg", "0")
        api.SetVariable("load_freq_dawg", "0")
        # no learning from earlier frames: a reading depends on its frame alone
        api.SetVariable("classify_enable_learning", "0")
        self._api = api
        return api

    def close(self) -> None:
        """Release the Tesseract API (if it started)."""
        with self._lock:
            api, self._api = self._api, None
            if api is not None:
                api.End()

    def read(self, image: Image8) -> MrzRead | None:
        """The MRZ lines of a BGR or grey frame, or None when no MRZ was found."""
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        tried: list[tuple[tuple[bool, int], BandGrid, MrzRead]] = []
        for box in _candidates(gray):
            found = upright_grid(level_band(gray, box))
            if not found.grids:
                continue
            read = self._decide_lines(found, None)
            rank = (self._passes(read.lines), -len(read.uncertain))
            if rank == (True, 0):
                return read  # check digits pass and no cell is in doubt
            if rank[0] and not tried:
                # the check digits pass with a few doubts: Tesseract breaks the ties
                read = self._with_ocr(found, read)
                rank = (self._passes(read.lines), -len(read.uncertain))
                if rank == (True, 0):
                    return read
                found = replace(found, asked=True)
            tried.append((rank, found, read))
        if not tried:
            return None
        # the other candidates (the same zone cut at another scale) may have done better;
        # Tesseract, which breaks ties, is asked once, about the best of them
        _, found, read = max(tried, key=lambda item: item[0])
        return read if found.asked else self._with_ocr(found, read)

    def _with_ocr(self, found: BandGrid, read: MrzRead) -> MrzRead:
        """The reading with Tesseract's symbols breaking the templates' ties, if better."""
        if len(read.uncertain) > OCR_MAX_DOUBTS:
            return read  # not an MRZ, or too far gone for tie-breaking to save it
        second = self._decide_lines(
            found, self._ocr_cells(found.band, found.grids, read.uncertain))
        rank = (self._passes(read.lines), -len(read.uncertain))
        return second if (self._passes(second.lines), -len(second.uncertain)) >= rank else read

    def _passes(self, lines: tuple[str, ...]) -> bool:
        """Whether ``choose`` takes these lines (remembered: the repair search is slow)."""
        verdict = self._verdicts.get(lines)
        if verdict is None:
            if len(self._verdicts) > 256:
                self._verdicts.clear()
            verdict = self._verdicts[lines] = self._choose([lines]) is not None
        return verdict

    def read_band(self, band: Image8) -> MrzRead | None:
        """Read a levelled band; None when it does not hold 2-3 grid-aligned lines."""
        return self._read_grid(band_grid(band))

    def _read_grid(self, found: BandGrid) -> MrzRead | None:
        """The templates decide; Tesseract is asked only when they leave doubt."""
        if not found.grids:
            return None
        read = self._decide_lines(found, None)
        if read.uncertain or not self._passes(read.lines):
            read = self._with_ocr(found, read)
        return read

    def _decide_lines(self, found: BandGrid, ocr_cells: list[dict[int, str]] | None) -> MrzRead:
        grids, matches = found.grids, found.matches
        template_lines = tuple(
            "".join(MRZ_ALPHABET[int(i)] for i in m.scores.argmax(axis=1)) for m in matches
        )
        formats: dict[int, MrzFormat] = {30: "TD1", 36: "TD2", 44: "TD3"}
        mrz_format = formats[grids[0].length]
        kinds, guarded = position_kinds(mrz_format), checked_positions(mrz_format)
        try:  # an issuer whose numbers are digits makes its number cells digit-only
            kinds = reading_kinds(template_lines)
        except InvalidInput:
            pass
        heights = _relative_heights(found.ink, grids, kinds, template_lines)
        margin = max(HEIGHT_MARGIN, _height_noise(heights, kinds, template_lines))
        decided = [
            [
                _decide(ocr_cells[row].get(col) if ocr_cells else None, m.scores[col],
                        heights[row][col], kinds[row][col], (row, col) in guarded,
                        partial(m.separation, col), margin)
                for col in range(grid.length)
            ]
            for row, (grid, m) in enumerate(zip(grids, matches, strict=True))
        ]
        merged = tuple("".join(char for char, _, _ in row) for row in decided)
        candidates = [merged] if merged == template_lines else [merged, template_lines]
        chosen = next((lines for lines in candidates if self._passes(lines)), None)
        rescued = sum(r for row in decided for _, _, r in row)
        # One guess a check digit notices is safe; two might cancel each other out.
        uncertain = tuple((row, col) for row, cells in enumerate(decided)
                          for col, (_, ok, r) in enumerate(cells)
                          if not ok or (r and rescued > 1))
        total = sum(len(row) for row in decided)
        return MrzRead(lines=chosen or merged, confidence=round(1 - len(uncertain) / total, 3),
                       uncertain=uncertain)

    def _ocr_cells(self, band: Image8, grids: list[LineGrid],
                   doubts: Sequence[tuple[int, int]] = ()) -> list[dict[int, str]]:
        """Tesseract's symbols placed in grid cells: one {cell: char} per line.

        With ``doubts`` (line, cell) only the lines holding them are read, from a few
        cells before the first to a few after the last (Tesseract's time grows with the
        width it reads).
        """
        pitch = float(np.median([g.glyph_height for g in grids])) * 1.15
        scale = 1.0 if pitch >= 18 else 18.0 / pitch
        rows = sorted({row for row, _ in doubts}) or [0, len(grids) - 1]
        boxes = [grids[row].cells[col] for row, col in doubts]
        left, right = 0, band.shape[1]
        if boxes and all(box is not None for box in boxes):
            left = max(0, min(box[0] for box in boxes if box) - round(OCR_CONTEXT * pitch))
            right = min(right, max(box[2] for box in boxes if box) + round(OCR_CONTEXT * pitch))
        top = max(0, grids[rows[0]].top - round(pitch))
        bottom = min(band.shape[0], grids[rows[-1]].bottom + round(pitch))
        crop = np.ascontiguousarray(band[top:bottom, left:right])
        if scale != 1.0:
            crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        cells: list[dict[int, tuple[str, float]]] = [{} for _ in grids]
        with self._lock:
            api = self._engine()
            api.SetImage(Image.fromarray(crop))
            api.Recognize()
            iterator = api.GetIterator()
            level = tesserocr.RIL.SYMBOL
            for symbol in tesserocr.iterate_level(iterator, level):
                try:
                    text = symbol.GetUTF8Text(level)
                except RuntimeError:  # tesserocr raises for a symbol without text
                    continue
                box = symbol.BoundingBox(level)
                if not text or box is None:
                    continue
                conf = symbol.Confidence(level)
                cx = (box[0] + box[2]) / 2 / scale + left
                cy = (box[1] + box[3]) / 2 / scale + top
                for row, grid in enumerate(grids):
                    if grid.top - 2 <= cy <= grid.bottom + 2:
                        col = grid.cell_of(cx)
                        if 0 <= col < grid.length and conf > cells[row].get(col, ("", -1))[1]:
                            cells[row][col] = (text[0], conf)
        return [{col: char for col, (char, _) in row.items()} for row in cells]


# Letters and digits that look alike in OCR-B; the digit stands taller.
LOOKALIKES = frozenset(frozenset(pair) for pair in ("O0", "D0", "Q0", "B8", "S5", "S8", "Z2", "G6"))
DIGITS = frozenset("0123456789")
ALLOWED = {  # the characters each field kind may hold (kiosk.identity.mrz.position_kinds)
    "numeric": np.array([c in DIGITS or c == "<" for c in MRZ_ALPHABET]),
    "alpha": np.array([c not in DIGITS for c in MRZ_ALPHABET]),
    "sex": np.array([c in "MFX<" for c in MRZ_ALPHABET]),
}
LEAN = 0.15  # how far (of 0.5) a glyph must lean to its template over the closest rival
UNGUARDED_LEAN = 0.25  # the same where no check digit guards the cell
SCORE_GAP = 0.15  # a template this far ahead of its rival (and leaning to it) is certain
TWIN_RANGE = 0.12  # look-alikes scoring this close are told apart by height
HEIGHT_MARGIN = 0.03  # a height this close to the digit/letter midpoint is a guess (at
# least: twice the spread of the zone's measured digit heights)
ROUND_LETTERS = frozenset("OQSGC")  # round capitals overshoot: OCR-B O/S/G stand 731-734
ROUND_LETTER_HEIGHT = 0.954  # units against 701 for E/D/B and about 778 for digits
DIGIT_HEIGHT = 1.0  # OCR-B digits stand about 7% taller than capitals: heights
LETTER_HEIGHT = 0.92  # relative to the tallest glyphs of the zone tell O from 0, B from 8


def _check_digit_notices(digit: str, letter: str) -> bool:
    """Whether a check digit notices ``digit`` read as ``letter``, or back (not S/8, G/6)."""
    value = 0 if letter == "<" else ord(letter) - ord("A") + 10
    return (value - int(digit)) % 10 != 0


def _decide(
    ocr_char: str | None,
    scores: NDArray[np.float32],
    height: float | None,
    kind: str = "alnum",
    guarded: bool = False,
    separation: Callable[[str, str], float] | None = None,
    height_margin: float = 0.03,
) -> tuple[str, bool, bool]:
    """One cell's character, whether it is certain enough, and whether only a check digit
    makes it so (a letter/digit guess in a mixed field that its check digit would notice).

    The OCR-B templates decide. Between a letter and a digit that look alike (O/0, B/8,
    S/8...) the glyph's height decides; in a numeric or alphabetic field the repair
    settles such a call by the field's kind anyway, in a mixed field (document number)
    only a clear height counts as certain. Within one kind the best template and its
    closest rival are compared on the pixels where they differ (``separation``): a
    clear lean is certain, as is Tesseract reading the same character; fields that no
    check digit guards (names, nationality) need a clearer lean.
    """
    allowed = ALLOWED.get(kind)
    if allowed is not None:  # a date holds no letter, a name no digit: classify within
        scores = np.where(allowed, scores, -1.0).astype(np.float32)
    order = [int(i) for i in np.argsort(scores)[::-1]]
    best = MRZ_ALPHABET[order[0]]
    if scores[order[0]] <= 0:
        return best, False, False
    top_digit = next(MRZ_ALPHABET[i] for i in order if MRZ_ALPHABET[i] in DIGITS)
    top_other = next(MRZ_ALPHABET[i] for i in order if MRZ_ALPHABET[i] not in DIGITS)
    close_kinds = abs(float(scores[MRZ_ALPHABET.index(top_digit)]
                            - scores[MRZ_ALPHABET.index(top_other)])) < TWIN_RANGE
    height_sure, rescued = True, False
    if (height is not None and close_kinds and allowed is None
            and frozenset(top_digit + top_other) in LOOKALIKES):
        letter = ROUND_LETTER_HEIGHT if top_other in ROUND_LETTERS else LETTER_HEIGHT
        middle = (DIGIT_HEIGHT + letter) / 2
        best = top_digit if height > middle else top_other
        height_sure = kind != "alnum" or abs(height - middle) >= height_margin
        rescued = not height_sure and _check_digit_notices(top_digit, top_other)
    rival = next((MRZ_ALPHABET[i] for i in order
                  if MRZ_ALPHABET[i] != best and (MRZ_ALPHABET[i] in DIGITS) == (best in DIGITS)
                  and scores[i] > -1), best)
    if rival == best:
        return best, True, False
    if separation is not None:
        lean = separation(best, rival)
        if lean < 0:
            best, lean = rival, -lean
    else:
        lean = float(scores[MRZ_ALPHABET.index(best)] - scores[MRZ_ALPHABET.index(rival)])
    needed = LEAN if guarded else UNGUARDED_LEAN
    gap = float(scores[MRZ_ALPHABET.index(best)] - scores[MRZ_ALPHABET.index(rival)])
    sure = (lean >= needed or (ocr_char == best and lean >= LEAN / 2)
            or (gap >= SCORE_GAP and lean >= LEAN / 2))
    return best, sure and (height_sure or rescued), rescued
