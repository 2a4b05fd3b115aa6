"""Hostile config input (issue 13, D3 and D7): no URL the HTTP client reads differently from
the check, and no traceback on TOML nested 50,000 deep or integers over 4,300 digits."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from composition.cli import main
from kiosk.config_files import parse_toml
from kiosk.errors import BundleRefused, ConfigError
from kiosk.fleet.apply import apply_bundle
from kiosk.portal_client import PortalClient
from kiosk.settings import load_settings
from kiosk.urls import is_service_url
from tests.conftest import plant_hostile

from .conftest import Fleet

# urlsplit reads host 127.0.0.1 (user info "10.255.255.1\"); urllib3, and so requests,
# connects to 10.255.255.1 in clear.
SPLIT_HOST = "http://10.255.255.1\\@127.0.0.1:18080"
REFUSED = [
    SPLIT_HOST,
    "http://10.255.255.1\\@127.0.0.1:18080/api",
    "http://127.0.0.1@10.255.255.1:18080/",
    "http://user:pw@127.0.0.1:18080/",
    "http://127.0.0.1:18080\\@10.255.255.1/",
    "http://10.255.255.1/",
    "http://portal.example.org/",
    "ftp://127.0.0.1/",
    "https://",
    "http://127.0.0.1 /",
    "http://127.0.0.1\n.evil/",
]
ALLOWED = [
    "http://127.0.0.1:8443",
    "http://localhost:8080/",
    "http://[::1]:8443/",
    "https://portal.example.org",
    "https://10.255.255.1:8443/api",
]


@pytest.mark.parametrize("url", REFUSED)
def test_a_url_the_client_would_read_differently_or_in_clear_is_refused(url: str) -> None:
    assert not is_service_url(url)
    for section, key in (("portal", "url"), ("fleet", "pull_url")):
        with pytest.raises(ConfigError) as caught:
            load_settings({section: {key: url}})
        assert caught.value.path == f"{section}.{key}"
        assert "https://" in caught.value.hint
    with pytest.raises(ConfigError):
        PortalClient(url)


@pytest.mark.parametrize("url", ALLOWED)
def test_https_anywhere_and_http_on_loopback_are_allowed(url: str) -> None:
    assert is_service_url(url)
    assert load_settings({"portal": {"url": url}, "fleet": {"pull_url": url}}).portal.url == url
    PortalClient(url).close()


def test_config_pull_refuses_the_url_argument_before_connecting(
    kiosk_env: Callable[[], dict[str, str]], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import requests

    def no_connection(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("config pull connected to a refused URL")

    monkeypatch.setattr(requests, "get", no_connection)
    monkeypatch.setattr(requests.Session, "request", no_connection)
    code = main(["config", "pull", SPLIT_HOST])
    err = capsys.readouterr().err
    assert code == 1
    assert "fleet.pull_url" in err and "loopback" in err


HOSTILE = {
    "deep_array": "a = " + "[" * 50_000 + "]" * 50_000 + "\n",
    "deep_tables": "[" + ".".join(["t"] * 50_000) + "]\n",
    "deep_inline": "a = " + "{b = " * 50_000 + "1" + "}" * 50_000 + "\n",
    "long_integer": "[ui]\nwidth = " + "9" * 5_000 + "\n",
}
COMMANDS = [["config", "check", "{file}"], ["config", "show"], ["status"], ["outbox", "status"]]


@pytest.mark.parametrize("name", HOSTILE)
def test_config_check_refuses_hostile_toml_clearly(
    name: str, tmp_path: Path, kiosk_env: Callable[[], dict[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    hostile = tmp_path / f"{name}.toml"
    hostile.write_text(HOSTILE[name])
    assert main(["config", "check", str(hostile)]) == 1
    err = capsys.readouterr().err
    assert str(hostile) in err
    assert ("too large" in err) if name.startswith("deep") else ("too long" in err)


@pytest.mark.parametrize("text", [
    "a = " + "[" * 3_000 + "]" * 3_000,
    "[" + ".".join(["t"] * 3_000) + "]",
    "a = " + "{b = " * 3_000 + "1" + "}" * 3_000,
    "a = " + "[" * 12 + "]" * 12,
])
def test_toml_nested_deeper_than_any_setting_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="nested too deeply") as caught:
        parse_toml(text, "site.toml")
    assert caught.value.path == "site.toml"
    assert "nest at most" in caught.value.hint


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize("name", ["deep_array", "deep_tables", "long_integer"])
def test_every_config_path_answers_hostile_site_toml_without_a_traceback(
    name: str, command: list[str], fleet: Fleet, kiosk_env: Callable[[], dict[str, str]],
) -> None:
    fleet.paths.site_config.write_text(HOSTILE[name])
    args = [part.format(file=fleet.paths.site_config) for part in command]
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from composition.cli import main; "
         "sys.exit(main(sys.argv[1:]))", *args],
        capture_output=True, text=True, env=kiosk_env(), timeout=60, check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode in (0, 1, 2)
    if command[0] == "config":  # status still reports, naming the broken file
        assert result.returncode == 1
    assert str(fleet.paths.site_config) in result.stdout + result.stderr


def test_a_signed_bundle_with_hostile_settings_is_refused(fleet: Fleet) -> None:
    for text in HOSTILE.values():
        with pytest.raises(BundleRefused) as caught:
            apply_bundle(fleet.bundle(1, text), fleet.paths)
        assert caught.value.reason == "malformed_settings"
    assert fleet.applied_bytes() is None


@pytest.mark.parametrize("kind", ["fifo", "endless"])
def test_a_settings_path_that_is_no_file_or_endless_is_refused_at_once(
    kind: str, tmp_path: Path, kiosk_env: Callable[[], dict[str, str]],
) -> None:
    """`kioskctl config check` (and --config, config sign; config apply and verify for a
    bundle) read the whole file before the size check: a FIFO hung it for good, /dev/zero
    was read until memory ran out (a MemoryError traceback under a memory limit)."""
    target = tmp_path / "site.toml"
    plant_hostile(target, kind)
    code = (
        "import resource, sys; from composition.cli import main; "
        "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)); "
        "sys.exit(main(sys.argv[1:]))"
    )
    for command in (["config", "check"], ["config", "apply"], ["config", "verify"]):
        result = subprocess.run(
            [sys.executable, "-c", code, *command, str(target)],
            capture_output=True, text=True, env=kiosk_env(), timeout=60, check=False,
        )
        assert "Traceback" not in result.stderr, (command, result.stderr[-2000:])
        assert result.returncode in (1, 2), command
        assert str(target) in result.stdout + result.stderr, command
