"""QA regression: `kioskctl portal serve` with an impossible port explains, no traceback."""

from __future__ import annotations

import pytest

from kiosk.cli import main


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_serve_refuses_a_port_out_of_range(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["portal", "serve", "--port", port]) == 2
    assert f"--port must be 0-65535, not {port}" in capsys.readouterr().err
