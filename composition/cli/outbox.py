"""`kioskctl outbox status|flush|export|verify`: the queue of results waiting for the portal.

``flush`` is what the systemd timer runs; it may run while the app's own sync worker does
(rows are leased, never sent twice). Exit codes: 0 done, 1 an error (message and next
step printed), 2 results remain because the portal could not be reached or refused some,
3 an export file did not verify.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from composition.cli._fleet_common import cli_language, write_output_file
from kiosk.devicekey import PUBLIC_FILE, load_existing, load_or_create, read_key_file
from kiosk.errors import InvalidInput, KioskError, StorageError
from kiosk.i18n import LANGUAGES, describe_error, translate
from kiosk.outbox import Outbox, SystemClock, verify_export
from kiosk.ports import Portal
from kiosk.settings import Settings
from kiosk.sync import SyncWorker

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_REMAINING = 2
EXIT_INVALID = 3
MAX_EXPORT_BYTES = 256 * 1024 * 1024
"""The largest export `outbox verify` reads (a result with its certificate and receipt is a
few KiB: over 50,000 pending results)."""


@dataclass
class Context:
    """Settings, state directory and the opened outbox for one command."""

    settings: Settings
    state_dir: Path
    outbox: Outbox


def add_common(parser: argparse.ArgumentParser) -> None:
    """Options every outbox and audit command takes."""
    parser.add_argument("--state-dir", help="the kiosk's state directory (default: resolved)")
    parser.add_argument("--lang", choices=LANGUAGES, default=cli_language(),
                        help="language of messages (default: KIOSKCTL_LANG or sv)")


def load_settings_for(args: argparse.Namespace) -> tuple[Settings, Path]:
    """The effective settings and the state directory for a command."""
    from kiosk.config_files import discover_paths
    from kiosk.fleet.effective import load_effective_config

    paths = discover_paths()
    extra = Path(args.config) if getattr(args, "config", None) else None
    settings = load_effective_config(paths, extra).settings
    state_dir = Path(args.state_dir) if getattr(args, "state_dir", None) else paths.state_dir
    return settings, state_dir


def open_context(args: argparse.Namespace, create_key: bool = True) -> Context:
    """Load settings and open the outbox in the state directory; without ``create_key``
    a missing device key is an error (StorageError), never a new key."""
    settings, state_dir = load_settings_for(args)
    if getattr(args, "state_dir", None) and not state_dir.is_dir():
        # a mistyped --state-dir must not become a fresh, empty (and "healthy") kiosk state
        raise InvalidInput(f"--state-dir {state_dir} is not an existing directory",
                           path=str(state_dir))
    if os.geteuid() == 0 and state_dir.exists() and state_dir.stat().st_uid != 0:
        # Files root created here would lock the kiosk user out of its own state.
        raise StorageError(
            f"{state_dir} belongs to uid {state_dir.stat().st_uid}: run as that user "
            "(e.g. sudo -u kiosk kioskctl ...)",
            path=str(state_dir),
        )
    outbox = Outbox(
        state_dir,
        load_or_create(state_dir) if create_key else load_existing(state_dir),
        SystemClock(),
        alert_hours=settings.card_rules.deadline_alert_hours,
        actor=settings.kiosk.kiosk_id,
    )
    return Context(settings, state_dir, outbox)


def portal_for(settings: Settings) -> Portal:
    """The portal client the settings describe."""
    from kiosk.portal_client import PortalClient

    client: Portal = PortalClient.from_settings(settings.portal, settings.kiosk.kiosk_id)
    return client


def lease_seconds(settings: Settings) -> float:
    """A lease longer than any one send can take, retries included."""
    portal = settings.portal
    per_try = portal.connect_timeout_s + portal.read_timeout_s + portal.backoff_s * 8
    return max(60.0, per_try * (portal.retries + 1) * 2)


def fail(error: KioskError, lang: str) -> int:
    """Print a translated error and its next step; the error exit code."""
    message, next_step = describe_error(error, lang)
    print(f"{message}\n{next_step}", file=sys.stderr)
    if error.detail:
        print(f"({error.detail})", file=sys.stderr)  # the technical detail, for the operator
    return EXIT_ERROR


def register(subparsers: Any) -> None:
    """Add ``outbox`` and its subcommands."""
    parser = subparsers.add_parser("outbox", help="results waiting for the portal")
    sub = parser.add_subparsers(dest="outbox_command", required=True)

    status = sub.add_parser("status", help="depth, oldest age, deadline alerts, last error")
    add_common(status)
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=_status)

    flush = sub.add_parser("flush", help="send queued results to the portal now")
    add_common(flush)
    flush.add_argument("--json", action="store_true", help="print JSON")
    flush.add_argument("--now", action="store_true",
                       help="retry at once, also results still waiting out their backoff")
    flush.set_defaults(func=_flush)

    export = sub.add_parser("export", help="write a signed record of the pending results")
    add_common(export)
    export.add_argument("-o", "--output", help="file to write (default: stdout)")
    export.set_defaults(func=_export)

    verify = sub.add_parser("verify", help="verify a signed export file")
    verify.add_argument("file")
    verify.add_argument("--key", help="trusted public key file (base64), e.g. device_key.pub")
    verify.add_argument("--lang", choices=LANGUAGES, default=cli_language(),
                        help="language of messages (default: KIOSKCTL_LANG or sv)")
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.set_defaults(func=_verify)


def _status(args: argparse.Namespace) -> int:
    try:
        ctx = open_context(args)
    except KioskError as exc:
        return fail(exc, args.lang)
    try:
        status = ctx.outbox.status()
    finally:
        ctx.outbox.close()
    if args.json:
        print(json.dumps(status.as_json(), indent=2, ensure_ascii=False))
        return EXIT_OK
    lang = args.lang
    print(translate("sync.status.depth", lang, depth=status.depth))
    if status.oldest_age_s is not None:
        print(translate("sync.status.oldest", lang, minutes=round(status.oldest_age_s / 60)))
    print(translate("sync.status.sent", lang, sent=status.sent, rejected=status.rejected))
    for alert in status.alerts:
        print(translate("sync.alert.deadline", lang, card=alert.card_number,
                        hours=round(alert.hours_left, 1)))
    for intent in status.interrupted:
        print(translate("sync.alert.interrupted", lang, card=intent.card_number,
                        kind=intent.kind, deadline=intent.deadline.isoformat()
                        if intent.deadline else "-"))
    for work in status.card_work:
        print(translate("sync.alert.card_work", lang, card=work.card_number, kind=work.kind,
                        started=work.started_at.isoformat(timespec="minutes")))
    if status.last_error:
        print(translate("sync.status.last_error", lang, error=status.last_error,
                        at=status.last_error_at or ""))
    return EXIT_OK


def _flush(args: argparse.Namespace) -> int:
    try:
        ctx = open_context(args)
    except KioskError as exc:
        return fail(exc, args.lang)
    try:
        worker = SyncWorker(ctx.outbox, portal_for(ctx.settings),
                            lease_s=lease_seconds(ctx.settings))
        report = worker.flush(ignore_backoff=args.now)
        status = ctx.outbox.status()
    except KioskError as exc:
        return fail(exc, args.lang)
    finally:
        ctx.outbox.close()
    if args.json:
        print(json.dumps({**report.as_json(), "status": status.as_json()}, indent=2,
                         ensure_ascii=False))
    else:
        print(translate("sync.flush.done", args.lang, sent=report.sent, depth=status.depth))
        if report.last_error:
            print(translate("sync.status.last_error", args.lang, error=report.last_error,
                            at=""))
        for alert in status.alerts:
            print(translate("sync.alert.deadline", args.lang, card=alert.card_number,
                            hours=round(alert.hours_left, 1)))
    return EXIT_REMAINING if status.depth or report.rejected else EXIT_OK


def _export(args: argparse.Namespace) -> int:
    try:
        ctx = open_context(args)
    except KioskError as exc:
        return fail(exc, args.lang)
    try:
        document = ctx.outbox.export(ctx.settings.kiosk.kiosk_id)
    except KioskError as exc:
        return fail(exc, args.lang)
    finally:
        ctx.outbox.close()
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if args.output:
        path = Path(args.output)
        try:
            write_output_file(path, text.encode("utf-8"))
        except OSError as exc:
            print(translate("sync.export.unwritable", args.lang, path=str(path),
                            error=exc.strerror or str(exc)), file=sys.stderr)
            return EXIT_ERROR
        print(translate("sync.export.written", args.lang, path=str(path),
                        count=len(document["results"]), fingerprint=document["key_fingerprint"]))
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    path = args.file  # named in the message: the export or the key file, whichever failed
    try:
        raw = read_key_file(Path(path), MAX_EXPORT_BYTES)
        if args.key:
            path = args.key
            trusted: str | None = read_key_file(Path(path)).decode("ascii")
        else:
            trusted = None
    except (OSError, ValueError) as exc:
        error = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(translate("sync.verify.unreadable", args.lang, path=path, error=error),
              file=sys.stderr)
        return EXIT_INVALID
    try:
        document = json.loads(raw.decode("utf-8"))
    except ValueError:
        print(translate("sync.verify.format", args.lang))
        return EXIT_INVALID
    check = verify_export(document, trusted)
    if args.json:
        print(json.dumps(check.__dict__, indent=2))
    else:
        key = f"sync.verify.{check.reason}"
        print(translate(key, args.lang, results=check.results, fingerprint=check.key_fingerprint,
                        file=PUBLIC_FILE))
    return EXIT_OK if check.valid else EXIT_INVALID
