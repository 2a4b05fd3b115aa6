"""Finding and reading the config layers: packaged defaults < /etc/kiosk/kiosk.toml < bundle.

The packaged defaults are kiosk/default_config.toml, a symlink to config/kiosk.toml in
the source tree that setuptools copies into the wheel, so `pip install .` and the editable
install read the same file through importlib.resources.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from kiosk.errors import ConfigError
from kiosk.paths import KioskPaths, resolve_paths
from kiosk.settings import Settings, load_settings

PACKAGED_NAME = "default_config.toml"


@dataclass(frozen=True)
class ConfigLayer:
    """One settings layer and where it came from."""

    name: str  # "packaged", "site", "bundle", "extra"
    source: str
    data: dict[str, Any]
    version: int = 0  # the bundle's version for the "bundle" layer


@dataclass(frozen=True)
class EffectiveConfig:
    """The settings in force, the layers they came from and the applied bundle's version."""

    settings: Settings
    layers: tuple[ConfigLayer, ...]
    bundle_version: int  # 0 when no bundle is applied


def packaged_defaults_text() -> str:
    """The text of the packaged defaults file."""
    return resources.files("kiosk").joinpath(PACKAGED_NAME).read_text(encoding="utf-8")


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """A TOML document as a mapping; ConfigError naming the source and line if malformed."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}", path=source) from exc


def read_toml_file(path: Path) -> dict[str, Any]:
    """A TOML file as a mapping; ConfigError if unreadable or malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})", path=str(path)) from exc
    return parse_toml(text, str(path))


def base_layers(paths: KioskPaths) -> list[ConfigLayer]:
    """The layers a bundle is applied over: packaged defaults and the site file."""
    layers = [ConfigLayer("packaged", PACKAGED_NAME, parse_toml(packaged_defaults_text(),
                                                                 PACKAGED_NAME))]
    if paths.site_config.is_file():
        layers.append(ConfigLayer("site", str(paths.site_config),
                                  read_toml_file(paths.site_config)))
    return layers


def discover_paths() -> KioskPaths:
    """The kiosk's directories, honouring [paths] in /etc/kiosk/kiosk.toml."""
    first = resolve_paths()
    if not first.site_config.is_file():
        return first
    try:
        section = read_toml_file(first.site_config).get("paths", {})
    except ConfigError:
        return first  # the loader reports the broken site file with its path
    if not isinstance(section, dict):
        return first
    return resolve_paths(
        state_dir_setting=str(section.get("state_dir", "")),
        log_dir_setting=str(section.get("log_dir", "")),
    )


def load_layers(paths: KioskPaths, extra: Path | None = None) -> list[ConfigLayer]:
    """Every layer in order: packaged, site, applied bundle, then an extra file if given."""
    from kiosk.fleet.store import applied  # the store decodes bundles, which need settings

    layers = base_layers(paths)
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
    paths: KioskPaths | None = None, extra: Path | None = None
) -> EffectiveConfig:
    """The settings in force now, with where each layer came from."""
    paths = paths or discover_paths()
    layers = load_layers(paths, extra)
    try:
        settings = load_settings(*(layer.data for layer in layers))
    except ConfigError as exc:
        culprit = _culprit(layers).source
        raise ConfigError(f"{culprit}: {exc.detail}", **{**exc.data, "source": culprit}) from exc
    version = next((layer.version for layer in layers if layer.name == "bundle"), 0)
    return EffectiveConfig(settings, tuple(layers), version)
