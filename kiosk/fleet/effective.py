"""The settings in force: packaged defaults < /etc/kiosk/kiosk.toml < applied bundle < extra.

The first two layers come from kiosk/config_files.py, the applied bundle from the fleet
store; an extra file (``--config``) goes on top. A layer that breaks the settings is named.
The app remembers layers that validated (kiosk/fleet/settings_record.py), and the fleet
store (with cryptography, for the bundle's signature) is imported only when a bundle is
applied: neither pydantic nor cryptography is on the way to a kiosk's first frame.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kiosk.config_files import ConfigLayer, base_layers, discover_paths, read_toml_file
from kiosk.errors import ConfigError
from kiosk.fleet.settings_record import load_recorded_settings
from kiosk.paths import KioskPaths
from kiosk.settings import Settings, load_settings


@dataclass(frozen=True)
class EffectiveConfig:
    """The settings in force, the layers they came from and the applied bundle's version."""

    settings: Settings
    layers: tuple[ConfigLayer, ...]
    bundle_version: int  # 0 when no bundle is applied
    validated_now: bool = True  # False: built from layers recorded as validated before



def load_layers(paths: KioskPaths, extra: Path | None = None) -> list[ConfigLayer]:
    """Every layer in order: packaged, site, applied bundle, then an extra file if given."""
    layers = base_layers(paths)
    stored = None
    if os.path.lexists(paths.applied_bundle):  # a link too: the store says what is wrong
        from kiosk.fleet.store import applied

        stored = applied(paths)
    if stored is not None:
        layers.append(
            ConfigLayer("bundle", str(stored.path), stored.layer, stored.payload.version)
        )
    if extra is not None:
        layers.append(ConfigLayer("extra", str(extra), read_toml_file(extra)))
    return layers


def _culprit(layers: list[ConfigLayer]) -> ConfigLayer:
    for count in range(1, len(layers) + 1):
        try:
            load_settings(*(layer.data for layer in layers[:count]))
        except ConfigError:
            return layers[count - 1]
    return layers[-1]


def load_effective_config(
    paths: KioskPaths | None = None, extra: Path | None = None, remember: bool = False
) -> EffectiveConfig:
    """The settings in force now, with where each layer came from.

    ``remember`` (the app): layers that validated are recorded in the state directory and,
    while unchanged, built again without validation at the next start.
    """
    paths = paths or discover_paths()
    layers = load_layers(paths, extra)
    record = paths.settings_record if remember else None
    try:
        settings, validated_now = load_recorded_settings(
            record, *(layer.data for layer in layers)
        )
    except ConfigError as exc:
        culprit = _culprit(layers).source
        raise ConfigError(f"{culprit}: {exc.detail}", **{**exc.data, "source": culprit}) from exc
    version = next((layer.version for layer in layers if layer.name == "bundle"), 0)
    return EffectiveConfig(settings, tuple(layers), version, validated_now)
