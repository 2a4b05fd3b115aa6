"""Barcode decoding of camera frames: zxing-cpp (default) or pyzbar, restricted by format.

The live loop asks for level codes only (no rotation or inversion search), which keeps a
1280x720 frame in a few milliseconds. When that finds nothing, a cheaper fallback than
a full search handles the usual hand-held tilt of a 1D or PDF417 code: locate regions that
are really bar-like, turn each level, and decode it at the resolution its bars need.

Bar-like means, over a window of the frame at 640 px wide: strong gradients, all along
one direction (structure-tensor coherence), and alternating in sign (many parallel edges,
not one). A document page has none: its text turns every way, and its edges (page,
photo, rules) are single steps. So on a document without a code the fallback costs only
the locating (about 1.4 ms: the gradients at 640 px, judged on 2x2-px cells), not a
decode of the whole page (12 ms before).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from kiosk.errors import ConfigError, ScanError
from kiosk.ports import BarcodeRead

Image8 = NDArray[Any]  # an OpenCV image (uint8, grey or BGR)

# The kiosk's format names (zxing-cpp's) and what each library calls them.
ZXING_FORMATS = {
    "QRCode": "QRCode",
    "Code128": "Code128",
    "PDF417": "PDF417",
    "DataMatrix": "DataMatrix",
    "Aztec": "Aztec",
    "Code39": "Code39",
    "EAN13": "EAN13",
    "ITF": "ITF",
}
PYZBAR_FORMATS = {
    "QRCode": "QRCODE",
    "Code128": "CODE128",
    "Code39": "CODE39",
    "EAN13": "EAN13",
    "ITF": "I25",
}
FALLBACK_FORMATS = frozenset({"Code128", "Code39", "EAN13", "ITF", "PDF417"})
LOCATE_WIDTH = 640
MAX_FALLBACK_REGIONS = 3


class BarcodeDecoder(Protocol):
    """One decoding library, limited to the formats it was built with."""

    name: str
    formats: tuple[str, ...]

    def decode(self, gray: Image8, thorough: bool = False) -> list[BarcodeRead]:
        """Codes in a greyscale image; ``thorough`` also searches rotated and inverted."""
        ...


def _gray(image: Image8) -> Image8:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


class ZxingDecoder:
    """zxing-cpp: QR, Code128, PDF417, DataMatrix, Aztec and more."""

    name = "zxing"

    def __init__(self, formats: Sequence[str]) -> None:
        """Decode only ``formats`` (kiosk names, see ZXING_FORMATS)."""
        import zxingcpp

        unknown = [f for f in formats if f not in ZXING_FORMATS]
        if unknown:
            raise ConfigError(
                f"zxing-cpp cannot read {', '.join(unknown)}",
                path="scanner.formats",
                hint=", ".join(ZXING_FORMATS),
            )
        self._zx = zxingcpp
        self.formats = tuple(formats)
        # kept as text: a zxing-cpp object alive at interpreter exit is reported as a leak
        self._wanted = ",".join(ZXING_FORMATS[f] for f in formats)

    def decode(self, gray: Image8, thorough: bool = False) -> list[BarcodeRead]:
        """Codes in ``gray`` of the configured formats."""
        if not self.formats:
            return []
        try:
            found = self._zx.read_barcodes(
                gray,
                formats=self._zx.barcode_formats_from_str(self._wanted),
                try_rotate=thorough,
                try_invert=thorough,
                try_downscale=True,
            )
        except (RuntimeError, ValueError) as exc:
            raise ScanError(f"zxing-cpp failed: {exc}") from exc
        reads = []
        for code in found:
            p = code.position
            corners = (
                (p.top_left.x, p.top_left.y),
                (p.top_right.x, p.top_right.y),
                (p.bottom_right.x, p.bottom_right.y),
                (p.bottom_left.x, p.bottom_left.y),
            )
            reads.append(BarcodeRead(_kiosk_name(code.format.name), code.text, corners))
        return reads


def _kiosk_name(zxing_name: str) -> str:
    for kiosk_name, lib_name in ZXING_FORMATS.items():
        if lib_name == zxing_name:
            return kiosk_name
    return zxing_name


class PyzbarDecoder:
    """pyzbar (ZBar): QR and 1D codes; it reads no PDF417, DataMatrix or Aztec."""

    name = "pyzbar"

    def __init__(self, formats: Sequence[str]) -> None:
        """Decode the configured formats ZBar supports; the others are listed as ignored."""
        try:
            from pyzbar import pyzbar
        except ImportError as exc:  # libzbar0 missing raises ImportError from ctypes
            raise ScanError(f"pyzbar cannot load ZBar: {exc}") from exc
        self._pyzbar = pyzbar
        self.formats = tuple(f for f in formats if f in PYZBAR_FORMATS)
        self.ignored = tuple(f for f in formats if f not in PYZBAR_FORMATS)
        self._symbols = [pyzbar.ZBarSymbol[PYZBAR_FORMATS[f]] for f in self.formats]
        self._names = {PYZBAR_FORMATS[f]: f for f in self.formats}

    def decode(self, gray: Image8, thorough: bool = False) -> list[BarcodeRead]:
        """Codes in ``gray`` of the configured formats ZBar supports."""
        if not self._symbols:
            return []
        reads = []
        for code in self._pyzbar.decode(gray, symbols=self._symbols):
            corners = tuple((int(p.x), int(p.y)) for p in code.polygon)
            text = spelled(code.data.decode("utf-8", errors="replace"))
            reads.append(BarcodeRead(self._names.get(code.type, code.type), text, corners))
        return reads


def spelled(text: str) -> str:
    """``text`` with each control character spelled out ("<U+1B>"), as zxing-cpp hands
    them over ("<ESC>"): ZBar gives a code's bytes as they are, and an escape sequence in
    a code went raw to the operator's terminal (`kioskctl scan`) and into the logs."""
    return "".join(f"<U+{ord(ch):02X}>" if unicodedata.category(ch) == "Cc" else ch
                   for ch in text)


def make_decoder(name: str, formats: Sequence[str]) -> BarcodeDecoder:
    """The decoder named in settings.scanner.decoder."""
    if name == "zxing":
        return ZxingDecoder(formats)
    if name == "pyzbar":
        return PyzbarDecoder(formats)
    raise ConfigError(
        f"unknown barcode decoder {name!r}", path="scanner.decoder", hint="zxing or pyzbar"
    )


Region = tuple[tuple[float, float], tuple[float, float], float]  # cv2.minAreaRect, frame px
BAR_WINDOW = 15  # px at LOCATE_WIDTH: the window a bar-likeness is judged over
BAR_COHERENCE = 0.6  # gradients this aligned (0 any direction .. 1 all one)
BAR_ALTERNATION = 0.6  # and alternating this much (0 one edge .. 1 as many up as down)
BAR_GRADIENT = 40.0  # mean gradient magnitude (Sobel, 8-bit grey) of a printed code
MIN_REGION_PX = 400  # at LOCATE_WIDTH
MASK_POOL = 2  # the bar-likeness is judged on cells of this many px a side at LOCATE_WIDTH
RETRY_ZOOM = 0.9  # a second try at this much of the first zoom
PX_PER_MODULE = 2.5  # a crop is decoded this many pixels per narrowest bar, at most 1:1


def bar_mask(gray: Image8) -> tuple[Image8, float]:
    """Where ``gray`` is bar-like (255), and the scale of the mask to the frame.

    The gradients are taken at LOCATE_WIDTH; their products and sums are then pooled over
    MASK_POOL x MASK_POOL cells (each cell the mean of its pixels) and judged over windows
    of BAR_WINDOW px at LOCATE_WIDTH, on the cells: the same window, a quarter of the
    pixels to blur and compare (the blurs were half of the locating's time)."""
    scale = min(1.0, LOCATE_WIDTH / gray.shape[1])
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    side = _odd(BAR_WINDOW / MASK_POOL)  # odd: centred on its cell

    def pooled(plane: Image8) -> Image8:  # one plane at a time: 3x faster than merged
        cells = cv2.resize(plane, None, fx=1 / MASK_POOL, fy=1 / MASK_POOL,
                           interpolation=cv2.INTER_AREA)
        return np.asarray(cv2.blur(cells, (side, side)))

    jxx, jyy, jxy, sx, sy, mag = (
        pooled(p) for p in (gx * gx, gy * gy, gx * gy, gx, gy, cv2.magnitude(gx, gy))
    )
    coherence = cv2.magnitude(jxx - jyy, 2 * jxy) / (jxx + jyy + 1e-6)
    alternation = 1.0 - cv2.magnitude(sx, sy) / (mag + 1e-6)
    mask = ((coherence > BAR_COHERENCE) & (alternation > BAR_ALTERNATION)
            & (mag > BAR_GRADIENT)).astype(np.uint8) * 255
    close = _odd(15 / MASK_POOL)
    mask = np.asarray(cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((close, close), np.uint8)))
    return mask, scale * mask.shape[1] / small.shape[1]


def _odd(size: float) -> int:
    """The odd whole number nearest ``size`` (at least 1)."""
    return max(1, 2 * round((size - 1) / 2) + 1)


def barcode_regions(gray: Image8, limit: int = MAX_FALLBACK_REGIONS) -> list[Region]:
    """Rotated rectangles (frame pixels) that are really bar-like, largest first."""
    mask, scale = bar_mask(gray)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    regions = []
    for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:limit]:
        if cv2.contourArea(contour) < MIN_REGION_PX / MASK_POOL**2:
            break
        (cx, cy), (w, h), angle = cv2.minAreaRect(contour)
        # a cell's centre is (index + 0.5) cells from the frame's edge
        regions.append((((cx + 0.5) / scale - 0.5, (cy + 0.5) / scale - 0.5),
                        (w / scale, h / scale), angle))
    return regions


def level_crop(
    gray: Image8,
    region: Region,
    margin: float = 0.25,
    zoom: float = 1.0,
) -> tuple[Image8, NDArray[np.float64]]:
    """The region cut out of the frame, turned level and scaled by ``zoom``, and the matrix."""
    (cx, cy), (w, h), angle = region
    if w < h:  # keep the long side horizontal
        w, h, angle = h, w, angle - 90
    w, h = w * (1 + margin) * zoom, h * (1 + margin) * zoom
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, zoom)
    matrix[0, 2] += w / 2 - cx
    matrix[1, 2] += h / 2 - cy
    crop = cv2.warpAffine(
        gray,
        matrix,
        (max(8, round(w)), max(8, round(h))),
        flags=cv2.INTER_AREA if zoom < 1 else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return np.asarray(crop), np.asarray(matrix, dtype=np.float64)


def module_px(level: Image8) -> float | None:
    """The narrowest bar's width in a level crop (px), from its runs of dark and light.

    Bars and spaces of a 1D code or PDF417 average about two modules (Code128: 11 modules
    in 6 elements; PDF417: 17 in 8), so the module is about half the mean run.
    """
    height = level.shape[0]
    rows = level[height // 3 : height - height // 3 : max(1, height // 12)]
    if rows.size == 0:
        return None
    dark = rows < rows.mean(axis=1, keepdims=True)
    changes = int(np.count_nonzero(dark[:, 1:] != dark[:, :-1]))
    if changes < 8 * rows.shape[0]:
        return None  # too few bars to say
    return float(rows.size / changes / 2.0)


class BarcodeScanner:
    """Barcodes of the configured formats in frames, with the tilted-code fallback."""

    def __init__(self, decoder: BarcodeDecoder, fallback: bool = True,
                 fallback_every: int = 1) -> None:
        """``fallback`` enables the locate-and-level pass for tilted 1D/PDF417 codes;
        the live loop runs it on every ``fallback_every``-th frame that found nothing."""
        self.decoder = decoder
        self.fallback = fallback and bool(FALLBACK_FORMATS & set(decoder.formats))
        self.fallback_every = max(1, fallback_every)
        self._misses = 0

    def scan(self, image: Image8) -> list[BarcodeRead]:
        """Codes in a BGR or grey frame: the fast pass, then the fallback if it found none."""
        gray = _gray(image)
        reads = self.decoder.decode(gray)
        if reads or not self.fallback:
            self._misses = 0
            return reads
        self._misses += 1
        if (self._misses - 1) % self.fallback_every:
            return []
        return self.scan_tilted(gray)

    def scan_tilted(self, gray: Image8) -> list[BarcodeRead]:
        """The fallback: decode level crops of bar-like regions at the resolution the bars
        need (PX_PER_MODULE; never enlarged), full resolution when the bars cannot be told."""
        for region in barcode_regions(gray):
            crop, matrix = level_crop(gray, region)
            module = module_px(crop)
            zoom = 1.0 if module is None else min(1.0, PX_PER_MODULE / module)
            attempts: Iterable[tuple[Image8, NDArray[np.float64]]] = [(crop, matrix)]
            if zoom < 0.9:  # at the bars' resolution, and if that reads nothing a tenth
                # smaller: a crop's decode can fail at one scale and read at the next
                attempts = (level_crop(gray, region, zoom=z) for z in (zoom, RETRY_ZOOM * zoom))
            for crop, matrix in attempts:
                reads = self.decoder.decode(crop, thorough=True)
                if reads:
                    return [_to_frame(read, matrix) for read in reads]
        return []


def _to_frame(read: BarcodeRead, matrix: NDArray[np.float64]) -> BarcodeRead:
    """A read from a level crop with its corners mapped back into the frame."""
    back = cv2.invertAffineTransform(matrix)
    corners = tuple(
        (
            round(back[0, 0] * x + back[0, 1] * y + back[0, 2]),
            round(back[1, 0] * x + back[1, 1] * y + back[1, 2]),
        )
        for x, y in read.position
    )
    return BarcodeRead(read.format, read.text, corners)
