"""A card emulator speaking the vsmartcard vpcd protocol to pcscd's virtual reader."""

from hardware.emulator.card import CARD_INFO_AID, EmulatedCard
from hardware.emulator.vpcd import VpcdEmulator

__all__ = ["CARD_INFO_AID", "EmulatedCard", "VpcdEmulator"]
