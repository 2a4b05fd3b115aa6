"""Bench: MRZ locators side by side on the real development set, with one reader behind.

Each locator proposes boxes; the same reader (levelling, orientation, grid, OCR-B
templates, Tesseract for ties) reads each box, best reading first as in ``MrzReader``.
Prints, per locator, the printed-valid TD1/TD2/TD3 MRZs read exactly and the median
time of locating alone (CPU and wall; the machine is shared, so both).

- ``band-640``: the former locator (black-hat band detection on a 640-px copy);
- ``band-multiscale``: the same band detection at 400, 640 and 1000 px;
- ``lines``: text lines grouped into zones (hardware/scan/mrz_locate.py, the reader's);
- ``tesseract-layout``: Tesseract's own page layout analysis (text lines), grouped by
  the same rules as ``lines``;
- ``rapidocr-db`` (with ``--rapidocr PYTHON``: an interpreter with rapidocr_onnxruntime,
  whose wheel ships a DB text detector in ONNX): its text lines, grouped likewise.

Usage: .venv/bin/python bench/mrz_locators.py [CORPUS] [--rapidocr PYTHON] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import tesserocr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from mrz_real import DEFAULT_CORPUS, TARGET_KINDS, smoke_corpus  # noqa: E402

from hardware.scan import mrz_ocr  # noqa: E402
from hardware.scan.mrz_locate import Rect, find_zones, group_lines, zone_box  # noqa: E402
from hardware.scan.resources import tessdata_dir  # noqa: E402

Box = np.ndarray

RAPID_SCRIPT = r"""
import json, sys, time
import cv2
from rapidocr_onnxruntime import RapidOCR
engine = RapidOCR()
out = {}
for path in sys.argv[1:]:
    image = cv2.imread(path)
    start = time.process_time()
    result, _ = engine(image, use_det=True, use_cls=False, use_rec=False)
    out[path] = {"quads": [[list(map(float, p)) for p in quad] for quad in (result or [])],
                 "cpu_ms": (time.process_time() - start) * 1000}
print(json.dumps(out))
"""


def band_640(gray: np.ndarray) -> list[Box]:
    return list(mrz_ocr.find_mrz_bands(gray))


def band_multiscale(gray: np.ndarray) -> list[Box]:
    boxes: list[Box] = []
    for width in (400, 640, 1000):
        scale = width / gray.shape[1]
        resized = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA
                             if scale < 1 else cv2.INTER_LINEAR)
        boxes += [box / scale for box in mrz_ocr.find_mrz_bands(resized)]
    return boxes


def lines(gray: np.ndarray) -> list[Box]:
    return [zone.box for zone in find_zones(gray)]


def _grouped(rects: list[Rect]) -> list[Box]:
    return [zone_box(group) for group, _ in group_lines(rects)[:4]]


class TesseractLayout:
    """Text lines from Tesseract's layout analysis (no recognition)."""

    def __init__(self) -> None:
        self.api = tesserocr.PyTessBaseAPI(path=str(tessdata_dir("eng")) + "/", lang="eng",
                                           psm=tesserocr.PSM.AUTO_ONLY)

    def __call__(self, gray: np.ndarray) -> list[Box]:
        from PIL import Image

        self.api.SetImage(Image.fromarray(gray))
        rects: list[Rect] = []
        for _, box, _, _ in self.api.GetComponentImages(tesserocr.RIL.TEXTLINE, True):
            w, h = float(box["w"]), float(box["h"])
            if h > 0 and w / h >= 8:
                rects.append(((box["x"] + w / 2, box["y"] + h / 2), (w, h), 0.0))
        return _grouped(rects)


def quads_to_boxes(quads: list[list[list[float]]]) -> list[Box]:
    rects: list[Rect] = []
    for quad in quads:
        (cx, cy), (w, h), angle = cv2.minAreaRect(np.asarray(quad, np.float32))
        if h > w:
            w, h, angle = h, w, angle + 90.0
        if h > 0 and w / h >= 8:
            rects.append(((float(cx), float(cy)), (float(w), float(h)),
                          float(angle if angle <= 90 else angle - 180)))
    return _grouped(rects)


def read_boxes(reader: mrz_ocr.MrzReader, gray: np.ndarray,
               boxes: list[Box]) -> tuple[str, ...] | None:
    """The reader's best reading over the boxes, as MrzReader.read ranks them."""
    best, best_rank = None, (False, -10**6)
    for box in boxes:
        found = mrz_ocr.upright_grid(mrz_ocr.level_band(gray, np.asarray(box, np.float32)))
        if not found.grids:
            continue
        read = reader._read_grid(found)
        if read is None:
            continue
        rank = (reader._passes(read.lines), -len(read.uncertain))
        if rank > best_rank:
            best, best_rank = read.lines, rank
    return best


def evaluate(corpus: Path, rapid: dict[str, Any] | None) -> dict[str, Any]:
    truth = json.loads((corpus / "truth.json").read_text())
    targets = {k: v for k, v in truth.items()
               if v["kind"] in TARGET_KINDS and v.get("printed_valid") is True}
    reader = mrz_ocr.MrzReader()
    locators: dict[str, Callable[[np.ndarray], list[Box]]] = {
        "band-640": band_640, "band-multiscale": band_multiscale, "lines": lines,
        "tesseract-layout": TesseractLayout(),
    }
    results: dict[str, Any] = {}
    grays = {name: cv2.imread(str(corpus / name), cv2.IMREAD_GRAYSCALE) for name in targets}
    for label, locate in locators.items():
        exact, cpu, wall = [], [], []
        for name, entry in targets.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            boxes = locate(grays[name])
            cpu.append((time.process_time() - start_cpu) * 1000)
            wall.append((time.perf_counter() - start) * 1000)
            read = read_boxes(reader, grays[name], boxes)
            if read is not None and list(read) == entry["lines"]:
                exact.append(name)
        results[label] = {"exact": len(exact), "of": len(targets),
                          "locate_cpu_ms_median": round(statistics.median(cpu), 1),
                          "locate_ms_median": round(statistics.median(wall), 1)}
    if rapid is not None:
        exact = []
        for name, entry in targets.items():
            found = rapid.get(str(corpus / name), {})
            read = read_boxes(reader, grays[name], quads_to_boxes(found.get("quads", [])))
            if read is not None and list(read) == entry["lines"]:
                exact.append(name)
        results["rapidocr-db"] = {
            "exact": len(exact), "of": len(targets),
            "locate_cpu_ms_median": round(statistics.median(
                [rapid.get(str(corpus / n), {}).get("cpu_ms", 0.0) for n in targets]), 1)}
    reader.close()
    return results


def run_rapid(python: str, corpus: Path) -> dict[str, Any]:
    truth = json.loads((corpus / "truth.json").read_text())
    paths = [str(corpus / name) for name in truth]
    done = subprocess.run([python, "-c", RAPID_SCRIPT, *paths], capture_output=True,
                          text=True, check=True, timeout=1800)
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--rapidocr", metavar="PYTHON",
                        help="an interpreter with rapidocr_onnxruntime installed")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--smoke", action="store_true",
                        help="two synthetic documents instead of the development set (tests)")
    args = parser.parse_args(argv)
    if args.smoke:
        with tempfile.TemporaryDirectory() as folder:
            return main([str(smoke_corpus(Path(folder))), *(["--json"] if args.json else [])])
    if not (args.corpus / "truth.json").is_file():
        print(f"no development set at {args.corpus} (truth.json missing)", file=sys.stderr)
        return 2
    rapid = run_rapid(args.rapidocr, args.corpus) if args.rapidocr else None
    results = evaluate(args.corpus, rapid)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for label, figures in results.items():
        print(f"{label:18s} read exactly {figures['exact']:2d} of {figures['of']}, locating "
              f"median {figures['locate_cpu_ms_median']} ms CPU"
              + (f", {figures['locate_ms_median']} ms wall" if "locate_ms_median" in figures
                 else ""))
    if rapid is None:
        print("rapidocr-db: not run (give --rapidocr PYTHON with rapidocr_onnxruntime)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
