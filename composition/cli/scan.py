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
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from composition.cli._fleet_common import cli_language
from kiosk.errors import ConfigError, KioskError
from kiosk.i18n import LANGUAGES, describe_error, translate

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
    from hardware.scan.worker import ScanWorker

    worker = None
    try:
        settings = _settings(args)
        worker = ScanWorker(settings)
        worker.check()  # a bad decoder or missing OCR data fails here, once
    except (ConfigError, KioskError) as exc:
        if worker is not None:
            worker.close()
        message, next_step = describe_error(exc, lang)
        print(json.dumps({"ok": False, "error": exc.code, "message": message,
                          "next_step": next_step, "detail": exc.detail}, ensure_ascii=False))
        return EXIT_UNREADABLE
    today = date.today()
    code = EXIT_ALL_READ
    try:
        for path in args.images:
            # in the scan worker: a crash or memory blow-up there fails this file only
            result = worker.scan_file(path, today)
            if args.json:
                print(json.dumps(result, ensure_ascii=False))
            else:
                _print_human(result, lang)
            if result.get("unreadable"):
                code = EXIT_UNREADABLE
            elif not result["ok"] and code == EXIT_ALL_READ:
                code = EXIT_SOME_UNREAD
    finally:
        worker.close()
    return code
