"""Synthetic ID documents and barcodes for tests, the bench and the demo's sample images.

Documents are drawn at a given MRZ character pitch (pixels per character in the final
frame), then placed on a desk-like background with rotation, perspective, blur, noise
and JPEG degradation, so that tests and benchmarks see what a camera would see.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import zxingcpp
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from hardware.scan.resources import ocrb_font_path
from kiosk.demo_cast import DemoHolder, demo_holders
from kiosk.document.licence import LicenceFields, licence_payload
from kiosk.identity.mrz import build_mrz
from kiosk.identity.personnummer import parse_personnummer
from kiosk.model import DocumentType

Image8 = NDArray[Any]  # an OpenCV image (uint8, grey or BGR)

MM_PER_CHAR = 2.54  # ICAO 9303: 10 characters per inch in the MRZ
LINE_PITCH_CHARS = 1.75  # line pitch as a multiple of the character pitch
GLYPH_FILL = 0.78  # glyph width as a share of the character pitch
PAGE_MM = {"TD3": (125.0, 88.0), "TD1": (85.6, 54.0), "TD2": (105.0, 74.0), "DL": (85.6, 54.0)}
OVERSAMPLE = 3  # documents are drawn this much larger, then shrunk
BARCODE_FORMATS = ("QRCode", "Code128", "PDF417", "DataMatrix", "Aztec")


@dataclass(frozen=True)
class Degradation:
    """How a placed document departs from a perfect scan."""

    angle: float = 0.0  # in-plane rotation, degrees
    perspective: float = 0.0  # corner jitter as a share of the document's size
    blur: float = 0.0  # Gaussian sigma, pixels
    noise: float = 0.0  # Gaussian noise standard deviation, grey levels
    jpeg_quality: int = 0  # 0 = no JPEG round trip
    offset: tuple[float, float] = (0.0, 0.0)  # centre shift as a share of the frame


@cache
def _ocrb(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(ocrb_font_path()), size)


def _font_for_pitch(pitch: float) -> ImageFont.FreeTypeFont:
    advance = _ocrb(100).getlength("M") / 100.0
    return _ocrb(max(6, round(pitch * GLYPH_FILL / advance)))


def draw_mrz(
    draw: ImageDraw.ImageDraw, lines: Sequence[str], x: float, y: float, pitch: float,
    line_pitch: float = LINE_PITCH_CHARS,
) -> None:
    """Draw MRZ lines in OCR-B on a fixed character grid starting at (x, y).

    ``line_pitch``: line to line, in character pitches (real pages: about 1.7 to 2.8).
    """
    font = _font_for_pitch(pitch)
    for row, line in enumerate(lines):
        top = y + row * pitch * line_pitch
        for col, char in enumerate(line):
            draw.text((x + col * pitch, top), char, fill=(20, 20, 25), font=font)


def _text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    size: float,
    fill: tuple[int, int, int] = (40, 40, 60),
) -> None:
    draw.text(xy, text, fill=fill, font=_ocrb(max(6, round(size))))


def _page(kind: str, px_per_mm: float, seed: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    width_mm, height_mm = PAGE_MM[kind]
    size = (round(width_mm * px_per_mm), round(height_mm * px_per_mm))
    rng = np.random.default_rng(seed)
    base = np.array([235, 228, 214], dtype=np.float32) + rng.uniform(-12, 12, 3)
    xs = np.linspace(0, 1, size[0], dtype=np.float32)[None, :, None]
    ys = np.linspace(0, 1, size[1], dtype=np.float32)[:, None, None]
    wave = 6 * np.sin(xs * 40 + ys * 25) + 8 * ys  # guilloche-like shading
    rgb = np.clip(base[None, None, :] - wave, 0, 255).astype(np.uint8)
    image = Image.fromarray(rgb, "RGB")
    return image, ImageDraw.Draw(image)


def _photo(image: Image.Image, box: tuple[float, float, float, float]) -> None:
    x0, y0, x1, y1 = (round(v) for v in box)
    w, h = x1 - x0, y1 - y0
    photo = Image.new("RGB", (w, h), (170, 175, 185))
    draw = ImageDraw.Draw(photo)
    draw.ellipse((w * 0.28, h * 0.15, w * 0.72, h * 0.6), fill=(215, 180, 160))
    draw.ellipse((w * 0.1, h * 0.62, w * 0.9, h * 1.4), fill=(60, 70, 90))
    image.paste(photo, (x0, y0))


def render_mrz_document(
    lines: Sequence[str],
    pitch: float = 18.0,
    fields: Sequence[tuple[str, str]] = (),
    title: str = "SVERIGE  SWEDEN",
    seed: int = 0,
    line_pitch: float = LINE_PITCH_CHARS,
    bottom_mm: float = 2.5,
    fine_print: bool = False,
) -> Image8:
    """A passport data page (3x44 -> TD3 with 2 lines) or ID card (TD1/TD2) with an MRZ.

    ``line_pitch``: MRZ line to line in character pitches; ``bottom_mm``: paper below the
    last MRZ line (a card cut close to its MRZ); ``fine_print``: a line of small print
    just above the MRZ, as many ID cards carry.
    """
    kind = {44: "TD3", 36: "TD2", 30: "TD1"}[len(lines[0])]
    final_pitch, pitch = pitch, pitch * OVERSAMPLE
    px_per_mm = pitch / MM_PER_CHAR
    image, draw = _page(kind, px_per_mm, seed)
    width, height = image.size
    margin = (width - len(lines[0]) * pitch) / 2
    mrz_height = pitch * line_pitch * len(lines)
    mrz_top = height - mrz_height - bottom_mm * px_per_mm
    draw.rectangle((0, mrz_top - 2 * px_per_mm, width, height), fill=(245, 243, 238))
    if fine_print:
        _text(draw, (margin * 0.5, mrz_top - 2.6 * px_per_mm),
              "REPUBLIC OF UTOPIA * IDENTITY CARD * CARTE D'IDENTITE * 2026 * " * 2,
              1.6 * px_per_mm, (60, 60, 80))
    _text(draw, (margin, 3 * px_per_mm), title, 4 * px_per_mm, (30, 60, 120))
    photo_w = width * 0.27
    photo_box = (margin, 10 * px_per_mm, margin + photo_w, mrz_top - 4 * px_per_mm)
    _photo(image, photo_box)
    fx = photo_box[2] + 4 * px_per_mm
    fy = 10 * px_per_mm
    for label, value in fields:
        if fy > mrz_top - 8 * px_per_mm:
            break
        _text(draw, (fx, fy), label, 1.8 * px_per_mm, (90, 90, 110))
        _text(draw, (fx, fy + 2.2 * px_per_mm), value, 3.0 * px_per_mm, (20, 20, 40))
        fy += 6.5 * px_per_mm
    draw_mrz(draw, lines, margin, mrz_top, pitch, line_pitch)
    return _downsample(image, final_pitch / pitch)


def _downsample(image: Image.Image, factor: float) -> Image8:
    """Drawn large, shrunk smoothly: like print seen by a camera, free of font hinting."""
    bgr = cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)
    return cv2.resize(bgr, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)


def barcode_image(text: str, fmt: str, module_px: int = 4) -> Image8:
    """A black-on-white barcode with quiet zones, drawn by zxing-cpp's writer (BGR)."""
    barcode = zxingcpp.create_barcode(text, zxingcpp.barcode_format_from_str(fmt))
    grey = np.asarray(zxingcpp.write_barcode_to_image(barcode, scale=module_px))
    if fmt in ("Code128", "PDF417"):
        # 1D and stacked codes need bars tall enough to be seen at a slant
        height = max(grey.shape[0], grey.shape[1] // (3 if fmt == "PDF417" else 4))
        grey = cv2.resize(grey, (grey.shape[1], height), interpolation=cv2.INTER_NEAREST)
    return cv2.cvtColor(np.ascontiguousarray(grey, dtype=np.uint8), cv2.COLOR_GRAY2BGR)


def render_driving_licence(
    qr_text: str, fields: Sequence[tuple[str, str]], px_per_mm: float = 8.0, seed: int = 0
) -> Image8:
    """A Swedish-style driving licence card with numbered fields and a QR code."""
    final_px_per_mm, px_per_mm = px_per_mm, px_per_mm * OVERSAMPLE
    image, draw = _page("DL", px_per_mm, seed)
    width, height = image.size
    draw.rectangle((0, 0, width, 8 * px_per_mm), fill=(200, 90, 120))
    _text(
        draw, (4 * px_per_mm, 1.5 * px_per_mm), "KÖRKORT  SVERIGE", 4.5 * px_per_mm, (255, 255, 255)
    )
    _photo(image, (4 * px_per_mm, 12 * px_per_mm, 26 * px_per_mm, 40 * px_per_mm))
    fy = 11 * px_per_mm
    for label, value in fields:
        _text(draw, (30 * px_per_mm, fy), f"{label} {value}", 2.6 * px_per_mm)
        fy += 4.2 * px_per_mm
    qr = cv2.cvtColor(barcode_image(qr_text, "QRCode", 1), cv2.COLOR_BGR2RGB)
    side = round(22 * px_per_mm)
    qr_img = Image.fromarray(qr).resize((side, side), Image.Resampling.NEAREST)
    image.paste(qr_img, (round(width - side - 3 * px_per_mm), round(height - side - 3 * px_per_mm)))
    return _downsample(image, final_px_per_mm / px_per_mm)


def desk_background(size: tuple[int, int], seed: int = 0) -> Image8:
    """A textured desk surface of ``size`` (width, height)."""
    rng = np.random.default_rng(seed)
    width, height = size
    small = rng.normal(0, 1, (height // 16 + 1, width // 16 + 1)).astype(np.float32)
    texture = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    base = np.array([70, 90, 110], dtype=np.float32) + rng.uniform(-20, 20, 3)
    desk = base[None, None, :] + 10 * texture[:, :, None]
    return np.clip(desk, 0, 255).astype(np.uint8)


def placed_corners(doc_size: tuple[int, int], frame_size: tuple[int, int],
                   look: Degradation, seed: int = 0) -> NDArray[np.float32]:
    """Where ``place`` puts a document's four corners in the frame."""
    rng = np.random.default_rng(seed)
    width, height = frame_size
    doc_w, doc_h = doc_size
    corners = np.array([[0, 0], [doc_w, 0], [doc_w, doc_h], [0, doc_h]], dtype=np.float32)
    centred = corners - np.array([doc_w / 2, doc_h / 2], dtype=np.float32)
    theta = np.deg2rad(look.angle)
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    jitter = rng.uniform(-1, 1, (4, 2)) * look.perspective * np.array([doc_w, doc_h])
    centre = np.array([width / 2 + look.offset[0] * width, height / 2 + look.offset[1] * height])
    placed: NDArray[np.float32] = ((centred + jitter) @ rotation.T + centre).astype(np.float32)
    return placed


def fits(document: Image8, frame_size: tuple[int, int], look: Degradation, seed: int = 0
         ) -> bool:
    """Whether the whole document is in view (a kiosk's guide asks for that)."""
    doc_h, doc_w = document.shape[:2]
    corners = placed_corners((doc_w, doc_h), frame_size, look, seed)
    return bool((corners >= 0).all() and (corners[:, 0] < frame_size[0]).all()
                and (corners[:, 1] < frame_size[1]).all())


def place(
    document: Image8,
    frame_size: tuple[int, int] = (1280, 720),
    look: Degradation = Degradation(),
    seed: int = 0,
) -> Image8:
    """Put ``document`` on a desk in a frame of ``frame_size`` as a camera would see it."""
    doc_h, doc_w = document.shape[:2]
    corners = np.array([[0, 0], [doc_w, 0], [doc_w, doc_h], [0, doc_h]], dtype=np.float32)
    target = placed_corners((doc_w, doc_h), frame_size, look, seed)
    matrix = cv2.getPerspectiveTransform(corners, target)
    frame = desk_background(frame_size, seed)
    warped = cv2.warpPerspective(document, matrix, frame_size, flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(
        np.full((doc_h, doc_w), 255, np.uint8), matrix, frame_size, flags=cv2.INTER_NEAREST
    )
    frame[mask > 0] = warped[mask > 0]
    return degrade(frame, look, seed)


def degrade(image: Image8, look: Degradation, seed: int = 0) -> Image8:
    """Blur, sensor noise and a JPEG round trip as ``look`` asks."""
    out = image
    if look.blur > 0:
        out = cv2.GaussianBlur(out, (0, 0), look.blur)
    if look.noise > 0:
        rng = np.random.default_rng(seed + 1)
        noisy = out.astype(np.float32) + rng.normal(0, look.noise, out.shape)
        out = np.clip(noisy, 0, 255).astype(np.uint8)
    if look.jpeg_quality > 0:
        ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, look.jpeg_quality])
        if ok:
            out = np.asarray(cv2.imdecode(data, cv2.IMREAD_COLOR))
    return out


def random_look(rng: np.random.Generator, max_angle: float = 10.0) -> Degradation:
    """A plausible hand-held camera look: small tilt, some perspective, blur, noise, JPEG."""
    return Degradation(
        angle=float(rng.uniform(-max_angle, max_angle)),
        perspective=float(rng.uniform(0, 0.04)),
        blur=float(rng.uniform(0, 1.2)),
        noise=float(rng.uniform(0, 6)),
        jpeg_quality=int(rng.integers(60, 95)),
        offset=(float(rng.uniform(-0.05, 0.05)), float(rng.uniform(-0.05, 0.05))),
    )


SAMPLE_DATE = date(2026, 1, 1)  # the committed samples are drawn as of this day
SAMPLE_EXPIRY = date(2036, 12, 31)  # far ahead, so the demo documents stay valid
SAMPLE_FILES = ("anna_passport_td3.jpg", "bertil_national_id_td1.jpg", "eva_driving_licence.jpg")


def _holder_fields(holder: DemoHolder, expiry: date) -> list[tuple[str, str]]:
    pnr = holder.personnummer
    return [
        ("Efternamn/Surname", holder.surname.upper()),
        ("Förnamn/Given names", holder.given_names.upper()),
        ("Personnummer", f"{pnr[:8]}-{pnr[8:]}"),
        ("Giltig t.o.m./Date of expiry", f"{expiry:%d.%m.%Y}"),
    ]


def sample_mrz(holder: DemoHolder, expiry: date = SAMPLE_EXPIRY) -> tuple[str, ...]:
    """The MRZ of a demo holder's passport (TD3) or national ID card (TD1)."""
    pnr = parse_personnummer(holder.personnummer, SAMPLE_DATE)
    passport = holder.document == DocumentType.PASSPORT
    return build_mrz(
        "TD3" if passport else "TD1",
        document_number=holder.document_number,
        birth_date=pnr.birth_date,
        expiry_date=expiry,
        surname=holder.surname,
        given_names=holder.given_names,
        sex=pnr.sex,
        optional_data=(pnr.normalised[2:],) if passport else (pnr.normalised[2:], ""),
    )


def sample_documents(on: date = SAMPLE_DATE) -> dict[str, Image8]:
    """The demo's sample frames: Anna's passport, Bertil's ID card, Eva's licence with QR."""
    holders = {h.key: h for h in demo_holders(on)}
    anna, bertil, eva = holders["anna"], holders["bertil"], holders["eva"]
    passport = render_mrz_document(
        sample_mrz(anna),
        17.0,
        _holder_fields(anna, SAMPLE_EXPIRY),
        "SVERIGE  SWEDEN  PASS/PASSPORT",
        seed=11,
    )
    id_card = render_mrz_document(
        sample_mrz(bertil),
        24.0,
        _holder_fields(bertil, SAMPLE_EXPIRY),
        "SVERIGE  IDENTITETSKORT",
        seed=12,
    )
    payload = licence_payload(
        LicenceFields(
            eva.personnummer,
            eva.document_number,
            SAMPLE_EXPIRY,
            eva.surname.upper(),
            eva.given_names.upper(),
        )
    )
    pnr = eva.personnummer
    licence = render_driving_licence(
        payload,
        [
            ("1.", eva.surname.upper()),
            ("2.", eva.given_names.upper()),
            ("4b.", f"{SAMPLE_EXPIRY:%Y-%m-%d}"),
            ("4d.", eva.document_number),
            ("5.", f"{pnr[:8]}-{pnr[8:]}"),  # DOMAIN.md: field 5 holds the personnummer
        ],
        px_per_mm=9.0,
        seed=13,
    )
    look = Degradation(angle=2.5, perspective=0.01, blur=0.6, noise=2.0)
    return {
        SAMPLE_FILES[0]: place(passport, look=look, seed=21),
        SAMPLE_FILES[1]: place(id_card, look=replace(look, angle=-3.0), seed=22),
        SAMPLE_FILES[2]: place(licence, look=replace(look, angle=4.0), seed=23),
    }


def write_samples(folder: Path, quality: int = 80) -> list[Path]:
    """Write the demo's sample frames as JPEG files into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, image in sample_documents().items():
        path = folder / name
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hardware.scan.synth [FOLDER]``: regenerate the demo's sample images."""
    parser = argparse.ArgumentParser(description="write the demo's sample document images")
    parser.add_argument("folder", nargs="?", default=str(Path(__file__).parent / "samples"))
    args = parser.parse_args(argv)
    for path in write_samples(Path(args.folder)):
        print(f"{path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
