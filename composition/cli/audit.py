"""`kioskctl audit verify|show`: check the audit chain, list its entries.

``verify`` exits 0 when every hash, signature and link holds, 4 when the chain is
broken (each problem is printed with its index and what happened), 1 on other errors
(a missing device key among them: a new key is never made to verify with). Unless
``--offline``, the audit head the portal keeps for this kiosk (anchored with each sync) is
fetched and compared too, so a cut-off tail is found even with the head file gone.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from composition.cli.outbox import EXIT_OK, add_common, fail, open_context
from kiosk.devicekey import load_public_key, read_key_file
from kiosk.errors import InvalidInput, KioskError
from kiosk.i18n import translate

EXIT_BROKEN = 4


def register(subparsers: Any) -> None:
    """Add ``audit`` and its subcommands."""
    parser = subparsers.add_parser("audit", help="the signed, hash-chained audit log")
    sub = parser.add_subparsers(dest="audit_command", required=True)

    verify = sub.add_parser("verify", help="verify the chain; name any broken entry")
    add_common(verify)
    verify.add_argument("--key", help="public key file to verify with (default: the kiosk's)")
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.add_argument("--offline", action="store_true",
                        help="do not compare with the audit head the portal keeps")
    verify.set_defaults(func=_verify)

    show = sub.add_parser("show", help="list the entries")
    add_common(show)
    show.add_argument("--json", action="store_true", help="print JSON")
    show.add_argument("--last", type=int, default=0, help="only the last N entries")
    show.set_defaults(func=_show)


def _verify(args: argparse.Namespace) -> int:
    try:
        ctx = open_context(args, create_key=False)
        key = (
            load_public_key(read_key_file(Path(args.key)).decode("ascii").strip())
            if args.key else None
        )
    except (OSError, UnicodeDecodeError) as exc:  # no regular file, too large, not text
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return fail(InvalidInput(f"--key {args.key} is not a readable public key file "
                                 f"({reason})", path=args.key), args.lang)
    except KioskError as exc:
        return fail(exc, args.lang)
    anchor, anchored = None, False
    if not args.offline:
        anchor, anchored = _anchor(ctx.settings)
        if not anchored:
            print(translate("sync.audit.anchor_unavailable", args.lang), file=sys.stderr)
    try:
        report = ctx.outbox.audit.verify(key, anchor)
    finally:
        ctx.outbox.close()
    if args.json:
        print(json.dumps({
            "ok": report.ok,
            "count": report.count,
            "head_seq": report.head_seq,
            "anchored": anchored,
            "anchor_seq": anchor.get("seq") if anchor else None,
            "problems": [p.__dict__ for p in report.problems],
        }, indent=2))
    elif report.ok:
        print(translate("sync.audit.ok", args.lang, count=report.count))
    else:
        for problem in report.problems:
            print(
                translate(f"sync.audit.{problem.kind}", args.lang, index=problem.index),
                file=sys.stderr,
            )
    return EXIT_OK if report.ok else EXIT_BROKEN


def _anchor(settings: Any) -> tuple[dict[str, Any] | None, bool]:
    """The audit head the portal keeps for this kiosk, and whether the portal answered
    (an answer of "none kept yet" is an answer)."""
    from dataclasses import replace

    from kiosk.errors import ConfigError, PortalError
    from kiosk.portal_client import PortalClient

    once = replace(settings.portal, retries=0)  # an answer now, or verify on the kiosk alone
    try:
        portal = PortalClient.from_settings(once, settings.kiosk.kiosk_id)
    except ConfigError as exc:  # e.g. a portal TLS file that is no file: never connected
        print(f"({exc.detail})", file=sys.stderr)
        return None, False
    try:
        return portal.audit_head(), True
    except PortalError:
        return None, False
    finally:
        portal.close()


def _show(args: argparse.Namespace) -> int:
    try:
        ctx = open_context(args)
    except KioskError as exc:
        return fail(exc, args.lang)
    try:
        entries = ctx.outbox.audit.entries(last=max(0, args.last))
    except KioskError as exc:
        return fail(exc, args.lang)
    finally:
        ctx.outbox.close()
    if args.json:
        print(json.dumps([e.__dict__ for e in entries], indent=2, ensure_ascii=False))
        return EXIT_OK
    for e in entries:
        card = e.card_number or "-"
        print(f"{e.index:>6} {e.at} {e.actor:<22} {e.action:<20} {card} "
              f"{json.dumps(e.details, ensure_ascii=False, sort_keys=True)}")
    return EXIT_OK
