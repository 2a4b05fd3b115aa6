"""QA regression: `kioskctl check` on empty input says it is empty and gives a next step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from composition.cli import main


@pytest.fixture(autouse=True)
def isolated_kiosk_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CONFIG", "STATE", "LOG"):
        folder = tmp_path / name.lower()
        folder.mkdir()
        monkeypatch.setenv(f"KIOSK_{name}_DIR", str(folder))
    monkeypatch.delenv("KIOSKCTL_LANG", raising=False)


@pytest.mark.parametrize("what", ["hsa-id", "personnummer"])
def test_an_empty_value_is_reported_as_empty_with_a_next_step(
    what: str, capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["check", what, "", "--lang", "en"])
    out = json.loads(capsys.readouterr().out)
    assert (code, out["check"]) == (2, "empty")
    assert "31" not in out["message"] and "10 or 12" not in out["message"]
    assert out["next_step"] == "Check the input and type it again."
