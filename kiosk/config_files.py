"""Finding and reading the config files: packaged defaults < /etc/kiosk/kiosk.toml.

The applied bundle is the third layer; it is read by kiosk/fleet/effective.py, which gives
the settings in force (the fleet store sits above this module, not beside it).

The packaged defaults are kiosk/default_config.toml, a symlink to config/kiosk.toml in
the source tree that setuptools copies into the wheel, so `pip install .` and the editable
install read the same file through importlib.resources.
"""

from __future__ import annotations

import errno
import os
import stat
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from kiosk.errors import ConfigError
from kiosk.paths import KioskPaths, resolve_paths
from kiosk.settings import MAX_DEPTH, check_depth

PACKAGED_NAME = "default_config.toml"
MAX_CONFIG_CHARS = 64 * 1024


@dataclass(frozen=True)
class ConfigLayer:
    """One settings layer and where it came from."""

    name: str  # "packaged", "site", "bundle", "extra"
    source: str
    data: dict[str, Any]
    version: int = 0  # the bundle's version for the "bundle" layer


def packaged_defaults_text() -> str:
    """The text of the packaged defaults file."""
    return resources.files("kiosk").joinpath(PACKAGED_NAME).read_text(encoding="utf-8")


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """A TOML document as a mapping; ConfigError naming the source if malformed.

    Hostile files too: files over 64 KiB (the fully commented defaults are 9 KiB), tables
    or arrays nested thousands deep (tomllib recurses) and integers longer than Python
    converts (4,300 digits) are refused, never a traceback.
    """
    if len(text) > MAX_CONFIG_CHARS:
        hint = f"a settings file has at most {MAX_CONFIG_CHARS // 1024} KiB"
        raise ConfigError(f"{source}: too large; {hint}", path=source, hint=hint)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}", path=source) from exc
    except RecursionError:
        hint = f"tables and lists nest at most {MAX_DEPTH} deep"
        raise ConfigError(f"{source}: nested too deeply; {hint}", path=source,
                          hint=hint) from None
    except ValueError:  # int_max_str_digits: Python reads no integer of over 4,300 digits
        hint = "integers have at most 4,300 digits"
        raise ConfigError(f"{source}: not valid TOML: a number is too long; {hint}",
                          path=source, hint=hint) from None
    check_depth(data, source)
    return data


def read_limited(path: Path, limit: int) -> bytes:
    """At most ``limit`` + 1 bytes of a regular file (more than ``limit``: too large).

    OSError (EINVAL) for anything but a regular file: a FIFO named as a settings or bundle
    file hung its command for good, and /dev/zero was read until memory ran out (the FIFO
    is opened without waiting for a writer).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        return handle.read(limit + 1)


def read_config_text(path: Path) -> str:
    """A settings file's text; ConfigError if it is no regular file, unreadable or larger
    than MAX_CONFIG_CHARS of UTF-8 can be."""
    limit = MAX_CONFIG_CHARS * 4  # UTF-8: at most 4 bytes a character
    try:
        raw = read_limited(path, limit)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})", path=str(path)) from exc
    if len(raw) > limit:
        hint = f"a settings file has at most {MAX_CONFIG_CHARS // 1024} KiB"
        raise ConfigError(f"{path}: too large; {hint}", path=str(path), hint=hint)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read ({exc})", path=str(path)) from exc


def read_toml_file(path: Path) -> dict[str, Any]:
    """A TOML file as a mapping; ConfigError if unreadable or malformed."""
    return parse_toml(read_config_text(path), str(path))


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
