"""QA regression: `kioskctl portal serve` with an impossible port explains, no traceback."""

from __future__ import annotations

import pytest

from composition.cli import main


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_serve_refuses_a_port_out_of_range(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["portal", "serve", "--port", port])
    assert exited.value.code == 2
    assert f"{int(port)} is outside 0-65535" in capsys.readouterr().err


def test_kiosk_portal_refuses_a_port_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    from portal.server import main as portal_main

    with pytest.raises(SystemExit) as exited:
        portal_main(["--port", "99999"])
    assert exited.value.code == 2
    assert "99999 is outside 0-65535" in capsys.readouterr().err
