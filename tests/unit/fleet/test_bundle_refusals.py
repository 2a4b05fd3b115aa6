"""Every bundle refusal has its reason and leaves the running config byte-for-byte unchanged."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.errors import BundleRefused
from kiosk.fleet import store
from kiosk.fleet.apply import apply_bundle, confirm_or_rollback
from kiosk.fleet.bundle import Targets, open_bundle
from kiosk.fleet.effective import load_effective_config
from kiosk.fleet.health_marker import mark_healthy
from kiosk.fleet.keys import load_trusted_keys

from .conftest import Fleet

NOW = datetime.now(UTC)


def tamper(raw: bytes) -> bytes:
    """The same bundle with one setting changed after signing."""
    envelope = json.loads(raw)
    payload = json.loads(base64.b64decode(envelope["payload"]))
    payload["settings"] = payload["settings"].replace("120", "600")
    envelope["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    return json.dumps(envelope).encode()


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under the bundle directory and its bytes."""
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


Case = tuple[str, Callable[[Fleet], bytes]]

CASES: list[Case] = [
    ("bad_signature", lambda f: tamper(f.bundle(5))),
    ("unknown_key_id", lambda f: f.bundle(5, key=Ed25519PrivateKey.generate())),
    ("old_version", lambda f: f.bundle(2)),
    ("replayed_version", lambda f: f.bundle(3, '[ui]\nlanguage = "sv"\n')),
    ("expired", lambda f: f.bundle(5, not_after=NOW - timedelta(minutes=1),
                                   issued_at=NOW - timedelta(days=2))),
    ("not_yet_valid", lambda f: f.bundle(5, not_before=NOW + timedelta(days=1))),
    ("wrong_target", lambda f: f.bundle(5, targets=Targets(("kiosk-8",), ("office-south",)))),
    ("malformed_settings", lambda f: f.bundle(5, "[ui\nlanguage = 'en'")),
    ("invalid_settings", lambda f: f.bundle(5, "[ui]\nrotation = 45\n")),
    ("invalid_settings", lambda f: f.bundle(5, "[ui]\nlangauge = 'en'\n")),
    ("invalid_settings", lambda f: f.bundle(5, "[ui]\nrotation = '90'\n")),
    ("forbidden_section", lambda f: f.bundle(5, '[kiosk]\nkiosk_id = "other"\n')),
    ("malformed_bundle", lambda f: b"not a bundle"),
    ("malformed_bundle", lambda f: b'{"format": "something-else/1"}'),
]


@pytest.fixture
def running(fleet: Fleet) -> Fleet:
    """A kiosk running confirmed bundle version 3."""
    apply_bundle(fleet.bundle(3), fleet.paths)
    mark_healthy(fleet.paths, 3)
    assert confirm_or_rollback(fleet.paths).action == "confirmed"
    return fleet


@pytest.mark.parametrize(("reason", "make"), CASES, ids=[f"{i}-{c[0]}" for i, c in
                                                          enumerate(CASES)])
def test_refusal_has_reason_and_leaves_config_untouched(
    running: Fleet, reason: str, make: Callable[[Fleet], bytes]
) -> None:
    raw = make(running)
    before = snapshot(running.paths.state_dir)
    settings_before = load_effective_config(running.paths).settings
    with pytest.raises(BundleRefused) as caught:
        apply_bundle(raw, running.paths)
    assert caught.value.reason == reason
    assert snapshot(running.paths.state_dir) == before
    assert load_effective_config(running.paths).settings == settings_before


def test_a_bundle_for_this_kiosk_or_its_office_is_accepted(running: Fleet) -> None:
    by_office = running.bundle(4, targets=Targets(("kiosk-8",), ("office-north",)))
    assert apply_bundle(by_office, running.paths).version == 4
    by_id = running.bundle(5, targets=Targets(("kiosk-7",), ()))
    assert apply_bundle(by_id, running.paths).version == 5


def test_no_trusted_keys_refuses_everything(fleet: Fleet) -> None:
    for key in fleet.paths.fleet_keys_dir.iterdir():
        key.unlink()
    with pytest.raises(BundleRefused) as caught:
        apply_bundle(fleet.bundle(1), fleet.paths)
    assert caught.value.reason == "no_trusted_keys"
    assert fleet.applied_bytes() is None


def test_signature_is_checked_before_the_payload_is_parsed(fleet: Fleet) -> None:
    envelope = json.loads(fleet.bundle(1))
    envelope["payload"] = base64.b64encode(b"\xff not json at all").decode()
    with pytest.raises(BundleRefused) as caught:
        open_bundle(json.dumps(envelope).encode(), load_trusted_keys(fleet.paths.fleet_keys_dir))
    assert caught.value.reason == "bad_signature"


def test_a_pulled_bundle_signed_long_ago_is_stale(running: Fleet) -> None:
    old = running.bundle(9, issued_at=NOW - timedelta(days=50))
    before = snapshot(running.paths.state_dir)
    with pytest.raises(BundleRefused) as caught:
        apply_bundle(old, running.paths, max_age=timedelta(days=45))
    assert caught.value.reason == "stale"
    assert snapshot(running.paths.state_dir) == before
    assert store.applied(running.paths) is not None
