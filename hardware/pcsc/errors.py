"""PC/SC return codes translated into the kiosk's error hierarchy."""

from __future__ import annotations

from smartcard import scard

from kiosk.errors import CardError, CardRemoved, CardUnreadable, ReaderUnavailable

# pcscd is gone or restarted: the context must be established again.
SERVICE_GONE: frozenset[int] = frozenset(
    {
        scard.SCARD_E_NO_SERVICE,
        scard.SCARD_E_SERVICE_STOPPED,
        scard.SCARD_E_INVALID_HANDLE,
        scard.SCARD_F_COMM_ERROR,
    }
)
READER_GONE: frozenset[int] = frozenset(
    {
        scard.SCARD_E_NO_READERS_AVAILABLE,
        scard.SCARD_E_READER_UNAVAILABLE,
        scard.SCARD_E_UNKNOWN_READER,
    }
)
CARD_GONE: frozenset[int] = frozenset(
    {
        scard.SCARD_W_REMOVED_CARD,
        scard.SCARD_E_NO_SMARTCARD,
        scard.SCARD_W_RESET_CARD,
    }
)


def describe(hresult: int) -> str:
    """PC/SC's own text for a return code (for logs and error details)."""
    text: str = scard.SCardGetErrorMessage(hresult)
    return f"{text} (0x{hresult & 0xFFFFFFFF:08X})"


def pcsc_error(hresult: int, action: str) -> CardError:
    """The kiosk error for a failed PC/SC call made while doing ``action``."""
    detail = f"{action}: {describe(hresult)}"
    if hresult in SERVICE_GONE or hresult in READER_GONE:
        return ReaderUnavailable(detail, hresult=hresult)
    if hresult in CARD_GONE:
        return CardRemoved(detail, hresult=hresult)
    return CardUnreadable(detail, hresult=hresult)
