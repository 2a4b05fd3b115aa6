"""Packaged defaults, layering, value validation and the loader's error messages."""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from kiosk.config_files import PACKAGED_NAME, packaged_defaults_text, parse_toml
from kiosk.errors import ConfigError
from kiosk.fleet.effective import load_effective_config
from kiosk.paths import KioskPaths, resolve_paths
from kiosk.settings import Settings, load_settings

from .conftest import Fleet

REPO = Path(__file__).resolve().parents[3]


def leaf_paths(value: Any, prefix: str = "") -> list[str]:
    """Every setting's dotted path (tuples of dataclasses count as one setting)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        paths: list[str] = []
        for f in dataclasses.fields(value):
            paths += leaf_paths(getattr(value, f.name), f"{prefix}{f.name}.")
        return paths
    return [prefix.rstrip(".")]


def test_packaged_defaults_round_trip_to_the_dataclass_defaults() -> None:
    packaged = parse_toml(packaged_defaults_text(), PACKAGED_NAME)
    assert load_settings(packaged) == Settings()


def test_packaged_file_is_config_kiosk_toml() -> None:
    assert packaged_defaults_text() == (REPO / "config" / "kiosk.toml").read_text()


def test_every_setting_is_written_out_in_config_kiosk_toml() -> None:
    text = (REPO / "config" / "kiosk.toml").read_text()
    data = tomllib.loads(text)
    missing = []
    for path in leaf_paths(Settings()):
        section, _, key = path.partition(".")
        if key not in data.get(section, {}):
            missing.append(path)
    assert missing == [], f"config/kiosk.toml lacks {missing}"


def test_every_key_in_config_kiosk_toml_is_commented() -> None:
    """Each key (or run of keys) has a comment right above; each array of tables too."""
    lines = (REPO / "config" / "kiosk.toml").read_text().splitlines()
    uncommented, in_array, seen_arrays = [], False, set()
    for index, line in enumerate(lines):
        if line.startswith("[["):
            in_array = True
            if line not in seen_arrays:
                seen_arrays.add(line)
                if not lines[index - 1].startswith("#"):
                    uncommented.append(line)
        elif line.startswith("["):
            in_array = False
        elif re.match(r"^[a-z0-9_]+ = ", line) and not in_array:
            commented = " # " in line
            for above in reversed(lines[:index]):
                if above.startswith("#"):
                    commented = True
                if not re.match(r"^[a-z0-9_]+ = ", above):
                    break
            if not commented:
                uncommented.append(line)
    assert uncommented == []


def test_the_constraints_sit_on_the_fields_and_every_default_passes_them() -> None:
    from kiosk.config_schema import allowed_values

    allowed = allowed_values()
    assert len(allowed) >= 40 and all(allowed.values())
    assert {"portal.url", "fleet.pull_url", "ui.rotation", "hardware.atr_table"} <= set(allowed)
    assert load_settings() == Settings()


BAD_VALUES = [
    ({"ui": {"rotation": 45}}, "ui.rotation", "0, 90, 180, 270"),
    ({"ui": {"language": "de"}}, "ui.language", "'sv'"),
    ({"hardware": {"reader": "usb"}}, "hardware.reader", "'pcsc'"),
    ({"pin_policy": {"length": 4}}, "pin_policy.length", "6 digits"),
    ({"pin_policy": {"deny_list": ["12345"]}}, "pin_policy.deny_list", "6 digits"),
    ({"portal": {"url": "http://portal.example.org"}}, "portal.url", "https"),
    ({"portal": {"retries": 99}}, "portal.retries", "between 0 and 20"),
    ({"camera": {"source": "webcam"}}, "camera.source", "v4l2:N"),
    ({"fleet": {"health_timeout_s": 1}}, "fleet.health_timeout_s", "between 10"),
    ({"ui": {"idle_warning_s": 100}}, "ui.idle_warning_s", "before the timeout"),
    ({"hardware": {"atr_table": [{"pattern": "3B XX", "card_class": "siths"}]}},
     "hardware.atr_table", "hex bytes"),
]


@pytest.mark.parametrize(("layer", "path", "hint"), BAD_VALUES, ids=[b[1] for b in BAD_VALUES])
def test_bad_values_are_refused_with_path_and_hint(layer: dict[str, Any], path: str,
                                                   hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(layer)
    assert caught.value.data["path"] == path
    assert hint in caught.value.data["hint"]


def test_unknown_key_names_its_path_and_suggests_the_right_one() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"ui": {"langauge": "sv"}})
    assert caught.value.data["path"] == "ui.langauge"
    assert caught.value.data["hint"] == "did you mean 'ui.language'?"


def test_unknown_section_suggests_the_right_one() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"portl": {}})
    assert caught.value.data["hint"] == "did you mean 'portal'?"


def test_wrong_type_names_path_and_expected_type() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"ui": {"rotation": "90"}})
    assert caught.value.data == {"path": "ui.rotation", "expected": "int"}
    with pytest.raises(ConfigError):
        load_settings({"ui": {"fullscreen": 1}})


def test_layers_win_in_order_packaged_site_bundle(fleet: Fleet) -> None:
    from kiosk.fleet.apply import apply_bundle

    fleet.paths.site_config.write_text(
        '[kiosk]\nkiosk_id = "kiosk-7"\n[ui]\nlanguage = "en"\nrotation = 90\n'
    )
    config = load_effective_config(fleet.paths)
    assert (config.settings.ui.language, config.settings.ui.rotation) == ("en", 90)
    assert config.settings.ui.width == Settings().ui.width
    apply_bundle(fleet.bundle(3, '[ui]\nrotation = 180\n'), fleet.paths)
    config = load_effective_config(fleet.paths)
    assert (config.settings.ui.language, config.settings.ui.rotation) == ("en", 180)
    assert [layer.name for layer in config.layers] == ["packaged", "site", "bundle"]
    assert config.bundle_version == 3


def test_a_bad_site_file_is_reported_with_its_source(fleet: Fleet) -> None:
    fleet.paths.site_config.write_text('[ui]\nrotation = 91\n')
    with pytest.raises(ConfigError) as caught:
        load_effective_config(fleet.paths)
    assert caught.value.data["source"] == str(fleet.paths.site_config)
    fleet.paths.site_config.write_text('[ui\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_effective_config(fleet.paths)


def test_paths_resolution_order(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    dev = resolve_paths(env)
    assert dev.state_dir == tmp_path / ".local" / "state" / "kiosk"
    assert dev.config_dir == tmp_path / ".config" / "kiosk"
    prod = resolve_paths({**env, "KIOSK_MODE": "production"})
    assert prod == KioskPaths(Path("/etc/kiosk"), Path("/var/lib/kiosk"), Path("/var/log/kiosk"),
                              trust_owners=(0,))
    systemd = resolve_paths({**env, "STATE_DIRECTORY": "/var/lib/kiosk:/x",
                             "CONFIGURATION_DIRECTORY": "/etc/kiosk"})
    assert (systemd.state_dir, systemd.config_dir) == (Path("/var/lib/kiosk"), Path("/etc/kiosk"))
    assert systemd.anchor_owners == (0,)  # /etc/kiosk's fleet keys: root's alone
    assert dev.anchor_owners == (0, os.geteuid())
    override = resolve_paths({**env, "KIOSK_STATE_DIR": "/s", "STATE_DIRECTORY": "/x"},
                             state_dir_setting="/y")
    assert override.state_dir == Path("/s")
    assert resolve_paths(env, state_dir_setting="/y").state_dir == Path("/y")


def test_schema_doc_is_generated_from_the_code() -> None:
    from kiosk.config_schema import render_schema

    assert (REPO / "config" / "SCHEMA.md").read_text() == render_schema() + "\n", (
        "regenerate: kioskctl config schema > config/SCHEMA.md"
    )


def test_example_bundle_verifies_with_the_dev_key_and_carries_the_example_settings() -> None:
    from kiosk.fleet.bundle import check_settings, open_bundle
    from kiosk.fleet.keys import load_trusted_keys

    bundle = open_bundle((REPO / "config/examples/demo-office-v1.bundle").read_bytes(),
                         load_trusted_keys(REPO / "config/dev-fleet-keys"))
    example = (REPO / "config/examples/fleet-settings.toml").read_text()
    assert bundle.payload.settings_toml == example
    assert bundle.payload.targets.card_offices == ("demo-office",)
    packaged = parse_toml(packaged_defaults_text(), PACKAGED_NAME)
    assert check_settings(bundle.layer, [packaged]).fleet.health_timeout_s == 600


def test_the_defaults_need_no_pydantic_until_settings_are_validated() -> None:
    """pydantic and the schema's validator (~0.12 s CPU) come with the first load_settings,
    not with the module: a process on the defaults (a crash-test kiosk) never pays them."""
    import subprocess
    import sys

    code = ("import sys; from kiosk.settings import Settings, load_settings; Settings(); "
            "before = 'pydantic' in sys.modules; load_settings({'ui': {'language': 'en'}}); "
            "print(before, 'pydantic' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=60, check=True)
    assert result.stdout.split() == ["False", "True"]
