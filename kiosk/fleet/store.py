"""The bundle store in the state directory: applied, last-known-good, pending and rollback.

Files in ``<state>/config/``:
- ``applied.bundle``: the bundle whose settings are the top config layer (replaced by rename);
- ``last-known-good.bundle``: the last bundle the kiosk came up healthy with;
- ``pending.json``: an applied bundle still waiting for the health marker, with a deadline;
- ``rolled-back.json``: the newest version that was rolled back (never applied again);
- ``pull-cache.json``: ETag / Last-Modified of the last processed pull.
Bundles here were verified when applied; reading them back only decodes them.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kiosk.errors import ConfigError
from kiosk.fleet.atomic import atomic_write, remove_durably
from kiosk.fleet.bundle import BundlePayload, parse_payload, parse_settings_layer
from kiosk.paths import KioskPaths

APPLIED = "applied.bundle"
LAST_KNOWN_GOOD = "last-known-good.bundle"
PENDING = "pending.json"
ROLLED_BACK = "rolled-back.json"
PULL_CACHE = "pull-cache.json"


@dataclass(frozen=True)
class StoredBundle:
    """A bundle read back from the store."""

    path: Path
    payload: BundlePayload
    layer: dict[str, Any]
    raw: bytes


@dataclass(frozen=True)
class Pending:
    """An applied bundle on probation until the kiosk reports healthy."""

    version: int
    applied_at: datetime
    deadline: datetime


def decode_stored(raw: bytes, source: Path) -> StoredBundle:
    """Decode a bundle that was verified when stored; ConfigError if the file is damaged."""
    try:
        envelope = json.loads(raw)
        payload = parse_payload(base64.b64decode(envelope["payload"], validate=True))
        layer = parse_settings_layer(payload.settings_toml)
    except (ValueError, KeyError, TypeError, ConfigError) as exc:
        raise ConfigError(f"{source}: stored bundle is damaged ({exc})", path=str(source)) from exc
    return StoredBundle(source, payload, layer, raw)


def read_bundle(path: Path) -> StoredBundle | None:
    """The stored bundle at ``path``, or None if there is none."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    return decode_stored(raw, path)


def applied(paths: KioskPaths) -> StoredBundle | None:
    """The applied bundle (the top config layer), if any."""
    return read_bundle(paths.bundle_dir / APPLIED)


def last_known_good(paths: KioskPaths) -> StoredBundle | None:
    """The last bundle confirmed healthy, if any."""
    return read_bundle(paths.bundle_dir / LAST_KNOWN_GOOD)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:
        return None  # a torn marker counts as absent; markers are only ever replaced whole
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict[str, Any], step: str = "") -> None:
    atomic_write(path, (json.dumps(data, sort_keys=True) + "\n").encode(), step=step)


def pending(paths: KioskPaths) -> Pending | None:
    """The bundle awaiting health confirmation, if any."""
    data = _read_json(paths.bundle_dir / PENDING)
    if data is None:
        return None
    try:
        return Pending(
            int(data["version"]),
            datetime.fromisoformat(data["applied_at"]),
            datetime.fromisoformat(data["deadline"]),
        )
    except (KeyError, ValueError, TypeError):
        return None


def write_pending(paths: KioskPaths, marker: Pending, step: str = "") -> None:
    """Record a bundle on probation."""
    _write_json(
        paths.bundle_dir / PENDING,
        {
            "version": marker.version,
            "applied_at": marker.applied_at.isoformat(),
            "deadline": marker.deadline.isoformat(),
        },
        step,
    )


def clear_pending(paths: KioskPaths) -> None:
    """Forget the probation marker."""
    remove_durably(paths.bundle_dir / PENDING)


def rolled_back_version(paths: KioskPaths) -> int:
    """The newest version ever rolled back (0 if none)."""
    data = _read_json(paths.bundle_dir / ROLLED_BACK) or {}
    version = data.get("version", 0)
    return version if isinstance(version, int) else 0


def record_rollback(paths: KioskPaths, version: int, at: datetime, reason: str) -> None:
    """Remember a rolled-back version so the same bundle is never applied again."""
    newest = max(version, rolled_back_version(paths))
    _write_json(
        paths.bundle_dir / ROLLED_BACK,
        {"version": newest, "at": at.isoformat(), "reason": reason},
    )


def read_pull_cache(paths: KioskPaths) -> dict[str, str]:
    """ETag / Last-Modified of the last processed pull, by URL."""
    data = _read_json(paths.bundle_dir / PULL_CACHE) or {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def write_pull_cache(paths: KioskPaths, cache: dict[str, str]) -> None:
    """Store the conditional-request validators after a pull was processed."""
    _write_json(paths.bundle_dir / PULL_CACHE, dict(cache))
