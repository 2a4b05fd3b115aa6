"""The kiosk's Ed25519 device key: signs audit entries and outbox exports.

The private key lives in the state directory as a PEM file readable only by the kiosk
user (0600). It also derives the keyed hash that stands in for a personnummer at rest,
so that no extra secret file is needed and a stolen database alone cannot be reversed
by trying every personnummer.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from kiosk.errors import StorageError

KEY_FILE = "device_key.pem"
PUBLIC_FILE = "device_key.pub"
MAX_KEY_FILE_BYTES = 64 * 1024
"""A key file an operator names is at most this (an Ed25519 PEM is ~120 bytes)."""


def canonical_json(value: Any) -> bytes:
    """Canonical JSON bytes (sorted keys, no spaces, UTF-8) for hashing and signing."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def public_key_text(key: Ed25519PublicKey) -> str:
    """A public key as base64 of its 32 raw bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def read_key_file(path: Path, limit: int = MAX_KEY_FILE_BYTES) -> bytes:
    """A key (or other small) file's bytes; OSError for anything but a regular file of at
    most ``limit`` bytes: a FIFO named as a key file hung the command for good, /dev/zero
    was read until memory ran out."""
    from kiosk.config_files import read_limited

    raw = read_limited(path, limit)
    if len(raw) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit} bytes", str(path))
    return raw


def load_public_key(text: str) -> Ed25519PublicKey:
    """A public key from base64 of its 32 raw bytes."""
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except ValueError as exc:
        raise StorageError(f"not an Ed25519 public key: {exc}") from exc


def fingerprint(key: Ed25519PublicKey) -> str:
    """A short, readable fingerprint of a public key (SHA-256, first 16 hex digits)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def verify_signature(key: Ed25519PublicKey, signature_b64: str, message: bytes) -> bool:
    """Whether ``signature_b64`` is ``key``'s signature of ``message``."""
    try:
        key.verify(base64.b64decode(signature_b64, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class DeviceKey:
    """The kiosk's signing key and the pseudonym key derived from it."""

    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        """The public half, for verifiers."""
        return self.private.public_key()

    def sign(self, message: bytes) -> str:
        """Base64 Ed25519 signature of ``message``."""
        return base64.b64encode(self.private.sign(message)).decode("ascii")

    def pseudonym(self, value: str) -> str:
        """A keyed hash of personal data (e.g. a personnummer), stable for this kiosk."""
        raw = self.private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        secret = hashlib.sha256(b"siths-kiosk pseudonym v1\x00" + raw).digest()
        return hmac.new(secret, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def load_or_create(state_dir: Path) -> DeviceKey:
    """The device key under ``state_dir``, created (0600) on first use."""
    path = state_dir / KEY_FILE
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        if path.exists():
            return _load(path)
        return _create(path, state_dir / PUBLIC_FILE)
    except OSError as exc:
        raise StorageError(f"device key {path}: {exc}", path=str(path)) from exc


def load_existing(state_dir: Path) -> DeviceKey:
    """The device key under ``state_dir``; StorageError when there is none. For checking
    what the key signed: a new key would call every entry forged."""
    path = state_dir / KEY_FILE
    if not path.is_file():
        raise StorageError(
            f"device key {path} is missing: the audit log cannot be verified without the key "
            "that signed it (restore it, or verify with --key and the kiosk's public key)",
            path=str(path),
        )
    try:
        return _load(path)
    except OSError as exc:
        raise StorageError(f"device key {path}: {exc}", path=str(path)) from exc


def _load(path: Path) -> DeviceKey:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise StorageError(
            f"device key {path} is readable by others (mode {mode:o}); chmod 600 it",
            path=str(path),
        )
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise StorageError(f"device key {path} is not an Ed25519 key", path=str(path))
    return DeviceKey(key)


def _create(path: Path, public_path: Path) -> DeviceKey:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = path.with_name(f"{path.name}.{os.urandom(8).hex()}.tmp")
    # a new file only: a link planted under a guessable name would take the key elsewhere
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if a concurrent process created the key first
    except FileExistsError:
        tmp.unlink()
        return _load(path)
    tmp.unlink()
    public_path.write_text(public_key_text(key.public_key()) + "\n", encoding="ascii")
    _fsync_dir(path.parent)
    return DeviceKey(key)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
