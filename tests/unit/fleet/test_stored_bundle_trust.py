"""D2: a bundle in the state directory is verified every time it is read, and the trust
anchors (fleet keys) count only from files the kiosk's own user cannot have written."""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.errors import BundleRefused, ConfigError
from kiosk.fleet import store
from kiosk.fleet.apply import apply_bundle, trusted_keys
from kiosk.fleet.bundle import BundlePayload, sign_bundle
from kiosk.fleet.effective import load_effective_config
from kiosk.fleet.keys import public_pem

from .conftest import GOOD_SETTINGS, Fleet

PLANTED = '[portal]\nurl = "https://evil.example:8443"\n'


def signed(version: int, key: Ed25519PrivateKey, settings: str = GOOD_SETTINGS,
           add: tuple[str, ...] = ()) -> bytes:
    now = datetime.now(UTC)
    payload = BundlePayload(version=version, issued_at=now, not_after=now + timedelta(days=9),
                            settings_toml=settings, trust_add=add)
    return sign_bundle(payload, key)


def plant(fleet: Fleet, raw: bytes, name: str = store.APPLIED) -> None:
    fleet.paths.bundle_dir.mkdir(parents=True, exist_ok=True)
    (fleet.paths.bundle_dir / name).write_bytes(raw)


def test_a_planted_bundle_that_trusts_its_own_key_is_refused(fleet: Fleet) -> None:
    """The old kiosk trusted it: its portal.url took effect and its key signed what came next."""
    attacker = Ed25519PrivateKey.generate()
    own = public_pem(attacker.public_key()).decode()
    plant(fleet, signed(50, attacker, PLANTED, add=(own,)))
    with pytest.raises(ConfigError) as caught:
        load_effective_config(fleet.paths)
    assert "applied.bundle" in caught.value.detail
    assert "does not verify" in caught.value.detail
    with pytest.raises(ConfigError):
        trusted_keys(fleet.paths)
    with pytest.raises(ConfigError):
        apply_bundle(signed(51, attacker, PLANTED, add=(own,)), fleet.paths)


@pytest.mark.parametrize("name", [store.APPLIED, store.LAST_KNOWN_GOOD])
def test_an_unsigned_or_tampered_stored_bundle_is_refused(fleet: Fleet, name: str) -> None:
    genuine = signed(3, fleet.key)
    tampered = genuine.replace(b'"signature": "', b'"signature": "AAAA', 1)
    for raw in (tampered, b'{"format": "kiosk-bundle/1", "payload": "e30="}', b"{}"):
        plant(fleet, raw, name)
        with pytest.raises(ConfigError):
            store.applied(fleet.paths) if name == store.APPLIED else store.last_known_good(
                fleet.paths
            )


def test_a_genuine_bundle_still_loads_and_a_rotated_key_through_its_voucher(
    fleet: Fleet,
) -> None:
    new = Ed25519PrivateKey.generate()
    new_pem = public_pem(new.public_key()).decode()
    apply_bundle(signed(1, fleet.key, add=(new_pem,)), fleet.paths)
    apply_bundle(signed(2, new, '[ui]\nlanguage = "sv"\n', add=(new_pem,)), fleet.paths)
    assert load_effective_config(fleet.paths).bundle_version == 2
    # The voucher (bundle 1) is what lets bundle 2's key count; forging it breaks the chain.
    [voucher] = list((fleet.paths.bundle_dir / store.VOUCHERS).glob("*.json"))
    voucher.write_text('{"bundles": []}')
    with pytest.raises(ConfigError, match="does not verify"):
        load_effective_config(fleet.paths)


def test_fleet_keys_the_kiosk_user_could_write_are_not_trust_anchors(fleet: Fleet) -> None:
    apply_bundle(signed(1, fleet.key), fleet.paths)
    assert load_effective_config(fleet.paths).bundle_version == 1
    [key_file] = list(fleet.paths.fleet_keys_dir.glob("*.pub"))
    key_file.chmod(0o666)
    with pytest.raises(ConfigError, match="trust anchor"):
        load_effective_config(fleet.paths)
    key_file.chmod(0o644)
    fleet.paths.fleet_keys_dir.chmod(0o777)
    with pytest.raises(ConfigError, match="trust anchor"):
        trusted_keys(fleet.paths)
    fleet.paths.fleet_keys_dir.chmod(0o755)
    someone_else = dataclasses.replace(fleet.paths, trust_owners=(os.geteuid() + 4242,))
    with pytest.raises(ConfigError, match="belong to root"):
        load_effective_config(someone_else)
    with pytest.raises(ConfigError):
        apply_bundle(signed(2, fleet.key), someone_else)
    assert load_effective_config(fleet.paths).bundle_version == 1


def test_a_planted_bundle_is_not_a_voucher_for_a_later_one(fleet: Fleet) -> None:
    attacker = Ed25519PrivateKey.generate()
    own = public_pem(attacker.public_key()).decode()
    apply_bundle(signed(1, fleet.key), fleet.paths)
    plant(fleet, signed(2, attacker, PLANTED, add=(own,)))
    with pytest.raises((ConfigError, BundleRefused)):
        apply_bundle(signed(3, attacker, PLANTED, add=(own,)), fleet.paths)
