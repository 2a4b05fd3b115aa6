"""Helpers shared by the fleet subcommands (config, keys, status)."""

from __future__ import annotations

import os

from kiosk.config_files import discover_paths
from kiosk.i18n import DEFAULT_LANGUAGE, LANGUAGES
from kiosk.paths import KioskPaths


def kiosk_paths() -> KioskPaths:
    """The kiosk's directories for this command."""
    return discover_paths()


def cli_language() -> str:
    """KIOSKCTL_LANG if it names a supported language, else Swedish."""
    lang = os.environ.get("KIOSKCTL_LANG", DEFAULT_LANGUAGE)
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE
