"""`kioskctl`: the administrator and fleet command line.

Each subcommand lives in its own module under composition.cli with a
``register(subparsers)`` function that adds its parser and sets ``func``; add the
module's name to ``COMMAND_MODULES``. Modules import device libraries only inside
their handlers, never at module level. A run imports only the module of the subcommand
it names (``kioskctl demo visit`` does not load the other nine and what they import);
help, and a name that is no subcommand, build the whole parser.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMAND_MODULES: tuple[str, ...] = (
    "check",
    "outbox",
    "audit",
    "config",
    "keys",
    "status",
    "portal",
    "demo",
    "doctor",
    "scan",
)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The kioskctl parser with every registered subcommand, or with just ``only``."""
    parser = argparse.ArgumentParser(prog="kioskctl", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="extra settings file layered over the defaults")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in (only,) if only in COMMAND_MODULES else COMMAND_MODULES:
        module = importlib.import_module(f"composition.cli.{name}")
        module.register(sub)
    return parser


def named_command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names, read the way the parser reads it (``--config FILE``
    before it); None when help comes first or no subcommand is named."""
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif word.startswith("--config="):
            continue
        elif word.startswith("-"):
            return None  # help, or an option the parser will refuse with the full usage
        else:
            return word if word in COMMAND_MODULES else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run kioskctl; the exit code is the subcommand's."""
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(named_command(words))
    args = parser.parse_args(words)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
