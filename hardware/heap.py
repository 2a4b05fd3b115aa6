"""Give freed heap pages back to the system (glibc ``malloc_trim``), where that exists.

glibc keeps memory freed by a finished burst of work (a document scan, a visit's screens)
inside its arenas; ``malloc_trim(0)`` returns every whole free page, so the resident size
reflects what is live. Elsewhere (musl, macOS) it is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time
from functools import cache
from typing import Any

log = logging.getLogger(__name__)


@cache
def _malloc_trim() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_memory() -> bool:
    """Return free heap pages to the system; whether anything was released."""
    trim = _malloc_trim()
    if trim is None:
        return False
    return bool(trim(0))


class HeapTrimmer:
    """Trims the heap on its own thread once a burst of work has been quiet for a moment."""

    def __init__(self, quiet_s: float = 0.5) -> None:
        """``quiet_s``: how long after the last ``poke`` the trim runs."""
        self.quiet_s = quiet_s
        self.trims = 0
        self._poked = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def poke(self) -> None:
        """Work that freed memory has ended (cheap: the trim happens later, elsewhere)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="heap-trim", daemon=True)
                self._thread.start()
        self._poked.set()

    def _run(self) -> None:
        while True:
            self._poked.wait()
            self._poked.clear()
            if self._poked.wait(self.quiet_s):
                continue  # more work came: wait for quiet again
            started = time.perf_counter()
            released = release_free_memory()
            self.trims += 1
            log.debug("heap trimmed in %.1f ms (released: %s)",
                      (time.perf_counter() - started) * 1000, released)
