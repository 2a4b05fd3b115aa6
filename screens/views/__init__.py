"""One screen per ViewName: a module and a .kv file each, registered in ``SCREENS``."""

from __future__ import annotations

import importlib

from kiosk.visit.base import ViewName
from screens.views.base import KioskScreen


def screen_classes() -> dict[ViewName, type[KioskScreen]]:
    """Every screen class by the view it renders (imports each screen module)."""
    classes: dict[ViewName, type[KioskScreen]] = {}
    for name in ViewName:
        module = importlib.import_module(f"screens.views.{name.value}")
        cls = module.SCREEN
        classes[name] = cls
    return classes
