"""Bench: the MRZ reader on real specimen documents (the development set, not in the repo).

Reads every picture of ``../shared/corpora/mrz-dev`` (see its README: real passports, ID
cards, residence permits and visas, photos and scans, with the MRZ transcribed in
``truth.json``) and prints, per picture and in total:

- exact: the reader returned exactly the printed MRZ lines;
- taken: the acceptance rule (``MrzConsensus``: check digits after repair, harmless doubt
  only) would take the reading (offered twice, as from two frames of a still document);
- wrong taken: taken although it differs from the printed MRZ, or the document itself
  carries a wrong check digit (must be 0);
- never located: the reader found no MRZ at all;
- ms: time of one ``MrzReader.read`` (median over ``--repeats``), at the picture's own
  size and with the picture put into a 1280x720 camera frame (shrunk to fit if larger).

The target counts cover the 30 TD1/TD2/TD3 pictures whose printed check digits are valid.
``--passporteye PYTHON`` also runs PassportEye (``read_mrz``) in that interpreter (a
separate venv with ``pip install passporteye``) on the same pictures as a baseline.
Figures only, no pass/fail. Usage: .venv/bin/python bench/mrz_real.py [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hardware.scan.mrz_ocr import MrzReader  # noqa: E402
from kiosk.document.consensus import MrzConsensus  # noqa: E402

# ../shared/corpora/mrz-dev beside the checkout (from a worktree: beside its parent)
DEFAULT_CORPUS = next((base / "shared" / "corpora" / "mrz-dev" for base in ROOT.parents
                       if (base / "shared" / "corpora" / "mrz-dev").is_dir()),
                      ROOT.parent / "shared" / "corpora" / "mrz-dev")
FRAME = (1280, 720)
TARGET_KINDS = ("TD1", "TD2", "TD3")
ON = date(2026, 1, 1)  # expiry does not matter for reading: a fixed day keeps runs equal

PASSPORTEYE_SCRIPT = r"""
import json, sys, time
from passporteye import read_mrz
out = {}
for path in sys.argv[1:]:
    start = time.perf_counter()
    try:
        mrz = read_mrz(path)
    except Exception as exc:  # a baseline: record and go on
        out[path] = {"error": repr(exc), "ms": (time.perf_counter() - start) * 1000}
        continue
    ms = (time.perf_counter() - start) * 1000
    lines = None
    if mrz is not None:
        text = mrz.aux.get("text", "") if hasattr(mrz, "aux") else ""
        lines = [line for line in text.split("\n") if line.strip()]
    out[path] = {"lines": lines, "valid": bool(mrz is not None and mrz.valid), "ms": ms}
print(json.dumps(out))
"""


def in_frame(image: np.ndarray) -> np.ndarray:
    """The picture centred in a 1280x720 grey frame, shrunk to fit when larger."""
    height, width = image.shape[:2]
    scale = min(1.0, FRAME[0] / width, FRAME[1] / height)
    if scale < 1.0:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        height, width = image.shape[:2]
    frame = np.full((FRAME[1], FRAME[0], 3), 110, np.uint8)
    top, left = (FRAME[1] - height) // 2, (FRAME[0] - width) // 2
    frame[top : top + height, left : left + width] = image
    return frame


def timed_read(reader: MrzReader, image: np.ndarray, repeats: int
               ) -> tuple[Any, float, float]:
    """The reading and the median wall and CPU time (all threads) of ``repeats`` reads, ms.

    On a shared machine the wall time grows with the load; the CPU time much less.
    """
    times, cpu, reading = [], [], None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        reading = reader.read(image)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return reading, statistics.median(times), statistics.median(cpu)


def taken(reading: Any) -> tuple[str, ...] | None:
    """The lines the acceptance rule takes from two frames with this reading, if any."""
    if reading is None:
        return None
    consensus = MrzConsensus(on=ON)
    result = None
    for _ in range(2):
        result = consensus.offer(reading.lines, reading.uncertain)
    return tuple(result.lines) if result is not None else None


def evaluate(corpus: Path, repeats: int, only: str | None) -> list[dict[str, Any]]:
    truth = json.loads((corpus / "truth.json").read_text())
    reader = MrzReader()
    rows = []
    try:
        for name, entry in truth.items():
            if only and only not in name:
                continue
            image = cv2.imread(str(corpus / name), cv2.IMREAD_COLOR)
            if image is None:
                raise SystemExit(f"cannot read {corpus / name}")
            reading, ms, _ = timed_read(reader, image, repeats)
            framed_reading, frame_ms, frame_cpu = timed_read(reader, in_frame(image), repeats)
            expected = tuple(entry["lines"]) if entry["lines"] else None
            lines = tuple(reading.lines) if reading is not None else None
            took = taken(reading)
            framed_took = taken(framed_reading)
            rows.append({
                "picture": name,
                "kind": entry["kind"],
                "printed_valid": entry.get("printed_valid"),
                "target": entry["kind"] in TARGET_KINDS and entry.get("printed_valid") is True,
                "located": reading is not None,
                "lines": list(lines) if lines else None,
                "exact": lines is not None and lines == expected,
                "wrong_cells": _wrong_cells(lines, expected),
                "taken": took is not None,
                "wrong_taken": took is not None and (took != expected
                                                     or entry.get("printed_valid") is not True),
                "framed_exact": framed_reading is not None
                and tuple(framed_reading.lines) == expected,
                "framed_wrong_taken": framed_took is not None
                and (framed_took != expected or entry.get("printed_valid") is not True),
                "ms": round(ms, 1),
                "frame_ms": round(frame_ms, 1),
                "frame_cpu_ms": round(frame_cpu, 1),
            })
    finally:
        reader.close()
    return rows


def _wrong_cells(lines: tuple[str, ...] | None, expected: tuple[str, ...] | None) -> int | None:
    if lines is None or expected is None or [len(x) for x in lines] != [len(x) for x in expected]:
        return None
    return sum(a != b for x, y in zip(lines, expected, strict=True)
               for a, b in zip(x, y, strict=True))


def passporteye(python: str, corpus: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """PassportEye's reads of the same pictures (run in another interpreter)."""
    truth = json.loads((corpus / "truth.json").read_text())
    paths = [str(corpus / row["picture"]) for row in rows]
    done = subprocess.run([python, "-c", PASSPORTEYE_SCRIPT, *paths], capture_output=True,
                          text=True, check=False, timeout=1800)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    found = json.loads(done.stdout.strip().splitlines()[-1])
    summary = {"exact": 0, "valid_reported": 0, "wrong_valid": 0, "located": 0, "ms": []}
    for row, path in zip(rows, paths, strict=True):
        result = found.get(path, {})
        expected = truth[row["picture"]]["lines"]
        lines = result.get("lines")
        exact = bool(lines) and lines == expected
        row["passporteye_exact"] = exact
        if not row["target"]:
            continue
        summary["located"] += lines is not None
        summary["exact"] += exact
        summary["valid_reported"] += bool(result.get("valid"))
        summary["wrong_valid"] += bool(result.get("valid")) and not exact
        summary["ms"].append(result.get("ms", 0.0))
    summary["ms_median"] = round(statistics.median(summary.pop("ms") or [0.0]), 1)
    return summary


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    target = [r for r in rows if r["target"]]
    return {
        "pictures": len(rows),
        "target_pictures": len(target),
        "exact": sum(r["exact"] for r in target),
        "taken": sum(r["taken"] for r in target),
        "never_located": sum(not r["located"] for r in target),
        "wrong_taken_all_pictures": sum(r["wrong_taken"] for r in rows),
        "framed_exact": sum(r["framed_exact"] for r in target),
        "framed_wrong_taken_all_pictures": sum(r["framed_wrong_taken"] for r in rows),
        "exact_all_pictures": sum(r["exact"] for r in rows),
        "ms_median": round(statistics.median(r["ms"] for r in rows), 1),
        "frame_ms_median": round(statistics.median(r["frame_ms"] for r in rows), 1),
        "frame_ms_max": round(max(r["frame_ms"] for r in rows), 1),
        "frame_cpu_ms_median": round(statistics.median(r["frame_cpu_ms"] for r in rows), 1),
        "frame_ms_median_read": round(statistics.median(
            [r["frame_ms"] for r in rows if r["target"] and r["framed_exact"]] or [0.0]), 1),
        "load_average": round(os.getloadavg()[0], 2),
    }


def smoke_corpus(folder: Path) -> Path:
    """Two synthetic documents with their truth, laid out as the development set is (for
    ``--smoke``: the bench runs where the real pictures are not at hand, as in CI)."""
    from hardware.scan.synth import Degradation, place, render_mrz_document, sample_mrz
    from kiosk.demo_cast import demo_holders

    truth = {}
    for index, holder in enumerate(demo_holders(ON)[:2]):
        lines = sample_mrz(holder)
        frame = place(render_mrz_document(lines, 14.0, seed=index),
                      look=Degradation(angle=2.0, blur=0.5, noise=2.0), seed=index)
        name = f"synthetic-{index}.png"
        cv2.imwrite(str(folder / name), frame)
        kind = {44: "TD3", 36: "TD2", 30: "TD1"}[len(lines[0])]
        truth[name] = {"lines": list(lines), "kind": kind, "printed_valid": True}
    (folder / "truth.json").write_text(json.dumps(truth))
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS,
                        help="the mrz-dev folder (default ../shared/corpora/mrz-dev)")
    parser.add_argument("--repeats", type=int, default=3, help="reads per picture for timing")
    parser.add_argument("--only", help="only pictures whose name contains this")
    parser.add_argument("--passporteye", metavar="PYTHON",
                        help="an interpreter with passporteye installed, for the baseline")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--smoke", action="store_true",
                        help="a few iterations only: proves the bench still runs (tests)")
    args = parser.parse_args(argv)
    if args.smoke:  # two synthetic documents: the development set may not be at hand
        with tempfile.TemporaryDirectory() as folder:
            return main([str(smoke_corpus(Path(folder))), "--repeats", "1",
                         *(["--json"] if args.json else [])])
    if not (args.corpus / "truth.json").is_file():
        print(f"no development set at {args.corpus} (truth.json missing)", file=sys.stderr)
        return 2
    rows = evaluate(args.corpus, max(1, args.repeats), args.only)
    summary: dict[str, Any] = {"total": totals(rows)}
    if args.passporteye:
        summary["passporteye"] = passporteye(args.passporteye, args.corpus, rows)
    else:
        summary["passporteye"] = "not run (give --passporteye PYTHON with passporteye installed)"
    if args.json:
        print(json.dumps({"pictures": rows, **summary}, indent=2))
        return 0
    print(f"{'picture':42} {'kind':5} {'tgt':3} {'loc':3} {'exact':5} {'bad':>3} {'taken':5} "
          f"{'WRONG':5} {'frame':5} {'ms':>7} {'720p ms':>7}")
    for r in rows:
        print(f"{r['picture']:42} {r['kind']:5} {'y' if r['target'] else '-':3} "
              f"{'y' if r['located'] else '-':3} {'y' if r['exact'] else '-':5} "
              f"{'' if r['wrong_cells'] is None else r['wrong_cells']:>3} "
              f"{'y' if r['taken'] else '-':5} {'WRONG' if r['wrong_taken'] else '':5} "
              f"{'y' if r['framed_exact'] else '-':5} {r['ms']:7.1f} {r['frame_ms']:7.1f}")
    t = summary["total"]
    print(f"\nprinted-valid TD1/TD2/TD3: {t['exact']} of {t['target_pictures']} read exactly "
          f"({t['framed_exact']} in a 1280x720 frame), {t['taken']} taken by the acceptance "
          f"rule, {t['never_located']} never located")
    print(f"wrong reads taken (all {t['pictures']} pictures, own size / in frame): "
          f"{t['wrong_taken_all_pictures']} / {t['framed_wrong_taken_all_pictures']}")
    print(f"ms per read, median: {t['ms_median']} at own size, {t['frame_ms_median']} in a "
          f"1280x720 frame (CPU {t['frame_cpu_ms_median']}, max {t['frame_ms_max']}; "
          f"{t['frame_ms_median_read']} on frames read exactly); load average "
          f"{t['load_average']}")
    print(f"PassportEye: {summary['passporteye']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
