"""The demo's slow-to-make material (CA, cast keys, fresh SoftHSM2 tokens), made once and kept.

Generating the demo CA and the cast's RSA keys and importing them into SoftHSM2 took ~2.5 s
of every `kiosk --demo` and `kioskctl demo visit` start. They are made once into a cache
directory and copied into each run's state directory (a copy, so a visit that changes a
card's PIN never changes the next run's cast). Stale material is made again: a CA that
expires within a year, a card whose owner changed, tokens of other certificates.
Runs that start together (the tour's walks, a test run's workers) take turns (``taking``):
the first makes the material, the others copy it.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

MATERIAL_ENV = "KIOSK_DEMO_MATERIAL_DIR"


def demo_material_dir() -> Path | None:
    """Where demo material is kept: KIOSK_DEMO_MATERIAL_DIR, else the user's cache dir.

    ``KIOSK_DEMO_MATERIAL_DIR=""`` turns the cache off (every run makes its own).
    """
    configured = os.environ.get(MATERIAL_ENV)
    if configured is not None:
        return Path(configured) if configured else None
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "siths-kiosk" / "demo-material"


def fingerprint(parts: Iterable[str]) -> str:
    """A short hash naming one version of some material."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def restore(cached: Path, target: Path) -> bool:
    """Copy ``cached`` to ``target`` when the target is missing and the cache has it."""
    if target.exists() or not cached.is_dir():
        return False
    try:
        shutil.copytree(cached, target)
    except OSError as exc:  # a broken cache costs only the time to make it again
        log.warning("demo material %s not reused: %s", cached, exc)
        shutil.rmtree(target, ignore_errors=True)
        return False
    return True


def keep(source: Path, cached: Path) -> None:
    """Store a copy of ``source`` as ``cached`` (atomically: a half-written copy never counts)."""
    if cached.exists() or not source.is_dir():
        return
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=cached.parent))
        shutil.copytree(source, staging, dirs_exist_ok=True)
        staging.chmod(0o700)
        staging.rename(cached)
    except OSError as exc:  # another run stored it first, or the cache is read-only
        log.debug("demo material %s not kept: %s", cached, exc)
        if "staging" in locals():
            shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def taking(material_dir: Path | None) -> Iterator[None]:
    """Held while a run copies or makes its demo material from ``material_dir``.

    Runs starting together on an empty cache each made all of it (~1.7 s of CPU apiece: a
    cold test run's first crash test took 15 s instead of 2.4 s); in turn, the first makes
    and keeps it and the others copy it. The lock goes with the process if it dies. Without
    a writable cache there is nothing to share, and each run makes its own; on a filesystem
    without locks (flock fails) each run goes on without its turn, with a warning.
    """
    if material_dir is None:
        yield
        return
    try:
        material_dir.mkdir(parents=True, exist_ok=True)
        lock = os.open(material_dir / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        log.debug("demo material %s not locked: %s", material_dir, exc)
        yield
        return
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
        except OSError as exc:  # a filesystem without locks (NFS without lockd: ENOLCK)
            # without turns each run makes or copies on its own: the cache is written whole
            # (keep: staged, then renamed) and a copy found damaged is made again, so this
            # costs time, not material
            log.warning("demo material %s not locked (%s): runs starting together may each "
                        "make it", material_dir, os.strerror(exc.errno or 0) or exc)
        yield
    finally:
        os.close(lock)  # releases the lock
