"""Apply, confirm, roll back when the new config leaves the kiosk unhealthy, and power loss."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.errors import BundleRefused
from kiosk.fleet import store
from kiosk.fleet.apply import apply_bundle, confirm_or_rollback, now_utc
from kiosk.fleet.effective import load_effective_config
from kiosk.fleet.health_marker import mark_healthy

from .conftest import Fleet

# A stand-in for the kiosk app's start-up: load the config in force, reach the portal,
# and only then write the health marker (the real app does this after its first screen).
APP = textwrap.dedent(
    """
    import socket, sys
    from urllib.parse import urlsplit
    from kiosk.fleet.effective import load_effective_config
    from kiosk.fleet.health_marker import mark_healthy
    from kiosk.paths import resolve_paths

    paths = resolve_paths()
    config = load_effective_config(paths)
    url = urlsplit(config.settings.portal.url)
    try:
        socket.create_connection((url.hostname, url.port), timeout=2).close()
    except OSError as exc:
        print(f"portal unreachable: {exc}", file=sys.stderr)
        sys.exit(1)
    mark_healthy(paths, config.bundle_version)
    """
)


@pytest.fixture
def portal_port() -> Iterator[int]:
    """A listening loopback TCP socket standing in for the portal."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port: int = probe.getsockname()[1]
    probe.close()
    return port


def start_app(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", APP], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def test_healthy_bundle_is_confirmed_and_becomes_last_known_good(
    fleet: Fleet, kiosk_env: Callable[[], dict[str, str]], portal_port: int
) -> None:
    raw = fleet.bundle(1, f'[portal]\nurl = "http://127.0.0.1:{portal_port}"\n')
    result = apply_bundle(raw, fleet.paths)
    assert (result.version, result.previous_version) == (1, 0)
    assert confirm_or_rollback(fleet.paths).action == "waiting"
    assert start_app(kiosk_env()).returncode == 0
    assert confirm_or_rollback(fleet.paths).action == "confirmed"
    good = store.last_known_good(fleet.paths)
    assert good is not None and good.raw == raw
    assert confirm_or_rollback(fleet.paths).action == "nothing"


def test_unhealthy_bundle_is_rolled_back_to_last_known_good(
    fleet: Fleet, kiosk_env: Callable[[], dict[str, str]], portal_port: int
) -> None:
    good = fleet.bundle(3, f'[portal]\nurl = "http://127.0.0.1:{portal_port}"\n')
    apply_bundle(good, fleet.paths)
    assert start_app(kiosk_env()).returncode == 0
    assert confirm_or_rollback(fleet.paths).action == "confirmed"

    bad = fleet.bundle(4, f'[portal]\nurl = "http://127.0.0.1:{closed_port()}"\n')
    result = apply_bundle(bad, fleet.paths)
    app = start_app(kiosk_env())
    assert app.returncode == 1 and "portal unreachable" in app.stderr
    assert confirm_or_rollback(fleet.paths).action == "waiting"
    late = result.deadline + timedelta(seconds=1)
    outcome = confirm_or_rollback(fleet.paths, now=late)
    assert (outcome.action, outcome.version, outcome.restored_version) == ("rolled_back", 4, 3)
    assert fleet.applied_bytes() == good
    assert load_effective_config(fleet.paths).settings.portal.url.endswith(str(portal_port))
    assert start_app(kiosk_env()).returncode == 0

    with pytest.raises(BundleRefused) as caught:
        apply_bundle(bad, fleet.paths)
    assert caught.value.reason == "rolled_back_version"
    fixed = fleet.bundle(5, f'[portal]\nurl = "http://127.0.0.1:{portal_port}"\n')
    assert apply_bundle(fixed, fleet.paths).version == 5


def test_first_bundle_rolled_back_leaves_the_site_config(fleet: Fleet) -> None:
    before = load_effective_config(fleet.paths).settings
    result = apply_bundle(fleet.bundle(1), fleet.paths)
    assert load_effective_config(fleet.paths).settings != before
    outcome = confirm_or_rollback(fleet.paths, now=result.deadline)
    assert (outcome.action, outcome.restored_version) == ("rolled_back", 0)
    assert fleet.applied_bytes() is None
    assert load_effective_config(fleet.paths).settings == before


def test_a_health_marker_from_the_old_config_does_not_confirm(fleet: Fleet) -> None:
    apply_bundle(fleet.bundle(1), fleet.paths)
    mark_healthy(fleet.paths, 1)
    confirm_or_rollback(fleet.paths)
    result = apply_bundle(fleet.bundle(2), fleet.paths)
    mark_healthy(fleet.paths, 1)  # the app still running on version 1
    assert confirm_or_rollback(fleet.paths).action == "waiting"
    assert confirm_or_rollback(fleet.paths, now=result.deadline).action == "rolled_back"


def test_a_healthy_bundle_is_confirmed_after_the_clock_was_set_back(fleet: Fleet) -> None:
    applied_at = datetime.now(UTC)
    apply_bundle(fleet.bundle(1), fleet.paths, now=applied_at)
    # NTP sets a kiosk that booted a day ahead right before the app comes up on version 1
    mark_healthy(fleet.paths, 1, now=applied_at - timedelta(days=1))
    outcome = confirm_or_rollback(fleet.paths, now=applied_at - timedelta(days=1))
    assert outcome.action == "confirmed"
    assert store.last_known_good(fleet.paths) is not None


APPLY_STEPS = [
    "apply:start",
    "apply:temp_written",
    "pending:temp_written",
    "pending:renamed",
    "apply:pending_written",
    "apply:renamed",
    "apply:done",
]


def kioskctl(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "import sys; from composition.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.parametrize("step", APPLY_STEPS)
def test_power_loss_during_apply_leaves_old_or_new_config(
    fleet: Fleet, kiosk_env: Callable[[], dict[str, str]], tmp_path: Path, step: str
) -> None:
    old = fleet.bundle(1)
    apply_bundle(old, fleet.paths)
    mark_healthy(fleet.paths, 1)
    confirm_or_rollback(fleet.paths)
    new = fleet.bundle(2, '[ui]\nlanguage = "sv"\nrotation = 180\n')
    bundle_file = tmp_path / "v2.bundle"
    bundle_file.write_bytes(new)

    crashed = kioskctl(["config", "apply", str(bundle_file)],
                       {**kiosk_env(), "KIOSK_FLEET_CRASH_AT": step})
    assert crashed.returncode == -9, crashed.stderr

    assert fleet.applied_bytes() in (old, new)
    rotation = load_effective_config(fleet.paths).settings.ui.rotation
    assert rotation == (180 if fleet.applied_bytes() == new else 0)
    outcome = confirm_or_rollback(fleet.paths)
    if fleet.applied_bytes() == old:
        assert outcome.action in ("nothing", "cleared")
        assert store.pending(fleet.paths) is None
        done = kioskctl(["config", "apply", str(bundle_file)], kiosk_env())
        assert done.returncode == 0, done.stderr
    else:
        assert outcome.action == "waiting"
    assert fleet.applied_bytes() == new


@pytest.mark.parametrize("step", ["rollback:temp_written", "rollback:renamed"])
def test_power_loss_during_rollback_leaves_old_or_new_config(
    fleet: Fleet, kiosk_env: Callable[[], dict[str, str]], step: str
) -> None:
    old = fleet.bundle(1)
    apply_bundle(old, fleet.paths)
    mark_healthy(fleet.paths, 1)
    confirm_or_rollback(fleet.paths)
    new = fleet.bundle(2, '[ui]\nrotation = 90\n')
    result = apply_bundle(new, fleet.paths)
    expired_env = {**kiosk_env(), "KIOSK_FLEET_CRASH_AT": step}
    # Make the deadline pass for the subprocess: rewrite the marker with a past deadline.
    store.write_pending(fleet.paths, store.Pending(2, result.deadline - timedelta(hours=1),
                                                   now_utc() - timedelta(seconds=1)))
    crashed = kioskctl(["config", "confirm-or-rollback"], expired_env)
    assert crashed.returncode == -9, crashed.stderr
    assert fleet.applied_bytes() in (old, new)
    finished = "rolled_back" if fleet.applied_bytes() == new else "cleared"
    assert confirm_or_rollback(fleet.paths).action == finished
    assert fleet.applied_bytes() == old
    assert store.pending(fleet.paths) is None
    with pytest.raises(BundleRefused) as caught:
        apply_bundle(new, fleet.paths)
    assert caught.value.reason == "rolled_back_version"


def test_root_applying_leaves_files_the_kiosk_user_can_replace(fleet: Fleet) -> None:
    import os

    if os.geteuid() != 0:
        pytest.skip("needs root to hand files to another user")
    fleet.paths.state_dir.mkdir()
    os.chown(fleet.paths.state_dir, 4321, 4321)
    apply_bundle(fleet.bundle(1), fleet.paths)
    for path in [fleet.paths.bundle_dir, *fleet.paths.bundle_dir.iterdir()]:
        assert (path.stat().st_uid, path.stat().st_gid) == (4321, 4321), path


def test_links_planted_in_the_state_directory_are_never_written_through(
    fleet: Fleet, tmp_path: Path
) -> None:
    # the kiosk user owns the state directory; root may run `kioskctl config apply`
    victim = tmp_path / "victim"  # stands for /etc/shadow
    victim.write_text("root's own file\n")
    bundle_dir = fleet.paths.bundle_dir
    bundle_dir.mkdir(parents=True)
    for name in ("applied.bundle", "pending.json", "last-known-good.bundle"):
        (bundle_dir / f".{name}.tmp").symlink_to(victim)  # the temp names used to be fixed
    apply_bundle(fleet.bundle(1), fleet.paths)
    mark_healthy(fleet.paths, 1)
    assert confirm_or_rollback(fleet.paths).action == "confirmed"
    assert victim.read_text() == "root's own file\n"
    assert store.applied(fleet.paths) is not None and not fleet.paths.applied_bundle.is_symlink()
