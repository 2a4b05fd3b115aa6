"""The production composition root builds the real PC/SC reader and PKCS#11 provider."""

from __future__ import annotations

import pytest

from composition.wiring import _production_hardware
from hardware.pkcs11.module import find_softhsm_module
from kiosk.errors import ConfigError
from kiosk.settings import load_settings
from tests.conftest import IN_CI, require_tool


def softhsm_module() -> str:
    require_tool("softhsm2-util", "SoftHSM2")
    path = find_softhsm_module()
    if path is None:
        if IN_CI:
            pytest.fail("libsofthsm2.so is not installed")
        pytest.skip("libsofthsm2.so is not installed")
    return str(path)


def test_production_wiring_refuses_a_simulated_reader() -> None:
    settings = load_settings({"hardware": {"reader": "memory"}})
    with pytest.raises(ConfigError) as caught:
        _production_hardware(settings)
    assert caught.value.data["path"] == "hardware.reader"


def test_production_wiring_needs_a_pkcs11_module() -> None:
    settings = load_settings({"hardware": {"reader": "pcsc", "pkcs11_module": ""}})
    with pytest.raises(ConfigError) as caught:
        _production_hardware(settings)
    assert caught.value.data["path"] == "hardware.pkcs11_module"


def test_production_tokens_carry_policy_table_and_card_profile() -> None:
    settings = load_settings(
        {
            "hardware": {
                "reader": "pcsc",
                "pkcs11_module": softhsm_module(),
                "card_profile": "transport_pin",
            }
        }
    )
    reader, tokens = _production_hardware(settings)
    assert type(reader).__name__ == "PcscReader"
    profile, _policy, policy_levels, _anchors, _now = tokens._token_args  # type: ignore[attr-defined]
    assert profile == "transport_pin"
    assert policy_levels == settings.hardware.policy_levels
    assert len(settings.hardware.policy_levels) > 0
