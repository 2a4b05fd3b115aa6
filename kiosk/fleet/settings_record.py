"""Settings layers that validated once, built again without pydantic while they are unchanged.

Validating the layers with pydantic cost the kiosk ~0.13 s and ~19 MB before its first
frame, on every start (importing pydantic, building the schema, checking). After a
successful validation the kiosk writes what it validated to
``<state>/config/validated-settings.json``; at the next start, layers that merge to the same
document become Settings directly (``build_settings``), and pydantic is not imported.

The record is only compared, never read as settings: the settings are always built from
the layers themselves (the packaged and site files, the applied bundle verified against the
fleet keys as before). It holds the validated document (the merged layers) and the size and
modification time of the modules whose rules decide what is valid (``RULE_MODULES``) and of
pydantic's version file, the test Python uses to know a .pyc is stale; a change to any of
them is validated again. A record planted in the kiosk's state directory can at most spare
the check of layers that came from root-owned files or a signed bundle; it cannot add or
change a value.
"""

from __future__ import annotations

import functools
import json
import sys
import typing
from collections.abc import Mapping
from dataclasses import is_dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from kiosk.config_files import read_limited
from kiosk.fleet.atomic import atomic_write, ensure_dir
from kiosk.settings import Settings, merge_layers, settings_document, validate_document

# kiosk.settings and every kiosk module it imports: their code decides what is valid
RULE_MODULES = ("kiosk.settings", "kiosk.errors", "kiosk.i18n", "kiosk.urls")
MAX_RECORD_BYTES = 1024 * 1024  # four layers of at most 64 KiB each, as JSON


def _identity(path: Path) -> list[Any]:
    stat = path.stat()
    return [str(path), stat.st_size, stat.st_mtime_ns]


@functools.cache
def rules_identity() -> tuple[list[Any], ...]:
    """Path, size and modification time of the rule modules and of pydantic's version file."""
    files = []
    for name in RULE_MODULES:
        __import__(name)
        files.append(Path(str(sys.modules[name].__file__)))
    spec = find_spec("pydantic")  # the package is found, not imported
    for folder in (spec.submodule_search_locations or []) if spec else []:
        files.append(Path(folder) / "version.py")
    return tuple(_identity(path) for path in files if path.is_file())


def _record(document: str) -> dict[str, Any]:
    return {"rules": list(rules_identity()), "document": document}


def matches_record(path: Path, document: str) -> bool:
    """Whether the record at ``path`` says ``document`` validated under today's rules."""
    try:  # a regular file only: a FIFO or device planted here must not hang the start
        recorded = json.loads(read_limited(path, MAX_RECORD_BYTES))
    except (OSError, ValueError, RecursionError):
        return False  # none, unreadable, too large or damaged: validate
    return bool(recorded == _record(document))


def write_record(path: Path, document: str) -> bool:
    """Record ``document`` as validated; False (nothing else) if the state cannot be written."""
    data = json.dumps(_record(document), ensure_ascii=True).encode("ascii")
    if len(data) > MAX_RECORD_BYTES:
        return False
    try:
        ensure_dir(path.parent)
        atomic_write(path, data + b"\n")
    except OSError:
        return False  # the next start validates again: slower, never wrong
    return True


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)  # Annotated constraints stripped: checked already


def _build(hint: Any, value: Any) -> Any:
    if is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(value, Mapping):
            raise TypeError(f"{hint.__name__}: not a table")
        types = _field_types(hint)
        unknown = set(value) - set(types)
        if unknown:
            raise TypeError(f"{hint.__name__}: unknown {sorted(unknown)}")
        return hint(**{name: _build(types[name], item) for name, item in value.items()})
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, list | tuple):
            raise TypeError("not a list")
        item_type = typing.get_args(hint)[0]
        return tuple(_build(item_type, item) for item in value)
    if hint is float and type(value) is int:
        return float(value)  # pydantic's strict float takes an integer as a float
    if not isinstance(value, hint):
        raise TypeError(f"{value!r} is not {hint.__name__}")
    return value


def build_settings(merged: Mapping[str, Any]) -> Settings:
    """Settings from merged layers that validated before; TypeError if they have another shape."""
    return typing.cast(Settings, _build(Settings, merged))


def load_recorded_settings(
    record: Path | None, *layers: Mapping[str, Any]
) -> tuple[Settings, bool]:
    """The settings of ``layers`` and whether pydantic validated them now.

    With a record of the same document, they are built without validation; otherwise they
    are validated (ConfigError as ``kiosk.settings.load_settings``) and, when valid, recorded.
    """
    document = settings_document(*layers)
    if record is not None and matches_record(record, document):
        try:
            return build_settings(merge_layers(*layers)), False
        except TypeError:
            pass  # a record that does not fit its layers: validate them
    settings = validate_document(document)
    if record is not None:
        write_record(record, document)
    return settings, True
