"""Fleet-key rotation through bundles: add a new key, move to it, revoke the old one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.errors import BundleRefused
from kiosk.fleet.apply import apply_bundle, confirm_or_rollback, trusted_keys
from kiosk.fleet.bundle import BundlePayload, sign_bundle
from kiosk.fleet.health_marker import mark_healthy
from kiosk.fleet.keys import key_id, public_pem

from .conftest import GOOD_SETTINGS, Fleet


def signed(version: int, key: Ed25519PrivateKey, add: tuple[str, ...] = (),
           revoke: tuple[str, ...] = ()) -> bytes:
    """A bundle with a trust section."""
    now = datetime.now(UTC)
    payload = BundlePayload(version=version, issued_at=now, not_after=now + timedelta(days=9),
                            settings_toml=GOOD_SETTINGS, trust_add=add, trust_revoke=revoke)
    return sign_bundle(payload, key)


def test_rotate_to_a_new_key_and_revoke_the_old(fleet: Fleet) -> None:
    new = Ed25519PrivateKey.generate()
    new_pem = public_pem(new.public_key()).decode()
    new_id = key_id(new.public_key())

    with pytest.raises(BundleRefused) as caught:
        apply_bundle(signed(1, new), fleet.paths)
    assert caught.value.reason == "unknown_key_id"

    apply_bundle(signed(1, fleet.key, add=(new_pem,)), fleet.paths)
    assert set(trusted_keys(fleet.paths)) == {fleet.key_id, new_id}
    mark_healthy(fleet.paths, 1)
    assert confirm_or_rollback(fleet.paths).action == "confirmed"

    apply_bundle(signed(2, new, add=(new_pem,), revoke=(fleet.key_id,)), fleet.paths)
    assert set(trusted_keys(fleet.paths)) == {new_id}
    with pytest.raises(BundleRefused) as caught:
        apply_bundle(signed(3, fleet.key, add=(new_pem,)), fleet.paths)
    assert caught.value.reason == "unknown_key_id"

    # The rotation bundle is rolled back with its settings: the old trust comes back.
    outcome = confirm_or_rollback(fleet.paths, now=datetime.now(UTC) + timedelta(days=1))
    assert outcome.action == "rolled_back"
    assert set(trusted_keys(fleet.paths)) == {fleet.key_id, new_id}


def test_a_bundle_may_not_revoke_every_key(fleet: Fleet) -> None:
    with pytest.raises(BundleRefused) as caught:
        apply_bundle(signed(1, fleet.key, revoke=(fleet.key_id,)), fleet.paths)
    assert caught.value.reason == "locks_out"
    assert fleet.applied_bytes() is None
