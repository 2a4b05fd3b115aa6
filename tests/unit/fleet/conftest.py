"""A kiosk's config and state directories in tmp, a trusted fleet key and a bundle factory."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.fleet.bundle import BundlePayload, Targets, sign_bundle
from kiosk.fleet.keys import generate_key_pair, load_private_key
from kiosk.paths import KioskPaths

SITE_TOML = '[kiosk]\nkiosk_id = "kiosk-7"\ncard_office = "office-north"\n'
GOOD_SETTINGS = '[ui]\nlanguage = "en"\nidle_timeout_s = 120\n'


@dataclass
class Fleet:
    """A kiosk in tmp plus the operator's signing key."""

    paths: KioskPaths
    key: Ed25519PrivateKey
    key_path: Path
    key_id: str

    def bundle(
        self,
        version: int,
        settings: str = GOOD_SETTINGS,
        *,
        key: Ed25519PrivateKey | None = None,
        targets: Targets | None = None,
        issued_at: datetime | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> bytes:
        """A signed bundle; valid for 30 days from now unless told otherwise."""
        now = datetime.now(UTC)
        payload = BundlePayload(
            version=version,
            issued_at=issued_at or now,
            not_before=not_before,
            not_after=not_after or now + timedelta(days=30),
            settings_toml=settings,
            targets=targets or Targets(),
        )
        return sign_bundle(payload, key or self.key)

    def applied_bytes(self) -> bytes | None:
        """The running config layer's bytes, None if no bundle is applied."""
        path = self.paths.bundle_dir / "applied.bundle"
        return path.read_bytes() if path.exists() else None


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    paths = KioskPaths(tmp_path / "etc", tmp_path / "state", tmp_path / "log")
    paths.config_dir.mkdir()
    paths.site_config.write_text(SITE_TOML)
    generated = generate_key_pair(tmp_path / "operator-keys")
    paths.fleet_keys_dir.mkdir()
    shutil.copy(generated.public_path, paths.fleet_keys_dir / generated.public_path.name)
    return Fleet(paths, load_private_key(generated.private_path), generated.private_path,
                 generated.key_id)


@pytest.fixture
def kiosk_env(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> Callable[[], dict[str, str]]:
    """Point kioskctl (in this process and in subprocesses) at the tmp kiosk."""
    monkeypatch.setenv("KIOSK_CONFIG_DIR", str(fleet.paths.config_dir))
    monkeypatch.setenv("KIOSK_STATE_DIR", str(fleet.paths.state_dir))
    monkeypatch.setenv("KIOSK_LOG_DIR", str(fleet.paths.log_dir))
    monkeypatch.setenv("KIOSKCTL_LANG", "en")

    def env() -> dict[str, str]:
        import os

        return dict(os.environ)

    return env
