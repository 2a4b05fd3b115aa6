"""One screen per ViewName: a module and a .kv file each, imported when first needed."""

from __future__ import annotations

import importlib

from kiosk.visit.contract import ViewName
from screens.views.base import KioskScreen


def screen_class(name: ViewName) -> type[KioskScreen]:
    """The screen class for one view; its module (and .kv) is imported on first use."""
    module = importlib.import_module(f"screens.views.{name.value}")
    cls: type[KioskScreen] = module.SCREEN
    return cls


def screen_classes() -> dict[ViewName, type[KioskScreen]]:
    """Every screen class by the view it renders (imports each screen module)."""
    return {name: screen_class(name) for name in ViewName}
