"""`kioskctl check`: check an MRZ, a personnummer, an HSA-id or a PIN against the rules.

Each prints one JSON object and exits 0 when the input passes, 1 when it is rejected (the
JSON says why), 2 when the input is unusable (empty, wrong length, wrong characters).
The PIN is read from stdin only (without echo on a terminal) and never printed.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from composition.cli._fleet_common import cli_language
from kiosk.errors import ConfigError, InvalidInput
from kiosk.i18n import LANGUAGES, translate
from kiosk.identity.hsaid import parse_hsa_id
from kiosk.identity.mrz import MrzRepair, MrzResult, parse_mrz, repair_mrz
from kiosk.identity.personnummer import parse_personnummer
from kiosk.rules.pin import broken_pin_rules, pin_rule_key
from kiosk.settings import Settings

EXIT_PASSED = 0
EXIT_REJECTED = 1
EXIT_UNUSABLE = 2
# Checks that mean the text is not even the right shape; the rest are rejections.
UNUSABLE_CHECKS = frozenset({"empty", "length", "characters", "lines", "line_length"})


def register(subparsers: Any) -> None:
    """Add ``check`` and its four subcommands."""
    parser = subparsers.add_parser("check", help="check identity input and PINs")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--lang", choices=LANGUAGES, default=cli_language(),
        help="language of messages (default: KIOSKCTL_LANG or sv)",
    )
    sub = parser.add_subparsers(dest="what", required=True)

    mrz = sub.add_parser("mrz", parents=[common], help="check MRZ lines read from stdin")
    mrz.add_argument("--on", type=_date_arg, help="reference date (default today)")
    mrz.add_argument(
        "--repair", action="store_true", help="undo OCR confusions if check digits then pass"
    )
    mrz.set_defaults(func=_check_mrz)

    pnr = sub.add_parser(
        "personnummer", parents=[common], help="check a personnummer or samordningsnummer"
    )
    pnr.add_argument("number")
    pnr.add_argument("--on", type=_date_arg, help="reference date (default today)")
    pnr.set_defaults(func=_check_personnummer)

    hsa = sub.add_parser("hsa-id", parents=[common], help="check an HSA-id")
    hsa.add_argument("id")
    hsa.set_defaults(func=_check_hsa_id)

    pin = sub.add_parser(
        "pin", parents=[common], help="check a PIN (read from stdin) against the PIN policy"
    )
    pin.add_argument("--personnummer", required=True, help="the holder's personnummer")
    pin.add_argument("--phone", help="the holder's phone number")
    pin.add_argument("--on", type=_date_arg, help="reference date (default today)")
    pin.set_defaults(func=_check_pin)


def _date_arg(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("use YYYY-MM-DD") from None


def _emit(payload: dict[str, Any], code: int) -> int:
    print(json.dumps(payload, ensure_ascii=False, indent=2, default=str))
    return code


def _invalid(error: InvalidInput, lang: str) -> int:
    field = str(error.data.get("field", ""))
    check = str(error.data.get("check", ""))
    if check == "length" and error.data.get("length") == 0:
        return _empty(field, lang)  # "at most 31 characters" would mislead about empty input
    payload = {
        "ok": False,
        "field": field,
        "check": check,
        "reason": error.detail,
        "message": translate(f"identity.{field}.{check}", lang),
        **{k: v for k, v in error.data.items() if k not in ("field", "check")},
    }
    return _emit(payload, EXIT_UNUSABLE if check in UNUSABLE_CHECKS else EXIT_REJECTED)


def _empty(field: str, lang: str) -> int:
    return _emit(
        {"ok": False, "field": field, "check": "empty", "reason": f"no {field} given",
         "message": translate("error.invalid_input", lang, detail=field),
         "next_step": translate("next.check_and_retype", lang)},
        EXIT_UNUSABLE,
    )


def _mrz_payload(result: MrzResult) -> dict[str, Any]:
    # A support tool shows the full personnummer the user typed in; `kioskctl scan` masks it.
    return {
        "ok": result.valid,
        "format": result.format,
        **result.document_fields(mask_personnummer=False),
        "optional_data": list(result.optional_data),
        "checks": [
            {"name": c.name, "expected": c.expected, "found": c.found, "ok": c.ok}
            for c in result.checks
        ],
        "failed_checks": list(result.failed_checks),
    }


def _repaired_payload(repair: MrzRepair) -> dict[str, Any]:
    payload = _mrz_payload(repair.result)
    payload["repaired"] = [
        {"line": c.line + 1, "column": c.column + 1, "read": c.read, "now": c.replaced_by}
        for c in repair.changes
    ]
    payload["lines"] = list(repair.lines)
    return payload


def _check_mrz(args: argparse.Namespace) -> int:
    lines = [line for line in sys.stdin.read().splitlines() if line.strip()]
    if not lines:
        return _empty("mrz", args.lang)
    try:
        result = parse_mrz(lines, args.on)
    except InvalidInput as error:
        repairable = args.repair and error.data.get("check") not in ("lines", "line_length")
        repair = repair_mrz(lines, args.on) if repairable else None
        if repair is None:
            return _invalid(error, args.lang)
        return _emit(_repaired_payload(repair), EXIT_PASSED)
    if result.valid or not args.repair:
        payload = _mrz_payload(result)
        if not result.valid:
            payload["message"] = translate("identity.mrz.check_digit", args.lang)
        return _emit(payload, EXIT_PASSED if result.valid else EXIT_REJECTED)
    repair = repair_mrz(lines, args.on)
    if repair is None:
        payload = _mrz_payload(result)
        payload["message"] = translate("identity.mrz.check_digit", args.lang)
        return _emit(payload, EXIT_REJECTED)
    return _emit(_repaired_payload(repair), EXIT_PASSED)


def _check_personnummer(args: argparse.Namespace) -> int:
    on = args.on or date.today()
    try:
        number = parse_personnummer(args.number, on)
    except InvalidInput as error:
        return _invalid(error, args.lang)
    return _emit(
        {
            "ok": True,
            "normalised": number.normalised,
            "format10": number.format10(on),
            "format12": number.format12(),
            "birth_date": number.birth_date.isoformat(),
            "coordination_number": number.is_coordination,
            "sex": number.sex,
            "age": number.age_on(on),
            "masked": number.masked(),
        },
        EXIT_PASSED,
    )


def _check_hsa_id(args: argparse.Namespace) -> int:
    try:
        hsa_id = parse_hsa_id(args.id)
    except InvalidInput as error:
        return _invalid(error, args.lang)
    return _emit(
        {
            "ok": True,
            "hsa_id": hsa_id.text,
            "organisation_number": hsa_id.organisation_number,
            "suffix": hsa_id.suffix,
            "local_part": hsa_id.local_part,
        },
        EXIT_PASSED,
    )


def _settings(args: argparse.Namespace) -> Settings:
    """The settings in force (packaged < site < bundle), with --config layered on top."""
    from kiosk.fleet.effective import load_effective_config

    extra = Path(args.config) if getattr(args, "config", None) else None
    return load_effective_config(extra=extra).settings


def _read_pin() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("PIN: ")
    return sys.stdin.readline().rstrip("\r\n")


def _check_pin(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
    except (OSError, ConfigError) as error:
        return _emit({"ok": False, "check": "config", "reason": str(error)}, EXIT_UNUSABLE)
    on = args.on or date.today()
    try:
        personnummer = parse_personnummer(args.personnummer, on)
    except InvalidInput as error:
        return _invalid(error, args.lang)
    pin = _read_pin()
    if not pin:
        return _empty("pin", args.lang)
    policy = settings.pin_policy
    broken = broken_pin_rules(pin, policy, personnummer, args.phone)
    del pin
    if not broken:
        return _emit({"ok": True, "message": translate("pin.allowed", args.lang)}, EXIT_PASSED)
    return _emit(
        {
            "ok": False,
            "broken": broken,
            "messages": [
                translate(pin_rule_key(rule), args.lang, length=policy.length) for rule in broken
            ],
        },
        EXIT_REJECTED,
    )
