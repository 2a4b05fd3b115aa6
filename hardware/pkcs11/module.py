"""Loading a PKCS#11 module once per process, with SoftHSM2's config chosen per use.

python-pkcs11 caches one ``lib`` per module path. SoftHSM2 reads SOFTHSM2_CONF when
C_Initialize runs, so switching token directories means setting the variable and
re-initialising. ``reinitialize`` also closes every session: after a failed C_Login,
python-pkcs11 has already opened a session it never closes, and SoftHSM refuses the
next SO login while it lingers.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pkcs11

from hardware.pkcs11.quirks import VendorQuirks, quirks_for
from kiosk.errors import TokenError

SOFTHSM_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
)
OPENSC_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/opensc-pkcs11.so",
)

_modules: dict[str, Pkcs11Module] = {}
_modules_lock = threading.Lock()


def find_softhsm_module() -> str | None:
    """Path of SoftHSM2's PKCS#11 module, if installed."""
    return next((p for p in SOFTHSM_CANDIDATES if os.path.exists(p)), None)


def find_opensc_module() -> str | None:
    """Path of OpenSC's PKCS#11 module, if installed."""
    return next((p for p in OPENSC_CANDIDATES if os.path.exists(p)), None)


class Pkcs11Module:
    """One loaded module; ``lock`` serialises token work (reinitialising ends all sessions)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.softhsm_conf: str | None = None
        try:  # the loader opens what it is given: a FIFO named here hung the kiosk's start
            if not stat.S_ISREG(os.stat(path).st_mode):
                raise TokenError(f"cannot load PKCS#11 module {path}: not a regular file",
                                 module=path)
        except OSError:
            pass  # missing or unreadable: the loader says so, as before
        try:
            self.lib = pkcs11.lib(path)
        except pkcs11.PKCS11Error as exc:
            raise TokenError(f"cannot load PKCS#11 module {path}: {exc}", module=path) from None
        self.quirks: VendorQuirks = quirks_for(self.lib.manufacturer_id)

    @classmethod
    def load(cls, path: str, softhsm_conf: Path | None = None) -> Pkcs11Module:
        """The process-wide module for ``path``, initialised with ``softhsm_conf`` if given."""
        with _modules_lock:
            module = _modules.get(path)
            if module is None:
                if softhsm_conf is not None:
                    os.environ["SOFTHSM2_CONF"] = str(softhsm_conf)
                module = _modules[path] = cls(path)
                module.softhsm_conf = str(softhsm_conf) if softhsm_conf else None
        if softhsm_conf is not None:
            module.use_softhsm_conf(softhsm_conf)
        return module

    def use_softhsm_conf(self, conf: Path) -> None:
        """Point SoftHSM2 at another config (token directory) and re-initialise."""
        with self.lock:
            if self.softhsm_conf == str(conf) and os.environ.get("SOFTHSM2_CONF") == str(conf):
                return
            os.environ["SOFTHSM2_CONF"] = str(conf)
            self.softhsm_conf = str(conf)
            self.reinitialize()

    def reinitialize(self) -> None:
        """C_Finalize + C_Initialize: closes every session, rescans slots."""
        with self.lock:
            try:
                self.lib.reinitialize()
            except pkcs11.PKCS11Error as exc:
                raise TokenError(f"PKCS#11 module would not re-initialise: {exc}") from None
