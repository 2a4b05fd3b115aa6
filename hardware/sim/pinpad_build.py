"""Build the simulated PIN-pad PKCS#11 shim (pinpad_pkcs11.c) on demand, cached by source hash.

``shim_module()`` compiles with ``cc -shared -fPIC`` once per source version;
``private_module_copy()`` gives the shim its own copy of the real module, so the module
instance behind the shim is not the one the same process may have loaded directly
(SoftHSM2 is one instance per loaded file: two users would share C_Initialize/C_Finalize).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from kiosk.errors import TokenError

SOURCE = Path(__file__).with_name("pinpad_pkcs11.c")
INCLUDE = "/usr/include/p11-kit-1"
CFLAGS = ("-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-fvisibility=hidden", f"-I{INCLUDE}")
LIBS = ("-ldl", "-lpthread")
MODULE_ENV = "KIOSK_PINPAD_MODULE"
SOCKET_ENV = "KIOSK_PINPAD_SOCKET"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/kiosk/pinpad`` (or ``~/.cache/kiosk/pinpad``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kiosk" / "pinpad"


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def shim_module(cache_dir: Path | None = None) -> Path:
    """The compiled shim for the current source; TokenError if cc or the header is missing."""
    cache = cache_dir or default_cache_dir()
    source = SOURCE.read_bytes()
    key = _digest(source, " ".join(CFLAGS + LIBS).encode())
    target = cache / f"pinpad_pkcs11-{key}.so"
    if target.exists():
        return target
    compiler = shutil.which("cc")
    if compiler is None:
        raise TokenError("cannot build the PIN-pad shim: no C compiler (cc); install gcc")
    if not Path(INCLUDE, "p11-kit", "pkcs11.h").exists():
        raise TokenError("cannot build the PIN-pad shim: install libp11-kit-dev (pkcs11.h)")
    cache.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    result = subprocess.run(  # noqa: S603 -- fixed compiler and arguments, no shell
        [compiler, *CFLAGS, "-o", str(partial), str(SOURCE), *LIBS],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise TokenError(f"the PIN-pad shim did not compile: {result.stderr.strip()[:2000]}")
    partial.replace(target)  # atomic: a parallel build of the same source wins either way
    return target


def private_module_copy(module: str | Path, cache_dir: Path | None = None) -> Path:
    """A copy of ``module`` under the cache, named by its content hash (loaded as its own)."""
    cache = cache_dir or default_cache_dir()
    data = Path(module).read_bytes()
    target = cache / f"real-{_digest(data)}-{Path(module).name}"
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        partial.write_bytes(data)
        partial.chmod(0o755)
        partial.replace(target)
    return target
