"""Crash-safe file replacement (write temp, fsync, rename, fsync dir) with a crash hook for tests.

KIOSK_FLEET_CRASH_AT=<step> makes the process SIGKILL itself when it reaches that named
step, so tests can prove that a power loss at any step leaves the old or the new file.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

CRASH_ENV = "KIOSK_FLEET_CRASH_AT"


def crash_point(step: str) -> None:
    """Die at once, like a power cut, if the crash hook names this step."""
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink inside ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _owned_like_parent(path: Path, fd: int | None = None) -> None:
    # root running kioskctl must not leave files the kiosk user can no longer replace;
    # never through a link the kiosk user may have put in the new file's place meanwhile
    if os.geteuid() == 0:
        parent = path.parent.stat()
        if fd is not None:
            os.fchown(fd, parent.st_uid, parent.st_gid)
        else:
            os.chown(path, parent.st_uid, parent.st_gid, follow_symlinks=False)


def ensure_dir(directory: Path) -> None:
    """Create ``directory`` (and parents) owned like its parent when run as root."""
    missing = []
    probe = directory
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        _owned_like_parent(folder)


def write_temp(target: Path, data: bytes, mode: int = 0o644) -> Path:
    """Write ``data`` to a durable temp file beside ``target``; returns the temp path.

    The temp file is new (an unguessable name, O_EXCL, O_NOFOLLOW): the state directory
    belongs to the kiosk user, and with a fixed name a link planted there made root's
    `kioskctl config apply` write the bundle through it into any file (/etc/shadow)."""
    ensure_dir(target.parent)
    # os.urandom, not secrets: its import (hmac, hashlib) is 3.8 ms on the way to the first frame
    temp = target.with_name(f".{target.name}.{os.urandom(8).hex()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 mode)
    _owned_like_parent(temp, fd)
    try:
        with os.fdopen(fd, "wb", closefd=False) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        os.close(fd)
    return temp


def atomic_write(target: Path, data: bytes, mode: int = 0o644, step: str = "") -> None:
    """Replace ``target`` with ``data`` so a crash leaves the old or the new bytes."""
    temp = write_temp(target, data, mode)
    if step:
        crash_point(f"{step}:temp_written")
    os.replace(temp, target)
    if step:
        crash_point(f"{step}:renamed")
    fsync_dir(target.parent)


def remove_durably(target: Path) -> None:
    """Delete ``target`` if present and make the deletion durable."""
    with contextlib.suppress(FileNotFoundError):
        target.unlink()
        fsync_dir(target.parent)
