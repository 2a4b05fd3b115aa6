"""The bundle store in the state directory: applied, last-known-good, pending and rollback.

Files in ``<state>/config/``:
- ``applied.bundle``: the bundle whose settings are the top config layer (replaced by rename);
- ``last-known-good.bundle``: the last bundle the kiosk came up healthy with;
- ``pending.json``: an applied bundle still waiting for the health marker, with a deadline;
- ``rolled-back.json``: the newest version that was rolled back (never applied again);
- ``pull-cache.json``: ETag / Last-Modified of the last processed pull;
- ``validated-settings.json``: the digest of the settings layers that validated last
  (kiosk/fleet/settings_record.py; a digest, never settings);
- ``vouchers/<sha256>.json``: for a bundle signed by a key an earlier bundle added, the
  earlier bundles (oldest first, the first signed by a key in /etc/kiosk/fleet-keys).
The state directory belongs to the kiosk's user, the fleet keys to root: every bundle read
back from here is verified again, from the root-owned keys through its vouchers, so a
bundle planted in the state directory is refused, not trusted.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiosk.errors import BundleRefused, ConfigError
from kiosk.fleet.atomic import atomic_write, remove_durably
from kiosk.fleet.bundle import (
    BundlePayload,
    parse_payload,
    parse_settings_layer,
    trusted_after,
    verify_signature,
)
from kiosk.fleet.keys import load_trusted_keys
from kiosk.paths import APPLIED_BUNDLE, KioskPaths

APPLIED = APPLIED_BUNDLE
LAST_KNOWN_GOOD = "last-known-good.bundle"
PENDING = "pending.json"
ROLLED_BACK = "rolled-back.json"
PULL_CACHE = "pull-cache.json"
VOUCHERS = "vouchers"


@dataclass(frozen=True)
class StoredBundle:
    """A bundle read back from the store."""

    path: Path
    payload: BundlePayload
    layer: dict[str, Any]
    raw: bytes
    key_id: str = ""
    vouchers: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class Pending:
    """An applied bundle on probation until the kiosk reports healthy."""

    version: int
    applied_at: datetime
    deadline: datetime


def decode_stored(raw: bytes, source: Path) -> StoredBundle:
    """Decode a stored bundle's payload (no signature check: see ``read_bundle``);
    ConfigError if the file is damaged."""
    try:
        envelope = json.loads(raw)
        payload = parse_payload(base64.b64decode(envelope["payload"], validate=True))
        layer = parse_settings_layer(payload.settings_toml)
    except (ValueError, KeyError, TypeError, ConfigError, BundleRefused) as exc:
        raise ConfigError(f"{source}: stored bundle is damaged ({exc})", path=str(source)) from exc
    return StoredBundle(source, payload, layer, raw)


def base_keys(paths: KioskPaths) -> dict[str, Ed25519PublicKey]:
    """The root-owned fleet keys (ConfigError if a key file could have been planted)."""
    return load_trusted_keys(paths.fleet_keys_dir, paths.anchor_owners)


def _vouchers_path(paths: KioskPaths, raw: bytes) -> Path:
    return paths.bundle_dir / VOUCHERS / f"{hashlib.sha256(raw).hexdigest()}.json"


def read_vouchers(paths: KioskPaths, raw: bytes) -> tuple[bytes, ...]:
    """The bundles vouching for ``raw``'s signing key, oldest first (none when a root-owned
    key signed it)."""
    data = _read_json(_vouchers_path(paths, raw)) or {}
    items = data.get("bundles", [])
    if not isinstance(items, list):
        return ()
    try:
        return tuple(base64.b64decode(str(item), validate=True) for item in items)
    except ValueError:
        return ()


def write_vouchers(paths: KioskPaths, raw: bytes, vouchers: tuple[bytes, ...]) -> None:
    """Keep the vouchers of a bundle about to be stored (before it is)."""
    if vouchers:
        _write_json(
            _vouchers_path(paths, raw),
            {"bundles": [base64.b64encode(v).decode("ascii") for v in vouchers]},
            step="vouchers",
        )


def verify_stored(paths: KioskPaths, raw: bytes, source: Path) -> tuple[str, tuple[bytes, ...]]:
    """Verify a stored bundle from the root-owned keys through its vouchers; its signing
    key id and vouchers. ConfigError naming the file when it does not verify."""
    base = base_keys(paths)
    vouchers = read_vouchers(paths, raw)
    keys, kid = base, ""
    for item in (*vouchers, raw):
        try:
            kid, payload_bytes = verify_signature(item, keys)
            keys = trusted_after(base, parse_payload(payload_bytes))
        except BundleRefused as exc:
            raise ConfigError(
                f"{source}: the stored bundle does not verify against the trusted fleet "
                f"keys ({exc.detail}); it was not applied by this kiosk, remove it",
                path=str(source), reason=exc.reason,
            ) from exc
    return kid, vouchers


def read_bundle(paths: KioskPaths, path: Path) -> StoredBundle | None:
    """The stored bundle at ``path``, verified again, or None if there is none."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    kid, vouchers = verify_stored(paths, raw, path)
    stored = decode_stored(raw, path)
    return StoredBundle(stored.path, stored.payload, stored.layer, raw, kid, vouchers)


def applied(paths: KioskPaths) -> StoredBundle | None:
    """The applied bundle (the top config layer), if any; verified each time it is read."""
    return read_bundle(paths, paths.applied_bundle)


def last_known_good(paths: KioskPaths) -> StoredBundle | None:
    """The last bundle confirmed healthy, if any; verified each time it is read."""
    return read_bundle(paths, paths.bundle_dir / LAST_KNOWN_GOOD)


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
