"""The core stays pure: kiosk/ imports no Kivy and no device library at module level."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import kiosk

FORBIDDEN = ("kivy", "smartcard", "pkcs11", "cv2", "pyzbar", "zxingcpp", "tesserocr", "numpy")


def kiosk_modules() -> list[str]:
    return sorted(
        m.name for m in pkgutil.walk_packages(kiosk.__path__, prefix="kiosk.")
    )


def test_kiosk_core_imports_no_ui_or_device_library() -> None:
    modules = kiosk_modules()
    assert "kiosk.errors" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"kiosk/ pulled in: {result.stdout.strip()}"


def test_kiosk_core_does_not_import_ui_or_hardware_packages() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {kiosk_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('screens', 'hardware'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
