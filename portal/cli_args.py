"""The portal's command-line options, shared by `kiosk-portal` and `kioskctl portal serve`.

Kept free of heavy imports so that building kioskctl's parser stays fast.
"""

from __future__ import annotations

import argparse
from datetime import date

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8443
DEFAULT_DB = "portal.db"


def port_number(text: str) -> int:
    """A TCP port 0-65535 (0 = any free port), or an argparse error naming the range."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is outside 0-65535")
    return port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the serve options to ``parser``."""
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (loopback)")
    parser.add_argument(
        "--port", type=port_number, default=DEFAULT_PORT, help="TCP port (0 = any free port)"
    )
    parser.add_argument("--db", default=DEFAULT_DB, help="SQLite database file")
    parser.add_argument(
        "--tls-dir",
        default=None,
        help="TLS material (ca.pem, server.pem, ...); a dev PKI is generated there if missing",
    )
    parser.add_argument("--seed-demo", action="store_true", help="add the demo cast's cards")
    parser.add_argument(
        "--ca-dir",
        default=None,
        help="the issuing CA's files (root.pem, issuing.pem, keys); a demo CA is made there "
        "if missing (default: issuing-ca beside the database)",
    )
    parser.add_argument(
        "--receipt-trust",
        action="append",
        default=[],
        metavar="FILE",
        help="PEM/DER file with the holder certificates' root and issuing CA certificates "
        "and their CRLs (repeat); receipts are accepted only with a valid, unrevoked chain",
    )
    parser.add_argument(
        "--today", type=date.fromisoformat, default=None, help="pretend date (demo, YYYY-MM-DD)"
    )
    parser.add_argument(
        "--synchronous",
        default="FULL",
        choices=("FULL", "NORMAL"),
        help="SQLite fsync per commit (FULL, survives power loss) or per checkpoint (NORMAL)",
    )
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning"))
