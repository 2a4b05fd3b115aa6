"""The composition: the one place that puts the kiosk together.

The pure core (``kiosk/``) knows only its ports; ``hardware/`` implements them, ``portal/``
is a separate service, ``screens/`` is the Kivy shell. This package is where they meet:
``composition.wiring`` chooses the adapters for the ports from the settings (the Kivy app
and ``kioskctl demo`` both call it) and ``composition.cli`` is ``kioskctl``, whose
subcommands reach device libraries, hardware adapters and the reference portal. The layer
contracts in pyproject.toml (import-linter, run by ``make test``) let only this package
import all of them.
"""
