"""The record of validated settings: built again without pydantic, exactly as validated."""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from kiosk.config_files import PACKAGED_NAME, packaged_defaults_text, parse_toml
from kiosk.errors import ConfigError
from kiosk.fleet import settings_record
from kiosk.fleet.effective import load_effective_config
from kiosk.fleet.settings_record import (
    RULE_MODULES,
    build_settings,
    load_recorded_settings,
    matches_record,
)
from kiosk.settings import Settings, load_settings, merge_layers, settings_document

from .conftest import Fleet

REPO = Path(__file__).resolve().parents[3]


def as_toml_value(value: Any) -> Any:
    """A setting's value the way a TOML file gives it: lists, tables, whole floats as ints."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_toml_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [as_toml_value(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # TOML's 3 for a float setting: pydantic takes it as 3.0
    return value


def every_field_layers() -> list[dict[str, Any]]:
    """One layer per setting (each section's each field), and one with all of them."""
    everything = as_toml_value(Settings())
    layers = [everything]
    for section, fields in everything.items():
        layers += [{section: {name: value}} for name, value in fields.items()]
    return layers


@pytest.mark.parametrize("layer", every_field_layers(), ids=lambda layer: ",".join(
    f"{section}.{'|'.join(fields)}" if len(fields) == 1 else section
    for section, fields in layer.items())[:60])
def test_built_settings_equal_the_validated_ones_for_every_field(layer: dict[str, Any]) -> None:
    built = build_settings(merge_layers(layer))
    assert built == load_settings(layer)
    assert type(built.ui.panel_width_mm) is float  # TOML's whole number became a float


def test_built_settings_of_the_shipped_files_equal_the_validated_ones() -> None:
    packaged = parse_toml(packaged_defaults_text(), PACKAGED_NAME)
    example = tomllib.loads((REPO / "config/examples/fleet-settings.toml").read_text())
    non_default = {"ui": {"language": "en", "panel_width_mm": 154, "idle_timeout_s": 120},
                   "hardware": {"atr_table": [{"pattern": "3B ..", "card_class": "siths"}],
                                "trust_anchors": ["/etc/kiosk/roots.pem"]},
                   "camera": {"stale_after_s": 5}}
    for layers in ([packaged], [packaged, example], [packaged, example, non_default]):
        assert build_settings(merge_layers(*layers)) == load_settings(*layers)


@pytest.mark.parametrize("shape", [
    {"ui": {"nope": 1}},  # a key the schema has not
    {"ui": "wide"},  # a value for a table
    {"ui": {"width": "wide"}},  # a string for an integer
    {"hardware": {"atr_table": "3B"}},  # a string for a list
    {"hardware": {"atr_table": [{"pattern": "3B", "card_class": "siths", "x": 1}]}},
])
def test_building_refuses_what_has_another_shape(shape: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        build_settings(merge_layers(shape))


def test_the_rule_modules_are_every_kiosk_module_the_settings_import() -> None:
    tree = ast.parse((REPO / "kiosk/settings.py").read_text())
    imported = {node.module for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module
                and node.module.startswith("kiosk")}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names if alias.name.startswith("kiosk")}
    assert set(RULE_MODULES) == imported | {"kiosk.settings"}


def test_valid_layers_are_recorded_then_built_without_validation(tmp_path: Path) -> None:
    record = tmp_path / "state" / "config" / "validated-settings.json"
    layer = {"ui": {"language": "en", "idle_timeout_s": 120}}
    first, validated_first = load_recorded_settings(record, layer)
    second, validated_second = load_recorded_settings(record, layer)
    assert (validated_first, validated_second) == (True, False)
    assert first == second == load_settings(layer)
    assert matches_record(record, settings_document(layer))


def test_a_changed_layer_is_validated_again_and_refused_when_bad(tmp_path: Path) -> None:
    record = tmp_path / "validated-settings.json"
    load_recorded_settings(record, {"ui": {"width": 1024}})
    changed, validated = load_recorded_settings(record, {"ui": {"width": 800}})
    assert validated and changed.ui.width == 800
    with pytest.raises(ConfigError) as refused:
        load_recorded_settings(record, {"ui": {"width": 5}})
    assert refused.value.data["path"] == "ui.width"
    assert matches_record(record, settings_document({"ui": {"width": 800}}))  # kept the good


def test_a_record_of_other_rules_is_not_trusted(tmp_path: Path) -> None:
    record = tmp_path / "validated-settings.json"
    layer = {"ui": {"width": 1024}}
    load_recorded_settings(record, layer)
    data = json.loads(record.read_text())
    data["rules"][0][2] += 1  # kiosk/settings.py changed since: an upgrade
    record.write_text(json.dumps(data))
    assert not matches_record(record, settings_document(layer))
    assert load_recorded_settings(record, layer)[1] is True


def test_a_planted_record_cannot_give_a_value_the_layers_do_not(tmp_path: Path) -> None:
    record = tmp_path / "validated-settings.json"
    # the record says a document with a hostile portal validated; the files say otherwise
    hostile = {"portal": {"url": "https://evil.example"}}
    assert settings_record.write_record(record, settings_document(hostile))
    settings, validated = load_recorded_settings(record, {"portal": {"retries": 2}})
    assert validated and settings.portal.url == Settings().portal.url
    # a record of a document with a wrong type: building refuses it, validation names it
    assert settings_record.write_record(record, settings_document({"ui": {"width": "x"}}))
    with pytest.raises(ConfigError, match=r"ui\.width"):
        load_recorded_settings(record, {"ui": {"width": "x"}})


@pytest.mark.parametrize("plant", ["garbage", "fifo", "directory", "deep", "huge", "dev-zero"])
def test_a_hostile_record_is_ignored_never_a_hang(tmp_path: Path, plant: str) -> None:
    record = tmp_path / "validated-settings.json"
    if plant == "garbage":
        record.write_bytes(b"\xff\x00{not json")
    elif plant == "fifo":
        os.mkfifo(record)
    elif plant == "directory":
        record.mkdir()
    elif plant == "deep":
        record.write_text("[" * 100_000 + "]" * 100_000)
    elif plant == "huge":
        record.write_bytes(b" " * (settings_record.MAX_RECORD_BYTES + 10))
    else:
        record.symlink_to("/dev/zero")
    settings, validated = load_recorded_settings(record, {"ui": {"width": 1024}})
    assert validated and settings.ui.width == 1024


def test_an_unwritable_state_directory_only_costs_the_check(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    record = blocked / "config" / "validated-settings.json"
    for _ in range(2):
        settings, validated = load_recorded_settings(record, {"ui": {"width": 1024}})
        assert validated and settings.ui.width == 1024


def test_the_app_remembers_and_other_callers_do_not(fleet: Fleet) -> None:
    paths = fleet.paths
    assert load_effective_config(paths).validated_now
    assert not paths.settings_record.exists()  # kioskctl and the like leave no record
    first = load_effective_config(paths, remember=True)
    again = load_effective_config(paths, remember=True)
    assert (first.validated_now, again.validated_now) == (True, False)
    assert again.settings == first.settings and again.settings.kiosk.kiosk_id == "kiosk-7"
    paths.site_config.write_text('[kiosk]\nkiosk_id = "kiosk-8"\n')
    edited = load_effective_config(paths, remember=True)
    assert edited.validated_now and edited.settings.kiosk.kiosk_id == "kiosk-8"
    paths.site_config.write_text('[kiosk]\nkiosk_idd = "kiosk-9"\n')
    with pytest.raises(ConfigError, match=r"kiosk\.toml"):
        load_effective_config(paths, remember=True)


def test_an_applied_bundle_is_verified_even_with_a_record(fleet: Fleet) -> None:
    from kiosk.fleet.apply import apply_bundle

    apply_bundle(fleet.bundle(1), fleet.paths)
    first = load_effective_config(fleet.paths, remember=True)
    assert first.bundle_version == 1 and first.settings.ui.language == "en"
    assert not load_effective_config(fleet.paths, remember=True).validated_now
    (fleet.paths.fleet_keys_dir / next(iter(os.listdir(fleet.paths.fleet_keys_dir)))).unlink()
    with pytest.raises(ConfigError, match="does not verify"):
        load_effective_config(fleet.paths, remember=True)


START = """
import sys
from kiosk.config_files import discover_paths
from kiosk.fleet.effective import load_effective_config
config = load_effective_config(discover_paths(), None, remember=True)
print(config.validated_now, config.settings.ui.language,
      "pydantic" in sys.modules, "cryptography" in sys.modules)
"""


def test_a_kiosk_start_with_a_record_imports_neither_pydantic_nor_cryptography(
    fleet: Fleet,
) -> None:
    env = {**os.environ, "KIOSK_CONFIG_DIR": str(fleet.paths.config_dir),
           "KIOSK_STATE_DIR": str(fleet.paths.state_dir),
           "KIOSK_LOG_DIR": str(fleet.paths.log_dir)}
    fleet.paths.site_config.write_text('[ui]\nlanguage = "en"\n')
    runs = [subprocess.run([sys.executable, "-c", START], env=env, capture_output=True,
                           text=True, check=True, timeout=60).stdout.split()
            for _ in range(2)]
    assert runs == [["True", "en", "True", "False"], ["False", "en", "False", "False"]]
