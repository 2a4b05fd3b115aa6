"""Barcode decoding with zxing-cpp and pyzbar on generated codes, restricted by format."""

from __future__ import annotations

import numpy as np
import pytest

from hardware.scan.barcodes import (
    BarcodeScanner,
    Image8,
    PyzbarDecoder,
    ZxingDecoder,
    make_decoder,
)
from hardware.scan.synth import BARCODE_FORMATS, Degradation, barcode_image, place
from kiosk.errors import ConfigError
from kiosk.ports import BarcodeRead

TEXT = "198507224510-TEST"
HANDHELD = Degradation(angle=6.0, perspective=0.02, blur=0.7, noise=3.0, jpeg_quality=80)


@pytest.mark.parametrize("fmt", BARCODE_FORMATS)
def test_zxing_reads_every_configured_format(fmt: str) -> None:
    scanner = BarcodeScanner(ZxingDecoder(BARCODE_FORMATS))
    frame = place(barcode_image(TEXT, fmt, 4), look=HANDHELD, seed=1)
    reads = scanner.scan(frame)
    assert [(r.format, r.text) for r in reads] == [(fmt, TEXT)]
    assert len(reads[0].position) == 4


def test_zxing_ignores_formats_not_configured() -> None:
    only_qr = BarcodeScanner(ZxingDecoder(["QRCode"]))
    code128 = place(barcode_image(TEXT, "Code128", 4), look=HANDHELD, seed=2)
    qr = place(barcode_image(TEXT, "QRCode", 4), look=HANDHELD, seed=2)
    assert only_qr.scan(code128) == []
    assert [r.format for r in only_qr.scan(qr)] == ["QRCode"]


@pytest.mark.parametrize("fmt", ["QRCode", "Code128"])
def test_pyzbar_reads_qr_and_code128(zbar: str, fmt: str) -> None:
    scanner = BarcodeScanner(PyzbarDecoder(BARCODE_FORMATS))
    frame = place(barcode_image(TEXT, fmt, 4), look=HANDHELD, seed=3)
    assert [(r.format, r.text) for r in scanner.scan(frame)] == [(fmt, TEXT)]


def test_pyzbar_lists_the_formats_it_cannot_read(zbar: str) -> None:
    decoder = PyzbarDecoder(BARCODE_FORMATS)
    assert decoder.formats == ("QRCode", "Code128")
    assert set(decoder.ignored) == {"PDF417", "DataMatrix", "Aztec"}
    pdf = place(barcode_image(TEXT, "PDF417", 4), look=HANDHELD, seed=4)
    assert BarcodeScanner(decoder).scan(pdf) == []


def test_pyzbar_restricted_to_code128_ignores_qr(zbar: str) -> None:
    scanner = BarcodeScanner(PyzbarDecoder(["Code128"]))
    qr = place(barcode_image(TEXT, "QRCode", 4), look=HANDHELD, seed=5)
    assert scanner.scan(qr) == []


def test_tilted_pdf417_needs_and_gets_the_fallback() -> None:
    decoder = ZxingDecoder(["PDF417", "Code128"])
    frame = place(barcode_image(TEXT, "PDF417", 3), look=Degradation(angle=14.0), seed=6)
    fast = decoder.decode(frame[:, :, 1])
    assert fast == []  # the live pass looks for level codes only
    reads = BarcodeScanner(decoder).scan(frame)
    assert [(r.format, r.text) for r in reads] == [("PDF417", TEXT)]
    xs = [x for x, _ in reads[0].position]
    assert 200 < min(xs) < max(xs) < 1080  # corners mapped back into the frame


class FirstCropUnread:
    """zxing-cpp, except that the first crop the fallback decodes reads nothing (as a crop
    at one scale sometimes does, and the next scale reads)."""

    def __init__(self, decoder: ZxingDecoder) -> None:
        self.decoder, self.name, self.formats = decoder, decoder.name, decoder.formats
        self.crops: list[tuple[int, int]] = []

    def decode(self, gray: Image8, thorough: bool = False) -> list[BarcodeRead]:
        if thorough:
            self.crops.append(gray.shape[:2])
            if len(self.crops) == 1:
                return []
        return self.decoder.decode(gray, thorough)


def test_a_crop_that_reads_nothing_is_tried_again_a_tenth_smaller() -> None:
    decoder = FirstCropUnread(ZxingDecoder(["PDF417", "Code128"]))
    frame = place(barcode_image(TEXT, "PDF417", 5), look=Degradation(angle=14.0), seed=6)
    reads = BarcodeScanner(decoder).scan(frame)
    assert [(r.format, r.text) for r in reads] == [("PDF417", TEXT)]
    (h1, w1), (h2, w2) = decoder.crops
    assert w2 == pytest.approx(0.9 * w1, abs=2) and h2 == pytest.approx(0.9 * h1, abs=2)


def test_fallback_can_be_switched_off() -> None:
    decoder = ZxingDecoder(["PDF417"])
    frame = place(barcode_image(TEXT, "PDF417", 3), look=Degradation(angle=14.0), seed=6)
    assert BarcodeScanner(decoder, fallback=False).scan(frame) == []


def test_empty_frame_reads_nothing() -> None:
    frame = np.full((720, 1280, 3), 200, np.uint8)
    assert BarcodeScanner(ZxingDecoder(BARCODE_FORMATS)).scan(frame) == []


def test_unknown_decoder_or_format_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        make_decoder("quagga", ["QRCode"])
    with pytest.raises(ConfigError):
        ZxingDecoder(["Hieroglyphs"])
