"""`kioskctl keys`: generate fleet signing keys and list the trusted ones."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kiosk.errors import ConfigError
from kiosk.fleet.apply import trusted_keys
from kiosk.fleet.keys import generate_key_pair, load_trusted_keys
from kiosk.i18n import translate

from ._fleet_common import cli_language, kiosk_paths


def _generate(args: argparse.Namespace) -> int:
    lang = cli_language()
    try:
        generated = generate_key_pair(Path(args.out))
    except OSError as exc:
        print(f"{args.out}: {exc}", file=sys.stderr)
        return 1
    print(translate("fleet.key_generated", lang, key_id=generated.key_id))
    print(f"  private: {generated.private_path}")
    print(f"  public:  {generated.public_path}")
    return 0


def _list(args: argparse.Namespace) -> int:
    paths = kiosk_paths()
    directory = Path(args.dir) if args.dir else paths.fleet_keys_dir
    try:
        keys = load_trusted_keys(directory) if args.dir else trusted_keys(paths)
    except ConfigError as exc:
        print(exc.detail, file=sys.stderr)
        return 1
    print(translate("fleet.trusted_keys", cli_language(), count=len(keys), dir=directory))
    for kid in sorted(keys):
        print(f"  {kid}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `kioskctl keys ...`."""
    parser = subparsers.add_parser("keys", help="fleet signing keys")
    sub = parser.add_subparsers(dest="keys_command", required=True)
    generate = sub.add_parser("generate", help="new Ed25519 fleet key pair")
    generate.add_argument("--out", required=True, help="directory for <key id>.key/.pub")
    generate.set_defaults(func=_generate)
    listing = sub.add_parser("list", help="trusted fleet keys by key id (with bundle trust)")
    listing.add_argument("--dir", help="list only this directory's keys")
    listing.set_defaults(func=_list)
