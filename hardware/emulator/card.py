"""The emulated card: an ATR and the APDU answers of a small card-info file."""

from __future__ import annotations

from dataclasses import dataclass, field

# The emulator's own card-info application (proprietary RID F0, "SITHSCN"): SELECT it by
# AID, then READ BINARY returns the card number as ASCII digits. Real cards need their own
# APDUs in settings.hardware.card_number_apdus (docs/hardware.md).
CARD_INFO_AID = bytes.fromhex("F05349544853434E")

SW_OK = b"\x90\x00"
SW_FILE_NOT_FOUND = b"\x6a\x82"
SW_CONDITIONS_NOT_SATISFIED = b"\x69\x85"
SW_INS_NOT_SUPPORTED = b"\x6d\x00"
SW_WRONG_LENGTH = b"\x67\x00"


@dataclass
class EmulatedCard:
    """A card for the emulator: its ATR, its card number and any extra fixed answers.

    ``answers`` maps a whole command APDU to its whole response (data + status word) and
    wins over the built-in card-info file. ``answer_delay_s`` slows every answer down so a
    test can pull the card while an operation is under way.
    """

    atr: bytes
    card_number: str | None = None
    answers: dict[bytes, bytes] = field(default_factory=dict)
    answer_delay_s: float = 0.0
    _selected: bool = field(default=False, repr=False)

    def reset(self) -> None:
        """Power-on or reset: nothing is selected."""
        self._selected = False

    def respond(self, apdu: bytes) -> bytes:
        """The response APDU (data + SW1 SW2) to one command APDU."""
        if apdu in self.answers:
            return self.answers[apdu]
        if len(apdu) < 4:
            return SW_WRONG_LENGTH
        ins, p1 = apdu[1], apdu[2]
        if ins == 0xA4 and p1 == 0x04:
            length = apdu[4] if len(apdu) > 4 else 0
            aid = apdu[5 : 5 + length]
            self._selected = aid == CARD_INFO_AID and self.card_number is not None
            return SW_OK if self._selected else SW_FILE_NOT_FOUND
        if ins == 0xB0:
            if not self._selected or self.card_number is None:
                return SW_CONDITIONS_NOT_SATISFIED
            return self.card_number.encode("ascii") + SW_OK
        return SW_INS_NOT_SUPPORTED
