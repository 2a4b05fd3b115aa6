"""The PC/SC reader adapter (pyscard's low-level smartcard.scard API)."""

from hardware.pcsc.reader import PcscReader

__all__ = ["PcscReader"]
