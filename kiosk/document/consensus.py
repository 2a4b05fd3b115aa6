"""Accept an MRZ only when its check digits pass and two successive readings agree.

The name, the issuing state and the sex have no check digit, and a check digit does
not notice every letter/digit swap (S=28 and 8 weigh alike), so one frame is never
enough and doubt is tolerated only where it is harmless: a reading counts only when
every check digit passes after position-based repair and the reader was unsure of at
most one cell, a digit that a check digit guards. Two successive counted readings must
then be equal. Readings that fail are ignored; a different valid reading starts over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache

from kiosk.errors import InvalidInput
from kiosk.identity.mrz import (
    MrzFormat,
    MrzResult,
    build_mrz,
    parse_mrz,
    position_kinds,
    repair_mrz,
)

_PROBE_DATES = (date(1980, 1, 1), date(2030, 1, 1))


def _probe(mrz_format: MrzFormat) -> tuple[str, ...]:
    optional = {"TD1": ("1234567890", "12345678901"), "TD2": ("1234567",),
                "TD3": ("12345678901",)}[mrz_format]
    return build_mrz(mrz_format, document_number="AB1234567", issuing_state="UTO",
                     birth_date=_PROBE_DATES[0],
                     expiry_date=_PROBE_DATES[1], surname="X", given_names="Y",
                     optional_data=optional)


@cache
def checked_positions(mrz_format: MrzFormat) -> frozenset[tuple[int, int]]:
    """The (line, column) cells a check digit guards: changing one fails a check."""
    lines = _probe(mrz_format)
    guarded = set()
    for row, line in enumerate(lines):
        for col, char in enumerate(line):
            changed = list(lines)
            changed[row] = line[:col] + _next(char) + line[col + 1 :]
            try:
                if not parse_mrz(changed, _PROBE_DATES[1]).valid:
                    guarded.add((row, col))
            except InvalidInput:
                continue  # not a check digit's doing: count the cell as unguarded
    return frozenset(guarded)


def _next(char: str) -> str:
    """A character whose check-digit value is one more (so every weight notices)."""
    if char == "<":
        return "1"
    if char.isdigit():
        return str((int(char) + 1) % 10)
    return chr(ord(char) + 1) if char != "Z" else "A"


@dataclass
class MrzConsensus:
    """Feed it each frame's MRZ reading; it returns the result once it may be trusted."""

    agree: int = 2
    on: date | None = None
    offered: int = field(default=0, init=False)
    rejected: int = field(default=0, init=False)
    _streak: list[tuple[str, ...]] = field(default_factory=list, init=False)

    def offer(
        self, lines: Sequence[str], uncertain: Sequence[tuple[int, int]] = ()
    ) -> MrzResult | None:
        """Count one reading; the MrzResult when ``agree`` successive valid ones match."""
        self.offered += 1
        try:
            repair = repair_mrz(lines, self.on)
        except InvalidInput:
            repair = None
        if repair is None or not self._doubts_are_safe(repair.result.format, uncertain):
            self.rejected += 1
            return None
        if self._streak and self._streak[-1] != repair.lines:
            self._streak.clear()
        self._streak.append(repair.lines)
        if len(self._streak) >= self.agree:
            return repair.result
        return None

    @staticmethod
    def _doubts_are_safe(mrz_format: MrzFormat, uncertain: Sequence[tuple[int, int]]) -> bool:
        """At most one doubtful cell, and only a digit that a check digit guards.

        One wrong digit always changes a check digit (weights 7, 3, 1 against a
        difference of 1-9); a doubtful letter, or two doubts, might not.
        """
        if not uncertain:
            return True
        if len(uncertain) > 1:
            return False
        cell = tuple(uncertain[0])
        row, col = cell
        return (cell in checked_positions(mrz_format)
                and position_kinds(mrz_format)[row][col] == "numeric")

    def reset(self) -> None:
        """Forget the readings so far (a new document is shown)."""
        self._streak.clear()
