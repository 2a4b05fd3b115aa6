"""hardware.heap: freed heap pages go back to the system, on demand and after a burst."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hardware.heap import HeapTrimmer, release_free_memory


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def free_heap_below_a_live_block(mb: int) -> bytearray:
    """Free ``mb`` MB of small heap blocks that glibc cannot give back by itself."""
    blocks = [bytearray(b"x" * 65536) for _ in range(mb * 16)]  # under the mmap threshold
    keeper = bytearray(b"k" * 65536)  # stays live above them: the heap top cannot shrink
    del blocks
    return keeper


def test_release_gives_freed_pages_back() -> None:
    if not _has_malloc_trim():
        pytest.skip("not glibc: malloc_trim does not exist here")
    keeper = free_heap_below_a_live_block(48)
    before = rss_mb()
    assert release_free_memory() is True
    after = rss_mb()
    assert before - after > 24, f"RSS {before:.0f} -> {after:.0f} MB"
    assert keeper[0] == ord("k")


def test_a_poke_trims_once_the_work_is_quiet() -> None:
    if not _has_malloc_trim():
        pytest.skip("not glibc: malloc_trim does not exist here")
    trimmer = HeapTrimmer(quiet_s=0.05)
    keeper = free_heap_below_a_live_block(48)
    before = rss_mb()
    trimmer.poke()
    deadline = time.monotonic() + 30
    while trimmer.trims == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert trimmer.trims >= 1
    assert before - rss_mb() > 24
    assert keeper[0] == ord("k")


def _has_malloc_trim() -> bool:
    from hardware.heap import _malloc_trim

    return _malloc_trim() is not None
