"""`kioskctl portal`: serve the reference portal, or check that this kiosk can reach its portal.

``serve`` runs the reference portal in the foreground (loopback by default).
``ping`` calls the portal's health endpoint with the kiosk's own settings (CA, client
certificate, timeouts) and prints the outcome; exit 0 when it answered, 1 when not.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from composition.cli._fleet_common import cli_language
from kiosk.errors import ConfigError, KioskError
from kiosk.i18n import LANGUAGES, describe_error, translate


def register(subparsers: Any) -> None:
    """Add ``portal serve`` and ``portal ping``."""
    parser = subparsers.add_parser("portal", help="the card-office portal")
    sub = parser.add_subparsers(dest="portal_command", required=True)

    serve = sub.add_parser("serve", help="run the reference portal (loopback by default)")
    from portal.cli_args import add_arguments

    add_arguments(serve)
    serve.set_defaults(func=_serve)

    ping = sub.add_parser("ping", help="check that this kiosk reaches its portal")
    ping.add_argument("--json", action="store_true", help="print one JSON object")
    ping.add_argument("--lang", choices=LANGUAGES, default=cli_language(),
                      help="language of messages (default: KIOSKCTL_LANG or sv)")
    ping.set_defaults(func=_ping)


def _serve(args: argparse.Namespace) -> int:
    from portal.server import serve_args

    return serve_args(args)


def _ping(args: argparse.Namespace) -> int:
    from kiosk.config_files import discover_paths
    from kiosk.fleet.effective import load_effective_config
    from kiosk.portal_client import PortalClient

    extra = Path(args.config) if getattr(args, "config", None) else None
    url = ""
    try:
        settings = load_effective_config(discover_paths(), extra).settings
        url = settings.portal.url
        with PortalClient.from_settings(settings.portal, settings.kiosk.kiosk_id) as client:
            answer = client.health()
    except KioskError as exc:
        message, next_step = describe_error(exc, args.lang)
        if args.json:
            print(json.dumps({"ok": False, "url": url, "code": exc.code, "message": message,
                              "next_step": next_step, "detail": exc.detail},
                             ensure_ascii=False))
        else:
            # a settings error never reached the portal: say so instead of "unreachable"
            if not isinstance(exc, ConfigError):
                print(translate("portal.ping.failed", args.lang, url=url))
            print(f"{message} {next_step}")
            if isinstance(exc, ConfigError):
                print(f"({exc.detail})")
        return 1
    if args.json:
        print(json.dumps({"ok": True, "url": url, "portal_time": answer.get("time"),
                          "api_version": answer.get("api_version")}, ensure_ascii=False))
    else:
        print(translate("portal.ping.ok", args.lang, url=url, time=answer.get("time", "?")))
    return 0
