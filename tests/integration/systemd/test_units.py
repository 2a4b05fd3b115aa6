"""systemd-analyze verify and security on every unit in systemd/.

`systemd-analyze verify` checks that each ExecStart= binary exists and is executable; the
units point at /opt/kiosk/venv/bin, which exists only on an installed kiosk. The test
therefore verifies copies in a temp directory with that prefix replaced by a temp bin/
holding executable stand-ins for `kiosk` and `kioskctl`. Nothing else is changed.
"""

from __future__ import annotations

import configparser
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_tool

SYSTEMD = Path(__file__).resolve().parents[3] / "systemd"
UNITS = sorted(p.name for p in SYSTEMD.iterdir() if p.suffix in (".service", ".timer", ".path"))
SERVICES = [u for u in UNITS if u.endswith(".service")]
INSTALL_PREFIX = "/opt/kiosk/venv/bin"
MAX_EXPOSURE = {"kiosk.service": 3.0}
DEFAULT_MAX_EXPOSURE = 2.0


def unit_sections(name: str) -> configparser.RawConfigParser:
    """A unit file parsed with repeated keys joined by newlines."""
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    text = (SYSTEMD / name).read_text()
    merged: dict[str, dict[str, list[str]]] = {}
    section = ""
    for line in text.splitlines():
        if line.startswith("["):
            section = line.strip("[]")
            merged.setdefault(section, {})
        elif "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            merged[section].setdefault(key, []).append(value)
    parser.read_dict({s: {k: "\n".join(v) for k, v in kv.items()} for s, kv in merged.items()})
    return parser


@pytest.fixture(scope="module")
def staged_units(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("units")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for program in ("kiosk", "kioskctl"):
        stand_in = bin_dir / program
        stand_in.write_text("#!/bin/sh\nexit 0\n")
        stand_in.chmod(0o755)
    unit_dir = root / "system"
    unit_dir.mkdir()
    for name in UNITS:
        text = (SYSTEMD / name).read_text().replace(INSTALL_PREFIX, str(bin_dir))
        (unit_dir / name).write_text(text)
    return unit_dir


def test_there_are_the_units_the_fleet_needs() -> None:
    for name in ("kiosk.service", "kiosk-sync.service", "kiosk-sync.timer",
                 "kiosk-config-pull.service", "kiosk-config-pull.timer"):
        assert name in UNITS


@pytest.mark.parametrize("name", UNITS)
def test_systemd_analyze_verify_is_clean(staged_units: Path, name: str) -> None:
    tool = require_tool("systemd-analyze")
    result = subprocess.run([tool, "verify", str(staged_units / name)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    ours = [line for line in result.stderr.splitlines()
            if str(staged_units) in line or any(u in line for u in UNITS)]
    assert ours == [], "\n".join(ours)


def test_verify_catches_a_missing_binary(staged_units: Path, tmp_path: Path) -> None:
    tool = require_tool("systemd-analyze")
    broken = tmp_path / "kiosk.service"
    broken.write_text((SYSTEMD / "kiosk.service").read_text()
                      .replace(INSTALL_PREFIX, str(tmp_path / "nowhere")))
    result = subprocess.run([tool, "verify", str(broken)], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode != 0
    assert "not executable" in result.stderr


@pytest.mark.parametrize("name", SERVICES)
def test_security_exposure_is_low(name: str) -> None:
    tool = require_tool("systemd-analyze")
    result = subprocess.run([tool, "security", "--offline=yes", "--no-pager",
                             str(SYSTEMD / name)], capture_output=True, text=True, timeout=120,
                            check=False)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    exposure = float(found.group(1))
    limit = MAX_EXPOSURE.get(name, DEFAULT_MAX_EXPOSURE)
    assert exposure <= limit, f"{name}: exposure {exposure} > {limit}\n{result.stdout}"


def test_kiosk_service_is_a_notify_service_with_a_watchdog_and_its_own_user() -> None:
    service = unit_sections("kiosk.service")["Service"]
    unit = unit_sections("kiosk.service")["Unit"]
    assert service["Type"] == "notify"
    assert int(service["WatchdogSec"]) > 0
    assert service["Restart"] == "on-failure"
    assert service["User"] == "kiosk"
    assert set(service["SupplementaryGroups"].split()) == {"input", "video", "render"}
    assert "pcscd.socket" in unit["After"] and "pcscd.service" in unit["After"]
    devices = {line.split()[0] for line in service["DeviceAllow"].splitlines()}
    assert devices == {"char-drm", "char-input", "char-video4linux", "/dev/dri"}
    assert service["DevicePolicy"] == "closed"


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_is_hardened(name: str) -> None:
    service = unit_sections(name)["Service"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
        "DevicePolicy": "closed",
    }.items():
        assert service.get(key) == value, (name, key)
    assert "RestrictAddressFamilies" in service
    assert "SystemCallFilter" in service


@pytest.mark.parametrize("name", ["kiosk-sync.service", "kiosk-config-pull.service",
                                  "kiosk-config-check.service"])
def test_background_jobs_run_as_the_kiosk_user_on_its_state_directory(name: str) -> None:
    service = unit_sections(name)["Service"]
    assert service["User"] == "kiosk"
    assert service["StateDirectory"] == "kiosk"
    assert service["ExecStart"].startswith(f"{INSTALL_PREFIX}/kioskctl ")


def test_install_script_is_valid_bash() -> None:
    bash = require_tool("bash")
    result = subprocess.run([bash, "-n", str(SYSTEMD / "install.sh")], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
