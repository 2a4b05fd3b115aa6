"""Applying a bundle, and confirming it or rolling it back from the health marker.

apply_bundle checks everything before it writes anything, so each refusal leaves the
running config byte-for-byte untouched. The write order makes a power cut at any step
leave the old or the new applied.bundle, and never lose the probation marker:
1. new bundle to a temp file, fsync;   2. pending.json (version, deadline) by rename;
3. rename temp -> applied.bundle;       4. fsync the directory.
confirm_or_rollback (run by a systemd timer) then confirms the bundle once the app's
health marker names its version, or restores last-known-good after the deadline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiosk.config_files import base_layers, read_limited
from kiosk.errors import BundleRefused
from kiosk.fleet import store
from kiosk.fleet.atomic import atomic_write, crash_point, fsync_dir, remove_durably, write_temp
from kiosk.fleet.bundle import (
    MAX_BUNDLE_BYTES,
    VerifiedBundle,
    check_settings,
    check_target,
    check_validity,
    open_bundle,
    trusted_after,
)
from kiosk.fleet.health_marker import read_health_marker
from kiosk.paths import KioskPaths
from kiosk.settings import Settings, load_settings


def now_utc() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


def current_version(paths: KioskPaths) -> int:
    """The version in force: the applied bundle's, 0 if none."""
    applied = store.applied(paths)
    return applied.payload.version if applied else 0


def trusted_keys(paths: KioskPaths) -> dict[str, Ed25519PublicKey]:
    """The fleet keys trusted now: /etc/kiosk/fleet-keys as amended by the applied bundle."""
    base = store.base_keys(paths)
    applied = store.applied(paths)
    return trusted_after(base, applied.payload) if applied else base


def verify_bundle(
    raw: bytes,
    paths: KioskPaths,
    now: datetime | None = None,
    max_age: timedelta | None = None,
) -> tuple[VerifiedBundle, Settings]:
    """Every check apply makes, without writing: signature first, then payload and policy."""
    now = now or now_utc()
    bundle = open_bundle(raw, trusted_keys(paths))
    check_validity(bundle.payload, now, max_age)
    if not trusted_after(store.base_keys(paths), bundle.payload):
        raise BundleRefused("locks_out", "the bundle's trust section leaves no trusted key")
    layers = [layer.data for layer in base_layers(paths)]
    check_target(bundle.payload, load_settings(*layers))
    current = current_version(paths)
    if bundle.version == current:
        raise BundleRefused(
            "replayed_version", f"version {current} is already applied", version=bundle.version
        )
    if bundle.version < current:
        raise BundleRefused(
            "old_version",
            f"version {bundle.version} is older than the applied version {current}",
            version=bundle.version,
            current=current,
        )
    rolled_back = store.rolled_back_version(paths)
    if bundle.version <= rolled_back:
        raise BundleRefused(
            "rolled_back_version",
            f"version {bundle.version} was rolled back (up to {rolled_back}); sign a newer one",
            version=bundle.version,
        )
    return bundle, check_settings(bundle.layer, layers)


@dataclass(frozen=True)
class ApplyResult:
    """What apply_bundle did."""

    version: int
    previous_version: int
    deadline: datetime


def apply_bundle(
    raw: bytes,
    paths: KioskPaths,
    now: datetime | None = None,
    max_age: timedelta | None = None,
) -> ApplyResult:
    """Verify, then atomically make ``raw`` the applied bundle on probation."""
    now = now or now_utc()
    bundle, settings = verify_bundle(raw, paths, now, max_age)
    previous = current_version(paths)
    current = store.applied(paths)
    signed_by_anchor = bundle.key_id in store.base_keys(paths)
    vouchers = () if signed_by_anchor or current is None else (*current.vouchers, current.raw)
    deadline = now + timedelta(seconds=settings.fleet.health_timeout_s)
    target = paths.applied_bundle
    crash_point("apply:start")
    store.write_vouchers(paths, raw, vouchers)
    temp = write_temp(target, raw)
    crash_point("apply:temp_written")
    store.write_pending(paths, store.Pending(bundle.version, now, deadline), step="pending")
    crash_point("apply:pending_written")
    os.replace(temp, target)
    crash_point("apply:renamed")
    fsync_dir(paths.bundle_dir)
    crash_point("apply:done")
    return ApplyResult(bundle.version, previous, deadline)


@dataclass(frozen=True)
class CheckOutcome:
    """What confirm_or_rollback decided: nothing, waiting, confirmed, cleared, rolled_back."""

    action: str
    version: int = 0
    restored_version: int = 0


def _restore_last_known_good(paths: KioskPaths) -> int:
    target = paths.applied_bundle
    good = store.last_known_good(paths)
    if good is None:
        remove_durably(target)
        return 0
    atomic_write(target, good.raw, step="rollback")
    return good.payload.version


def confirm_or_rollback(paths: KioskPaths, now: datetime | None = None) -> CheckOutcome:
    """Confirm the pending bundle if the app reported healthy on it, else roll back late ones."""
    now = now or now_utc()
    marker = store.pending(paths)
    if marker is None:
        return CheckOutcome("nothing")
    applied = store.applied(paths)
    applied_version = applied.payload.version if applied else 0
    if applied is None or applied_version != marker.version:
        store.clear_pending(paths)  # a power cut before the rename: the old config stayed
        return CheckOutcome("cleared", marker.version)
    health = read_health_marker(paths)
    # Only an app that loaded this bundle reports its version: versions only go up and a
    # rolled-back one is never applied again, so no marker older than the apply names it.
    # (Comparing the marker's wall-clock time with the apply's rolled back a healthy
    # bundle when the clock was set back in between: NTP correcting a kiosk booted ahead.)
    if health is not None and health.config_version == marker.version:
        atomic_write(paths.bundle_dir / store.LAST_KNOWN_GOOD, applied.raw, step="confirm")
        store.clear_pending(paths)
        return CheckOutcome("confirmed", marker.version)
    if now < marker.deadline:
        return CheckOutcome("waiting", marker.version)
    store.record_rollback(paths, marker.version, now, "not healthy before the deadline")
    restored = _restore_last_known_good(paths)
    store.clear_pending(paths)
    return CheckOutcome("rolled_back", marker.version, restored)


def read_bundle_file(path: Path) -> bytes:
    """The bytes of a bundle file; BundleRefused('unreadable') if it cannot be read."""
    try:  # a regular file, and no more than a bundle may be (a FIFO hung `config apply`)
        return read_limited(path, MAX_BUNDLE_BYTES)
    except OSError as exc:
        raise BundleRefused("unreadable", f"{path}: {exc.strerror}", path=str(path)) from exc
