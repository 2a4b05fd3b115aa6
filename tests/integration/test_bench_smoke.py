"""Every benchmark still runs: bench/*.py --smoke --json (a few iterations) exits 0 and
prints one JSON object on stdout.

Benchmarks are not run by the suite otherwise, so one that no longer matches the code it
measures (bench/outbox.py once died on a renamed attribute) would rot unseen. Every bench
prints its figures as JSON with `--json` (issue 16): a bench without the option fails
(argparse exits 2), and so does one that prints text lines on stdout beside or instead of
the JSON. Nothing here asserts a duration: the figures are the benches' business, running
and printing them is ours.
"""

from __future__ import annotations

import json
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


@pytest.mark.parametrize("bench", BENCHES)
def test_every_bench_offers_json(bench: str) -> None:
    """Quick, without running it: the bench declares --json (the smoke run below proves
    that it prints JSON)."""
    assert '"--json"' in (ROOT / "bench" / bench).read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize(
    "bench", [pytest.param(name, marks=NEEDS.get(name, [])) for name in BENCHES]
)
def test_the_bench_runs_in_smoke_mode_and_prints_json(bench: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / bench), "--smoke", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    assert result.stdout.strip(), "a bench prints its figures"
    try:
        figures = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        pytest.fail(f"--json printed no single JSON document ({error}): {result.stdout[:800]!r}")
    assert isinstance(figures, dict) and figures, figures
