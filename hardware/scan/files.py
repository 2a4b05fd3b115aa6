"""One image file through the scanner (``kioskctl scan``, run inside the scan worker).

The file is size-checked before its pixels are decoded (hardware.camera.images); every
decoding pass runs, down to a full rotated and inverted search, since there is no live
loop to wait for a better frame. The result is a JSON-ready dict.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from kiosk.errors import ImageRefused, InvalidInput
from kiosk.identity.mrz import parse_mrz, repair_mrz


def mrz_payload(lines: tuple[str, ...], today: date) -> dict[str, Any]:
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
    many pixels is reported (``unreadable`` and ``reason``) without decoding its pixels;
    a picture too small or thin to hold a document (``too_small``) without scanning it.
    """
    from hardware.camera.images import read_image_file
    from hardware.scan.scanner import document_sized

    try:
        image = read_image_file(path)
    except ImageRefused as exc:
        reason = str(exc.data.get("reason", "unreadable"))
        return {"file": path, "ok": False, "unreadable": True, "reason": reason,
                "missing": reason == "missing"}
    if not document_sized(image):
        return {"file": path, "ok": False, "unreadable": True, "reason": "too_small",
                "missing": False}
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
            mrz = mrz_payload(reading.lines, today)
            mrz["confidence"] = reading.confidence
            mrz["uncertain_cells"] = [[row + 1, col + 1] for row, col in reading.uncertain]
            result["mrz"] = mrz
            mrz_valid = bool(mrz["valid"])
        else:
            result["mrz"] = None
    result["timing"] = timing
    result["ok"] = bool(reads) or mrz_valid
    return result
