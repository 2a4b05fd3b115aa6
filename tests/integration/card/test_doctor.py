"""`kioskctl doctor` against real pcscd, SoftHSM2 and a real local HTTP server."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from composition.cli import main
from composition.cli.doctor import (
    FAIL,
    OK,
    check_camera,
    check_portal_and_clock,
    check_reader,
    check_token,
)
from composition.wiring import _production_hardware
from hardware.emulator import EmulatedCard, VpcdEmulator
from hardware.pcsc import PcscReader
from hardware.sim.cast import SITHS_GEN3_ATR
from kiosk.errors import ConfigError
from kiosk.ports import CardEventKind
from kiosk.settings import (
    CameraSettings,
    HardwareSettings,
    PortalSettings,
    Settings,
    load_settings,
)
from tests.conftest import python_within
from tests.integration.card.conftest import SoftHsm, wait_for


def with_hardware(**fields: object) -> Settings:
    return dataclasses.replace(
        Settings(), hardware=dataclasses.replace(HardwareSettings(), **fields)
    )


class _Health(BaseHTTPRequestHandler):
    skew_s = 0

    def do_GET(self) -> None:
        status = 200 if self.path == "/api/v1/health" else 404
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def date_time_string(self, timestamp: float | None = None) -> str:
        import time

        return formatdate(time.time() + self.skew_s, usegmt=True)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def portal_url() -> Iterator[str]:
    """A real HTTP server on loopback answering the portal's health path."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        _Health.skew_s = 0
        server.shutdown()
        server.server_close()


@pytest.mark.pcsc
def test_reader_check_reports_the_card_and_its_class(
    reader: PcscReader, emulator: VpcdEmulator
) -> None:
    emulator.insert(EmulatedCard(SITHS_GEN3_ATR, "9752210000000001"))
    wait_for(reader, CardEventKind.INSERTED)
    checks = check_reader(with_hardware(reader="pcsc", reader_name="Kiosk vpcd 00 00"))
    assert [c.status for c in checks] == [OK]
    card = checks[0].facts["card"]
    assert card["class"] == "siths"
    assert card["card_number"] == "9752210000000001"
    assert checks[0].facts["pin_pad"] is False


@pytest.mark.pcsc
def test_reader_check_fails_with_a_fix_when_no_reader_matches(emulator: VpcdEmulator) -> None:
    checks = check_reader(with_hardware(reader="pcsc", reader_name="No Such Reader"))
    assert [(c.status, c.fix) for c in checks] == [(FAIL, "doctor.fix.no_reader")]


@pytest.mark.softhsm
def test_token_check_lists_softhsm_tokens(softhsm: SoftHsm, card_token: object) -> None:
    checks = check_token(with_hardware(token="softhsm"), softhsm.conf)
    assert checks[0].status == OK
    labels = [t["label"] for t in checks[0].facts["tokens"] if t["initialised"]]
    assert labels == ["SITHS 9752210000000001"]
    # SoftHSM2 has no protected authentication path: PINs are typed on the screen.
    assert {t["pin_pad"] for t in checks[0].facts["tokens"]} == {False}


def test_token_check_fails_for_a_missing_module(tmp_path: Path) -> None:
    checks = check_token(with_hardware(token="pkcs11", pkcs11_module=str(tmp_path / "nope.so")))
    assert [(c.status, c.fix) for c in checks] == [(FAIL, "doctor.fix.module")]


def test_token_check_fails_at_once_for_a_module_that_is_a_fifo(tmp_path: Path) -> None:
    """The loader (dlopen) opens what it is given and waits for a FIFO's writer, holding
    the GIL: a FIFO named as hardware.pkcs11_module hung kioskctl doctor and the kiosk's
    start for good. In a child process, so that the old behaviour fails the test (at the
    timeout) instead of hanging the run."""
    fifo = tmp_path / "module.so"
    os.mkfifo(fifo)
    code = (
        "import dataclasses, sys\n"
        "from composition.cli.doctor import check_token\n"
        "from kiosk.settings import HardwareSettings, Settings\n"
        "hw = dataclasses.replace(HardwareSettings(), token='pkcs11', pkcs11_module=sys.argv[1])\n"
        "for c in check_token(dataclasses.replace(Settings(), hardware=hw)):\n"
        "    print(c.status, c.fix, c.detail)\n"
    )
    done = python_within(code, str(fifo),
                         hung="check_token hung on a FIFO named as the PKCS#11 module")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(f"{FAIL} doctor.fix.module ")
    assert "not a regular file" in done.stdout


def test_camera_check_fails_for_a_missing_device() -> None:
    settings = dataclasses.replace(Settings(), camera=CameraSettings(source="v4l2:97"))
    assert [c.status for c in check_camera(settings)] == [FAIL]


def test_portal_and_clock_ok_against_a_live_server(portal_url: str) -> None:
    settings = dataclasses.replace(Settings(), portal=PortalSettings(url=portal_url))
    checks = {c.name: c for c in check_portal_and_clock(settings)}
    assert checks["portal"].status == OK
    assert checks["clock"].status == OK


def test_clock_far_from_the_portals_fails(portal_url: str) -> None:
    _Health.skew_s = 3600
    settings = dataclasses.replace(Settings(), portal=PortalSettings(url=portal_url))
    checks = {c.name: c for c in check_portal_and_clock(settings)}
    assert checks["clock"].status == FAIL
    assert checks["clock"].params["skew"] >= 3500


def test_cli_exits_non_zero_with_the_fix_in_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "extra.toml"
    config.write_text(
        '[camera]\nsource = "v4l2:97"\n[hardware]\nreader = "memory"\n'
        'token = "memory"\n[portal]\nurl = "http://127.0.0.1:9"\n'
    )
    code = main(["--config", str(config), "doctor", "--json", "--demo"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["ok"] is False
    failed = {c["name"]: c["fix"] for c in report["checks"] if c["status"] == FAIL}
    assert set(failed) == {"camera", "portal"}
    assert "/dev/video97" in failed["camera"]


@pytest.mark.parametrize("reader", ["memory", "emulated"])
def test_outside_demo_mode_simulated_backends_fail_as_the_kiosk_would(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reader: str
) -> None:
    """The old doctor passed a production kiosk the kiosk itself then refused to start."""
    config = tmp_path / "extra.toml"
    config.write_text(f'[hardware]\nreader = "{reader}"\ntoken = "memory"\n'
                      'pkcs11_module = ""\n')
    code = main(["--config", str(config), "doctor", "--json", "--no-network"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    failed = {c["name"]: c for c in report["checks"] if c["status"] == FAIL}
    assert {"reader", "pkcs11"} <= set(failed)
    assert "pcsc" in failed["reader"]["fix"] and "--demo" in failed["reader"]["fix"]
    assert "pkcs11_module" in failed["pkcs11"]["fix"]
    settings = load_settings({"hardware": {"reader": reader}})
    with pytest.raises(ConfigError):  # the kiosk agrees: it does not start
        _production_hardware(settings)
