"""Find the machine-readable zone in a picture at any scale and in any of four orientations.

An MRZ is 2 or 3 parallel text lines of the same length, each 30, 36 or 44 evenly spaced
characters of one size: a text line 20-60 times longer than it is high, with siblings of
the same length, direction and thickness at 1.3-3.5 line heights. The locator finds text
lines, not bands: lines that sit far apart (passport pages, clean scans) or that a band
filter would merge with the card edge or nearby print stay separate and are grouped by
these rules.

1. Scales: the picture is searched at widths where an MRZ filling 20-100% of it has
   characters of about 6-16 px (two scales for a camera frame, more for large scans;
   small pictures are enlarged).
2. Lines: black-hat morphology keeps small dark print, a short closing along the line
   joins its characters (and not the lines), each blob's rotated rectangle is a line
   candidate. Lines running across (a document turned 90 or 270 degrees) are found on
   the transposed picture, whose rectangles map straight back.
3. Groups: 2-3 lines that agree in direction, length, thickness and spacing are a zone;
   the zone's rotated box (frame pixels) goes to the reader, best first.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

Image8 = NDArray[Any]
Rect = tuple[tuple[float, float], tuple[float, float], float]  # cv2 rotated rectangle

SEARCH_WIDTHS = (400, 640, 1000, 1600)  # long sides at which a picture is searched
MAX_ENLARGED = 1000  # a small picture is enlarged to at most this long side
MIN_LINE_ASPECT = 12.0  # an MRZ line is 30-44 characters of about its height
MAX_LINE_ASPECT = 90.0
MIN_THICKNESS = 3.0  # px at the search scale: thinner blobs are rules or noise
MAX_THICKNESS = 28.0
MIN_TILT = 4.0  # degrees: lines leaning more are searched again turned level
MIN_BLOCK_ASPECT = 3.5  # 2-3 lines run together: a block of this aspect or more
MIN_BLOCK_PX = 100  # and at least this long at the search scale (30 glyphs of 3+ px)
BLOCK_SCORE = 0.5  # a block ranks below a group of separate lines of its length
JOIN = 15  # px: the closing that joins the characters of a line (not the lines)


@dataclass(frozen=True)
class Zone:
    """A found MRZ: its rotated box in picture pixels and how well its lines agree."""

    box: NDArray[np.float32]  # 4 corners, picture pixels
    lines: int  # 2 or 3 separate lines; 0 for a block of lines run together
    score: float  # higher is better


def search_scales(width: int, height: int) -> list[float]:
    """Scale factors at which the picture is searched: its long side at each of
    SEARCH_WIDTHS up to its own size, or up to twice it for a small picture (to at most
    the largest width below MAX_ENLARGED)."""
    side = max(width, height)
    limit = max(side, min(2 * side, MAX_ENLARGED))
    return [target / side for target in SEARCH_WIDTHS if target <= limit] or [
        SEARCH_WIDTHS[0] / side]


def ink_of(small: Image8) -> Image8:
    """Small dark print as 255 on 0: Otsu on a black-hat wider than a glyph, which
    measures how much darker than the paper around it each pixel is."""
    blackhat = cv2.morphologyEx(
        small, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (31, 23))
    )
    _, ink = cv2.threshold(blackhat, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return np.asarray(ink)


def text_lines(small: Image8, ink: Image8 | None = None) -> tuple[list[Rect], list[Rect]]:
    """Rotated rectangles of text lines that run roughly along the x axis, and of blocks
    that may be 2-3 lines run together (small print, blur).

    ``ink``: ``ink_of(small)`` when the caller has it already.
    """
    ink = ink_of(small) if ink is None else ink
    joined = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, np.ones((1, JOIN), np.uint8))
    # page outlines, rules and card edges are thinner than a joined text line: they go, so
    # that a line touching them (or a frame around the whole page) stays a line of its own
    joined = cv2.morphologyEx(joined, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    contours, hierarchy = cv2.findContours(joined, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    lines: list[Rect] = []
    blocks: list[Rect] = []
    for index, contour in enumerate(contours):
        if len(contour) < 5 or hierarchy[0][index][3] != -1:  # holes are not lines
            continue
        (cx, cy), (w, h), angle = cv2.minAreaRect(contour)
        long_side, short_side = max(w, h), max(1.0, min(w, h))
        aspect = long_side / short_side
        fill = cv2.contourArea(contour) / (long_side * short_side)
        rect = _normal(((float(cx), float(cy)), (float(w), float(h)), float(angle)))
        if (MIN_THICKNESS <= short_side <= MAX_THICKNESS and fill >= 0.45
                and MIN_LINE_ASPECT <= aspect <= MAX_LINE_ASPECT):
            lines.append(rect)
        elif (2 * MIN_THICKNESS <= short_side <= 3.5 * MAX_THICKNESS and fill >= 0.6
              and MIN_BLOCK_ASPECT <= aspect < MIN_LINE_ASPECT and long_side >= MIN_BLOCK_PX):
            blocks.append(rect)
    return lines, blocks


def _normal(rect: Rect) -> Rect:
    """The rectangle with its long side as width and the angle in (-90, 90]."""
    (cx, cy), (w, h), angle = rect
    if h > w:
        w, h, angle = h, w, angle + 90.0
    while angle > 90.0:
        angle -= 180.0
    while angle <= -90.0:
        angle += 180.0
    return ((cx, cy), (w, h), angle)


def group_lines(lines: list[Rect]) -> list[tuple[list[Rect], float]]:
    """Groups of 2-3 lines that could be one MRZ, each with a score (higher is better)."""
    order = sorted(range(len(lines)), key=lambda i: lines[i][0][1])
    pairs: dict[int, list[int]] = {i: [] for i in order}
    for a, b in itertools.combinations(order, 2):
        if _siblings(lines[a], lines[b]):
            pairs[a].append(b)
            pairs[b].append(a)
    groups: list[tuple[list[Rect], float]] = []
    seen: set[frozenset[int]] = set()
    for a in order:
        for b in pairs[a]:
            for c in [*pairs[b], None]:
                members = [a, b] if c is None else [a, b, c]
                if c is not None and (
                    c == a or (c not in pairs[a] and not _between(lines, a, b, c))
                ):
                    continue
                key = frozenset(members)
                if key in seen:
                    continue
                seen.add(key)
                rects = [lines[i] for i in members]
                groups.append((rects, _score(rects)))
    groups.sort(key=lambda item: -item[1])
    return groups


def _between(lines: list[Rect], a: int, b: int, c: int) -> bool:
    """Whether b lies between a and c (three lines in a row, a and c too far to pair)."""
    ys = [_across(lines[a], lines[i]) for i in (a, b, c)]
    return min(ys[0], ys[2]) < ys[1] < max(ys[0], ys[2])


def _across(ref: Rect, other: Rect) -> float:
    """Signed distance of ``other``'s centre from ``ref``'s centre line, across it."""
    theta = np.deg2rad(ref[2])
    nx, ny = -np.sin(theta), np.cos(theta)
    return float((other[0][0] - ref[0][0]) * nx + (other[0][1] - ref[0][1]) * ny)


def _along(ref: Rect, other: Rect) -> float:
    theta = np.deg2rad(ref[2])
    return float((other[0][0] - ref[0][0]) * np.cos(theta)
                 + (other[0][1] - ref[0][1]) * np.sin(theta))


def _siblings(a: Rect, b: Rect) -> bool:
    """Two neighbouring lines of one MRZ: parallel, alike, one to three heights apart."""
    angle = abs(a[2] - b[2])
    angle = min(angle, 180.0 - angle)
    if angle > 5.0:
        return False
    len_a, len_b = a[1][0], b[1][0]
    if min(len_a, len_b) < 0.7 * max(len_a, len_b):
        return False
    thick = (a[1][1] + b[1][1]) / 2
    if min(a[1][1], b[1][1]) < 0.5 * max(a[1][1], b[1][1]):
        return False
    gap = abs(_across(a, b))
    if not 1.2 * thick <= gap <= 4.0 * thick:
        return False
    return abs(_along(a, b)) <= 0.15 * max(len_a, len_b)


def _score(rects: list[Rect]) -> float:
    """Longer, more alike groups score higher; three lines of TD1 length beat two."""
    lengths = [r[1][0] for r in rects]
    thick = [r[1][1] for r in rects]
    alike = min(lengths) / max(lengths) * min(thick) / max(thick)
    return float(np.mean(lengths) * alike * (1.0 + 0.1 * (len(rects) - 2)))


def zone_box(rects: list[Rect]) -> NDArray[np.float32]:
    """The rotated box around a group's lines."""
    points = np.concatenate([cv2.boxPoints(r) for r in rects]).astype(np.float32)
    box: NDArray[np.float32] = cv2.boxPoints(cv2.minAreaRect(points)).astype(np.float32)
    return box


def zones_in(
    view: Image8, max_zones: int = 4, ink: Image8 | None = None
) -> list[tuple[NDArray[np.float32], int, float]]:
    """Zones in ``view`` (its pixels) as (box, lines, score), best first.

    The closing that joins characters runs along the x axis, so a line tilted more than
    a few degrees falls apart into steps: when the longest lines lean, the view is
    turned level by their angle and searched again (boxes map back).
    """
    lines, blocks = text_lines(view, ink)
    found = [(zone_box(rects), len(rects), score)
             for rects, score in group_lines(lines)[:max_zones]]
    found += [(cv2.boxPoints(rect).astype(np.float32), 0, BLOCK_SCORE * rect[1][0])
              for rect in sorted(blocks, key=lambda r: -r[1][0])[:2]]
    longest = sorted(lines, key=lambda r: -r[1][0])[:5]
    tilt = float(np.median([r[2] for r in longest])) if longest else 0.0
    if abs(tilt) >= MIN_TILT:
        height, width = view.shape[:2]
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), tilt, 1.0)
        cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
        size = (int(width * cos + height * sin), int(width * sin + height * cos))
        matrix[0, 2] += size[0] / 2 - width / 2
        matrix[1, 2] += size[1] / 2 - height / 2
        level = cv2.warpAffine(view, matrix, size, flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
        back = cv2.invertAffineTransform(matrix)
        for rects, score in group_lines(text_lines(level)[0])[:max_zones]:
            box = cv2.transform(zone_box(rects)[None], back)[0].astype(np.float32)
            found.append((box, len(rects), score))
    return found


def find_zones(gray: Image8, max_zones: int = 4,
               orientations: tuple[bool, ...] = (False, True)) -> list[Zone]:
    """Candidate MRZ boxes in ``gray`` (picture pixels), best first.

    ``orientations``: search for lines along x (False) and along y (True, a document
    turned 90 or 270 degrees).
    """
    height, width = gray.shape[:2]
    zones: list[Zone] = []
    source, source_scale = gray, 1.0
    for scale in sorted(search_scales(width, height), reverse=True):
        # each scale is shrunk from the previous one (cheaper than from the full frame)
        factor = scale / source_scale
        interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
        small = cv2.resize(source, None, fx=factor, fy=factor, interpolation=interpolation)
        source, source_scale = small, scale
        scale = small.shape[1] / width  # the exact factor after rounding the size
        ink = ink_of(small)
        for transposed in orientations:
            view = np.ascontiguousarray(small.T) if transposed else small
            view_ink = np.ascontiguousarray(ink.T) if transposed else ink
            for box, count, score in zones_in(view, max_zones, view_ink):
                if transposed:
                    box = box[:, ::-1]
                zones.append(Zone(np.ascontiguousarray(box / scale, dtype=np.float32),
                                  count, score / scale * (0.999 if transposed else 1.0)))
    return _distinct(zones)[:max_zones]


def _distinct(zones: list[Zone]) -> list[Zone]:
    """Best first, without zones that cover the same place as a better one."""
    kept: list[Zone] = []
    for zone in sorted(zones, key=lambda z: -z.score):
        centre = zone.box.mean(axis=0)
        size = float(np.linalg.norm(zone.box[1] - zone.box[0]) + np.linalg.norm(
            zone.box[2] - zone.box[1]))
        if any(float(np.linalg.norm(k.box.mean(axis=0) - centre)) < 0.1 * size
               and k.lines == zone.lines for k in kept):
            continue
        kept.append(zone)
    return kept
