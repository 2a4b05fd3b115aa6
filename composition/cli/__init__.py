"""`kioskctl`: the administrator and fleet command line.

Each subcommand lives in its own module under composition.cli with a
``register(subparsers)`` function that adds its parser and sets ``func``; add the
module's name to ``COMMAND_MODULES``. Modules import device libraries only inside
their handlers, never at module level.
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


def build_parser() -> argparse.ArgumentParser:
    """The kioskctl parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="kioskctl", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="extra settings file layered over the defaults")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"composition.cli.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run kioskctl; the exit code is the subcommand's."""
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
