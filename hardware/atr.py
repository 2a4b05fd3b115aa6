"""Card classification from the ATR, by the configurable table in HardwareSettings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kiosk.errors import ConfigError
from kiosk.model import CardClass
from kiosk.settings import AtrEntry


@dataclass(frozen=True)
class AtrClass:
    """What the ATR table says about a card."""

    card_class: CardClass
    generation: str | None = None
    issuer: str | None = None


def _pattern_bytes(pattern: str) -> list[int | None]:
    """Pattern text ("3B 7F .. 90 00", colons or spaces) as bytes, None for a wildcard."""
    compact = "".join(c for c in pattern if c not in " :").upper()
    if len(compact) % 2:
        raise ConfigError(f"ATR pattern {pattern!r} has an odd number of hex digits")
    out: list[int | None] = []
    for i in range(0, len(compact), 2):
        pair = compact[i : i + 2]
        if pair == "..":
            out.append(None)
            continue
        try:
            out.append(int(pair, 16))
        except ValueError:
            raise ConfigError(f"ATR pattern {pattern!r}: {pair!r} is not hex or ..") from None
    return out


def atr_matches(atr: bytes, pattern: str) -> bool:
    """Whether ``atr`` matches ``pattern`` byte for byte (``..`` matches any byte)."""
    wanted = _pattern_bytes(pattern)
    return len(wanted) == len(atr) and all(
        w is None or w == b for w, b in zip(wanted, atr, strict=True)
    )


def classify_atr(atr: bytes, table: Iterable[AtrEntry]) -> AtrClass:
    """The first table row matching ``atr``; unknown when none does."""
    for entry in table:
        if atr_matches(atr, entry.pattern):
            try:
                card_class = CardClass(entry.card_class)
            except ValueError:
                raise ConfigError(
                    f"ATR table: card_class {entry.card_class!r} is not one of "
                    + ", ".join(c.value for c in CardClass)
                ) from None
            return AtrClass(card_class, entry.generation or None, entry.issuer or None)
    return AtrClass(CardClass.UNKNOWN)


def atr_from_pattern(pattern: str, fill: int = 0x00) -> bytes:
    """A concrete ATR for a pattern, wildcards set to ``fill`` (the emulator's cards use it)."""
    return bytes(fill if b is None else b for b in _pattern_bytes(pattern))


def parse_card_number(answer: bytes) -> str | None:
    """The card number in a READ BINARY answer (ASCII digits); None if it holds none."""
    text = answer.rstrip(b"\x00 ").decode("ascii", errors="replace")
    return text if text.isdigit() and 8 <= len(text) <= 20 else None
