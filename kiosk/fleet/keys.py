"""Ed25519 fleet keys: generation, key ids, and the trusted-key directory.

A key id is the first 32 hex digits of SHA-256 over the raw 32-byte public key, so it is
derived from the key itself and never trusted from a file name.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk.devicekey import read_key_file
from kiosk.errors import ConfigError


def key_id(public_key: Ed25519PublicKey) -> str:
    """The key id: SHA-256 of the raw public key, first 32 hex digits."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    """The public key as PEM SubjectPublicKeyInfo."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_key(data: bytes, source: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; ConfigError naming ``source`` otherwise."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"{source}: not a PEM public key ({exc})", path=source) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{source}: not an Ed25519 public key", path=source)
    return key


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An Ed25519 private key from an unencrypted PKCS#8 PEM file."""
    try:
        key = serialization.load_pem_private_key(read_key_file(path), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"{path}: cannot read the signing key ({exc})", path=str(path)) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: not an Ed25519 private key", path=str(path))
    return key


@dataclass(frozen=True)
class GeneratedKey:
    """Where a newly generated key pair was written."""

    key_id: str
    private_path: Path
    public_path: Path


def generate_key_pair(out_dir: Path) -> GeneratedKey:
    """Write a new Ed25519 pair as <key id>.key (0600) and <key id>.pub into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    kid = key_id(private.public_key())
    private_path = out_dir / f"{kid}.key"
    public_path = out_dir / f"{kid}.pub"
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public_path.write_bytes(public_pem(private.public_key()))
    return GeneratedKey(kid, private_path, public_path)


def check_anchor_owner(path: Path, owners: tuple[int, ...]) -> None:
    """Refuse a trust anchor (or its directory) that someone other than ``owners`` owns or
    that group or others may write: the kiosk's own user must not be able to plant a key."""
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}", path=str(path)) from exc
    if info.st_uid not in owners or info.st_mode & 0o022:
        raise ConfigError(
            f"{path}: a trust anchor must belong to root and be writable by it alone "
            f"(owner uid {info.st_uid}, mode {stat.filemode(info.st_mode)})",
            path=str(path),
        )


def load_trusted_keys(
    directory: Path, owners: tuple[int, ...] | None = None
) -> dict[str, Ed25519PublicKey]:
    """Every *.pub in ``directory`` by its computed key id; empty if the directory is absent.

    With ``owners`` (the kiosk's own trust anchors) the directory and every key file must
    belong to one of them and be writable by nobody else (ConfigError otherwise).
    """
    keys: dict[str, Ed25519PublicKey] = {}
    if not directory.is_dir():
        return keys
    if owners is not None:
        check_anchor_owner(directory, owners)
    for path in sorted(directory.glob("*.pub")):
        if owners is not None:
            check_anchor_owner(path, owners)
        key = load_public_key(read_key_file(path), str(path))
        keys[key_id(key)] = key
    return keys
