"""Where the kiosk keeps config, state and logs, for production, systemd and development.

Resolution, first match wins, per directory:
1. KIOSK_CONFIG_DIR / KIOSK_STATE_DIR / KIOSK_LOG_DIR (tests, odd installs);
2. systemd's CONFIGURATION_DIRECTORY / STATE_DIRECTORY / LOGS_DIRECTORY (set by the units'
   ConfigurationDirectory=, StateDirectory=, LogsDirectory=);
3. production (KIOSK_MODE=production, or KIOSK_MODE unset and /etc/kiosk/kiosk.toml
   exists, so an operator's plain `kioskctl` finds the installed kiosk):
   /etc/kiosk, /var/lib/kiosk, /var/log/kiosk;
4. otherwise (or KIOSK_MODE=dev) a per-user directory (XDG): ~/.config/kiosk,
   ~/.local/state/kiosk, ~/.local/state/kiosk/log.
The config directory cannot come from settings (settings are read from it); the state
and log directories may be set in /etc/kiosk/kiosk.toml [paths] when no env var says so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PRODUCTION_CONFIG_DIR = Path("/etc/kiosk")
PRODUCTION_STATE_DIR = Path("/var/lib/kiosk")
PRODUCTION_LOG_DIR = Path("/var/log/kiosk")
APPLIED_BUNDLE = "applied.bundle"  # in bundle_dir: the top settings layer (kiosk.fleet.store)
SETTINGS_RECORD = "validated-settings.json"  # in bundle_dir (kiosk.fleet.settings_record)


@dataclass(frozen=True)
class KioskPaths:
    """The kiosk's directories and the well-known files inside them."""

    config_dir: Path
    state_dir: Path
    log_dir: Path
    trust_owners: tuple[int, ...] | None = None
    """Who may own the trust anchors (the fleet keys): root only in production; None
    means root or the current user (a development kiosk, tests)."""

    @property
    def anchor_owners(self) -> tuple[int, ...]:
        """The user ids a trust anchor file and its directory may belong to."""
        if self.trust_owners is not None:
            return self.trust_owners
        return (0, os.geteuid())

    @property
    def site_config(self) -> Path:
        """The operator's /etc/kiosk/kiosk.toml layer."""
        return self.config_dir / "kiosk.toml"

    @property
    def fleet_keys_dir(self) -> Path:
        """Trusted fleet public keys (*.pub), provisioned by the operator."""
        return self.config_dir / "fleet-keys"

    @property
    def bundle_dir(self) -> Path:
        """Applied bundle, last-known-good, pending marker, pull cache."""
        return self.state_dir / "config"

    @property
    def applied_bundle(self) -> Path:
        """The applied bundle, whose settings are the top config layer."""
        return self.bundle_dir / APPLIED_BUNDLE

    @property
    def settings_record(self) -> Path:
        """The digest of the settings layers that validated last (kiosk.fleet.settings_record)."""
        return self.bundle_dir / SETTINGS_RECORD

    @property
    def health_marker(self) -> Path:
        """Written by the app when it is up and healthy (see kiosk.health)."""
        return self.state_dir / "health.json"

    @property
    def outbox_db(self) -> Path:
        """The outbox database (kiosk.outbox)."""
        return self.state_dir / "outbox.sqlite3"


def _first_dir(env: Mapping[str, str], *names: str) -> Path | None:
    for name in names:
        value = env.get(name, "")
        if value:
            # systemd may list several directories separated by ':'; the first is ours.
            return Path(value.split(":")[0])
    return None


def resolve_paths(
    env: Mapping[str, str] | None = None,
    state_dir_setting: str = "",
    log_dir_setting: str = "",
) -> KioskPaths:
    """The kiosk's directories from the environment, then settings, then mode defaults."""
    env = os.environ if env is None else env
    mode = env.get("KIOSK_MODE", "")
    production = mode == "production" or (
        mode == "" and (PRODUCTION_CONFIG_DIR / "kiosk.toml").is_file()
    )
    home = Path(env.get("HOME", str(Path.home())))
    xdg_config = Path(env.get("XDG_CONFIG_HOME", str(home / ".config")))
    xdg_state = Path(env.get("XDG_STATE_HOME", str(home / ".local" / "state")))
    config_dir = _first_dir(env, "KIOSK_CONFIG_DIR", "CONFIGURATION_DIRECTORY") or (
        PRODUCTION_CONFIG_DIR if production else xdg_config / "kiosk"
    )
    state_dir = _first_dir(env, "KIOSK_STATE_DIR", "STATE_DIRECTORY") or (
        Path(state_dir_setting)
        if state_dir_setting
        else PRODUCTION_STATE_DIR if production else xdg_state / "kiosk"
    )
    log_dir = _first_dir(env, "KIOSK_LOG_DIR", "LOGS_DIRECTORY") or (
        Path(log_dir_setting)
        if log_dir_setting
        else PRODUCTION_LOG_DIR if production else xdg_state / "kiosk" / "log"
    )
    return KioskPaths(
        config_dir=config_dir, state_dir=state_dir, log_dir=log_dir,
        trust_owners=(0,) if production or config_dir == PRODUCTION_CONFIG_DIR else None,
    )


SHARED_MEMORY_DIR = "/dev/shm"  # noqa: S108 -- mkdtemp makes a private directory in it


def demo_scratch_dir(prefix: str, env: Mapping[str, str] | None = None) -> Path:
    """A new private directory (mode 0700) for one demo run's throwaway state.

    On a RAM-backed filesystem when the machine has one ($XDG_RUNTIME_DIR, else /dev/shm),
    unless TMPDIR names a place: the demo's SQLite commits and token files are synced to
    disk one by one (a few ms each on a disk) and removing the state's ~170 files at exit
    took 0.06-0.09 s on a disk, 0.001 s in RAM. The caller removes it.
    """
    import tempfile

    env = os.environ if env is None else env
    parent: str | None = None
    if not env.get("TMPDIR"):
        for folder in (env.get("XDG_RUNTIME_DIR", ""), SHARED_MEMORY_DIR):
            if folder and os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK):
                parent = folder
                break
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
