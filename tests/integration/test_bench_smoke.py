"""Every benchmark still runs: bench/*.py --smoke (a few iterations) exits 0.

Benchmarks are not run by the suite otherwise, so one that no longer matches the code it
measures (bench/outbox.py once died on a renamed attribute) would rot unseen. Nothing
here asserts a duration: the figures are the benches' business, running is ours.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHES = sorted(p.name for p in (ROOT / "bench").glob("*.py"))
# What each bench needs, as the markers of the tests that need the same.
NEEDS = {
    "card.py": [pytest.mark.pcsc, pytest.mark.softhsm],
    "outbox.py": [pytest.mark.portal],
    "portal.py": [pytest.mark.portal],
    "visit.py": [pytest.mark.portal, pytest.mark.softhsm],
    "ui.py": [pytest.mark.ui],
    "ui_textures.py": [pytest.mark.ui],
}


def test_every_bench_is_covered() -> None:
    assert len(BENCHES) >= 9 and "outbox.py" in BENCHES


@pytest.mark.slow
@pytest.mark.parametrize(
    "bench", [pytest.param(name, marks=NEEDS.get(name, [])) for name in BENCHES]
)
def test_the_bench_runs_in_smoke_mode(bench: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / bench), "--smoke"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    assert result.stdout.strip(), "a bench prints its figures"
