"""`kioskctl scan IMAGE... [--json]`: decode barcodes and MRZ in image files.

One result per image: barcodes (format, text), the MRZ (format, fields, each check digit,
any position-based repair) and timing. Exit 0 when something valid was read from every
image, 1 when some image yielded nothing valid, 2 when a file could not be read at all.
Personnummer are printed masked (YYYYMMDD-****).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from composition.cli._fleet_common import cli_language
from kiosk.errors import ConfigError, ImageRefused, InvalidInput, KioskError
from kiosk.i18n import LANGUAGES, describe_error, translate
from kiosk.identity.mrz import parse_mrz, repair_mrz

log = logging.getLogger(__name__)

EXIT_ALL_READ = 0
EXIT_SOME_UNREAD = 1
EXIT_UNREADABLE = 2


def register(subparsers: Any) -> None:
    """Add ``scan``."""
    parser = subparsers.add_parser("scan", help="read barcodes and MRZ in image files")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--json", action="store_true", help="one JSON object per image")
    parser.add_argument("--decoder", choices=("zxing", "pyzbar"),
                        help="barcode decoder (default: settings.scanner.decoder)")
    parser.add_argument("--no-mrz", action="store_true", help="skip MRZ reading")
    parser.add_argument("--lang", choices=LANGUAGES, default=cli_language(),
                        help="language of messages (default: KIOSKCTL_LANG or sv)")
    parser.set_defaults(func=_scan)


def _settings(args: argparse.Namespace) -> Any:
    from kiosk.fleet.effective import load_effective_config

    from ._fleet_common import kiosk_paths

    extra = Path(args.config) if getattr(args, "config", None) else None
    scanner = load_effective_config(kiosk_paths(), extra).settings.scanner
    if args.decoder:
        scanner = replace(scanner, decoder=args.decoder)
    if args.no_mrz:
        scanner = replace(scanner, mrz=False)
    return scanner


def _mrz_payload(lines: tuple[str, ...], today: date) -> dict[str, Any]:
    """What the MRZ says: repaired if check digits then pass, else the raw reading's checks."""
    payload: dict[str, Any] = {"lines": list(lines), "valid": False}
    try:
        repair = repair_mrz(lines, today)
    except InvalidInput as exc:
        payload["problem"] = str(exc.data.get("check", "unusable"))
        return payload
    if repair is not None:
        result = repair.result
        payload["repaired"] = [
            {"line": c.line + 1, "column": c.column + 1, "read": c.read, "now": c.replaced_by}
            for c in repair.changes
        ]
        payload["lines"] = list(repair.lines)
    else:
        try:
            result = parse_mrz(lines, today)
        except InvalidInput as exc:
            payload["problem"] = str(exc.data.get("check", "unusable"))
            return payload
    payload.update(
        format=result.format,
        valid=result.valid,
        fields=result.document_fields(mask_personnummer=True),
        checks=[{"name": c.name, "ok": c.ok} for c in result.checks],
    )
    return payload


def scan_image(path: str, scanner: Any, today: date) -> dict[str, Any]:
    """Scan one image file; ``ok`` says whether something valid was read.

    A file that is missing, a folder, unreadable, not an image, damaged or declaring too
    many pixels is reported (``unreadable`` and ``reason``) without decoding its pixels.
    """
    from hardware.camera.images import read_image_file

    try:
        image = read_image_file(path)
    except ImageRefused as exc:
        reason = str(exc.data.get("reason", "unreadable"))
        return {"file": path, "ok": False, "unreadable": True, "reason": reason,
                "missing": reason == "missing"}
    return _scan_decoded(path, image, scanner, today)


def _scan_decoded(path: str, image: Any, scanner: Any, today: date) -> dict[str, Any]:
    import cv2

    started = time.perf_counter()
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    codes = scanner.codes
    # one image, no live loop: every pass, down to a full rotated and inverted search
    reads = (codes.decoder.decode(gray) or (codes.scan_tilted(gray) if codes.fallback else [])
             or codes.decoder.decode(gray, thorough=True))
    barcode_ms = (time.perf_counter() - started) * 1000
    result: dict[str, Any] = {
        "file": path,
        "barcodes": [{"format": r.format, "text": r.text} for r in reads],
    }
    timing = {"barcodes_ms": round(barcode_ms, 1)}
    mrz_valid = False
    if scanner.reader is not None:
        started = time.perf_counter()
        reading = scanner.reader.read(image)
        timing["mrz_ms"] = round((time.perf_counter() - started) * 1000, 1)
        if reading is not None:
            mrz = _mrz_payload(reading.lines, today)
            mrz["confidence"] = reading.confidence
            mrz["uncertain_cells"] = [[row + 1, col + 1] for row, col in reading.uncertain]
            result["mrz"] = mrz
            mrz_valid = bool(mrz["valid"])
        else:
            result["mrz"] = None
    result["timing"] = timing
    result["ok"] = bool(reads) or mrz_valid
    return result


def _print_human(result: dict[str, Any], lang: str) -> None:
    print(result["file"])
    if result.get("unreadable"):
        print("  " + translate(f"scan.cli.{result.get('reason', 'unreadable')}", lang))
        return
    for code in result["barcodes"]:
        print(f"  {code['format']}: {code['text']}")
    mrz = result.get("mrz")
    if mrz:
        state = translate("scan.cli.mrz_valid" if mrz["valid"] else "scan.cli.mrz_invalid", lang)
        print(f"  MRZ {mrz.get('format', '?')}: {state}")
        for line in mrz["lines"]:
            print(f"    {line}")
    if not result["ok"]:
        print("  " + translate("scan.cli.nothing", lang))
    timing = ", ".join(f"{k.removesuffix('_ms')} {v} ms" for k, v in result["timing"].items())
    print(f"  ({timing})")


def _scan(args: argparse.Namespace) -> int:
    lang = args.lang
    try:
        settings = _settings(args)
        from hardware.scan.scanner import FrameScanner

        scanner = FrameScanner(settings)
    except (ConfigError, KioskError) as exc:
        message, next_step = describe_error(exc, lang)
        print(json.dumps({"ok": False, "error": exc.code, "message": message,
                          "next_step": next_step, "detail": exc.detail}, ensure_ascii=False))
        return EXIT_UNREADABLE
    today = date.today()
    code = EXIT_ALL_READ
    try:
        for path in args.images:
            try:
                result = scan_image(path, scanner, today)
            except Exception:  # a library error on one image: report it, go on with the rest
                log.exception("scanning %s failed", path)
                result = {"file": path, "ok": False, "unreadable": True, "reason": "failed"}
            if args.json:
                print(json.dumps(result, ensure_ascii=False))
            else:
                _print_human(result, lang)
            if result.get("unreadable"):
                code = EXIT_UNREADABLE
            elif not result["ok"] and code == EXIT_ALL_READ:
                code = EXIT_SOME_UNREAD
    finally:
        scanner.close()
    return code
