"""Accept an MRZ only when its check digits pass and two successive readings agree.

The name has no check digit, so one frame is never enough: a reading counts only when
every character was read with certainty (``confidence`` 1.0 from the reader), every
check digit passes after position-based repair, and the previous counted reading was
the same. Readings that fail are ignored; a different valid reading starts over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from kiosk.errors import InvalidInput
from kiosk.identity.mrz import MrzResult, repair_mrz


@dataclass
class MrzConsensus:
    """Feed it each frame's MRZ reading; it returns the result once it may be trusted."""

    agree: int = 2
    min_confidence: float = 1.0
    on: date | None = None
    offered: int = field(default=0, init=False)
    rejected: int = field(default=0, init=False)
    _streak: list[tuple[str, ...]] = field(default_factory=list, init=False)

    def offer(self, lines: Sequence[str], confidence: float = 1.0) -> MrzResult | None:
        """Count one reading; the MrzResult when ``agree`` successive valid ones match."""
        self.offered += 1
        if confidence < self.min_confidence:
            self.rejected += 1
            return None
        try:
            repair = repair_mrz(lines, self.on)
        except InvalidInput:
            repair = None
        if repair is None:
            self.rejected += 1
            return None
        if self._streak and self._streak[-1] != repair.lines:
            self._streak.clear()
        self._streak.append(repair.lines)
        if len(self._streak) >= self.agree:
            return repair.result
        return None

    def reset(self) -> None:
        """Forget the readings so far (a new document is shown)."""
        self._streak.clear()
