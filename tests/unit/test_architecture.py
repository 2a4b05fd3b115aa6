"""The layers hold by construction: import-linter's contracts in pyproject.toml.

`lint-imports` reads every import statement (function-level ones included) of kiosk/,
composition/, hardware/, screens/ and portal/ and checks the contracts: the pure core
imports no Kivy, device library, adapter, portal or composition; hardware and portal never
import each other, the UI or the composition; the app's screens never import the tour and
test tooling; no import circles. `make test` runs it too; this test also proves that the
contracts bite by planting violations in a copy of the tree.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("kiosk", "composition", "hardware", "screens", "portal")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )


def test_the_layer_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.png", "*.jpg"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def plant(path: Path, line: str) -> None:
    """A function-level import at the end of ``path`` (import-linter reads those too)."""
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"\n\ndef _planted() -> None:\n    {line}  # noqa\n")


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("kiosk/errors.py", "import kivy", "The pure core imports no Kivy"),
        ("kiosk/visit/runner.py", "from hardware.sim import reader", "The pure core"),
        ("kiosk/audit.py", "import cv2", "The pure core"),
        ("portal/service.py", "from hardware import certs", "The reference portal imports"),
        ("screens/app.py", "from screens import driver", "never import the test and tour"),
        ("hardware/certs.py", "from composition import wiring", "Layers"),
        ("kiosk/settings.py", "from kiosk.fleet import store", "No import circles"),
    ],
)
def test_a_planted_violation_breaks_its_contract(
    tree_copy: Path, module: str, line: str, contract: str
) -> None:
    assert lint_imports(tree_copy).returncode == 0  # the copy is clean before planting
    plant(tree_copy / module, line)
    result = lint_imports(tree_copy)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout
