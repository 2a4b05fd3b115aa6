"""`kioskctl status`: the kiosk's health at a glance, or as JSON for fleet tools."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from kiosk.errors import ConfigError
from kiosk.fleet.effective import load_effective_config
from kiosk.health import collect_status
from kiosk.i18n import translate
from kiosk.settings import Settings

from ._fleet_common import cli_language, kiosk_paths


def _line(name: str, part: Any) -> str:
    if not isinstance(part, dict):
        return f"{name:<16} {part}"
    state = part.get("state", "")
    details = ", ".join(
        f"{k}={v}" for k, v in part.items() if k != "state" and v not in (None, [], "")
    )
    return f"{name:<16} {state:<10} {details}".rstrip()


def _status(args: argparse.Namespace) -> int:
    paths = kiosk_paths()
    extra = Path(args.config) if args.config else None
    config_error = ""
    try:
        settings = load_effective_config(paths, extra).settings
    except ConfigError as exc:
        settings, config_error = Settings(), exc.detail
    status = collect_status(settings, paths, probe_network=not args.no_network)
    if config_error:
        status["config"] = {"state": "invalid", "reason": config_error}
        status["problems"].append("config_invalid")
        status["state"] = "degraded"
    if args.json:
        print(json.dumps(status, indent=2, ensure_ascii=False))
        return 0
    lang = cli_language()
    print(translate(f"fleet.status.{status['state']}", lang, kiosk_id=status["kiosk_id"]))
    for name in ("version", "system_uptime_s", "app", "config", "outbox", "reader", "camera",
                 "portal", "disk"):
        print(_line(name, status[name]))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `kioskctl status`."""
    parser = subparsers.add_parser("status", help="health: config, outbox, devices, disk")
    parser.add_argument("--json", action="store_true", help="JSON for fleet tools")
    parser.add_argument("--no-network", action="store_true", help="do not probe the portal")
    parser.set_defaults(func=_status)
