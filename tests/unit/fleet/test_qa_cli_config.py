"""QA regressions: kioskctl config masking and hints, portal ping on broken settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from composition.cli import main
from composition.cli.config import is_secret, settings_mapping
from kiosk.settings import Settings

from .conftest import Fleet


def test_only_secret_names_are_masked() -> None:
    assert is_secret("portal.api_token") and is_secret("portal.client_key")
    assert not is_secret("ui.min_key_mm")
    shown = settings_mapping(Settings())
    assert shown["ui"]["min_key_mm"] == Settings().ui.min_key_mm


def test_config_check_prints_the_did_you_mean_hint_once(
    kiosk_env: Callable[[], dict[str, str]], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "typo.toml"
    bad.write_text('[portal]\nulr = "https://portal.example"\n')
    assert main(["config", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "portal.ulr" in err
    assert err.count("did you mean 'portal.url'?") == 1


def test_portal_ping_on_broken_settings_says_settings_not_unreachable(
    kiosk_env: Callable[[], dict[str, str]], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('[portal\nurl = "x"\n')
    assert main(["--config", str(broken), "portal", "ping"]) == 1
    out = capsys.readouterr().out
    assert "could not be reached" not in out
    assert "settings" in out.lower() and "not valid TOML" in out


def test_config_sign_refuses_bad_arguments_and_unwritable_output(
    fleet: Fleet, kiosk_env: Callable[[], dict[str, str]], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = tmp_path / "fleet.toml"
    settings.write_text("[ui]\nrotation = 90\n")
    sign = ["config", "sign", str(settings), "--key", str(fleet.key_path)]
    for bad in (["--version", "-5"], ["--version", "2", "--not-after", "garbage"]):
        with pytest.raises(SystemExit) as stopped:
            main([*sign, "-o", str(tmp_path / "b.bundle"), *bad])
        assert stopped.value.code == 2
        err = capsys.readouterr().err
        assert "use a whole number" in err or "use an ISO time" in err
        assert str(settings) not in err  # the settings file is not to blame
    missing = tmp_path / "no-such-folder" / "b.bundle"
    assert main([*sign, "-o", str(missing), "--version", "3"]) == 1
    err = capsys.readouterr().err
    assert f"The file {missing} could not be written" in err and "Traceback" not in err
    assert main([*sign, "-o", str(tmp_path / "ok.bundle"), "--version", "3",
                 "--not-after", "2099-01-01"]) == 0
