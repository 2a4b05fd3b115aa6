"""PcscReader: presence events, card identity and PIN-pad detection through pcscd.

Waiting uses SCardGetStatusChange on its own context (pcsc-lite serialises calls per
context, so card operations use a second one) and stops promptly through SCardCancel.
When pcscd stops or restarts, both contexts are dropped and established again on the
next call; readers that disappear are reported as READER_LOST, new ones as READER_FOUND.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from smartcard import scard

from hardware.atr import classify_atr, parse_card_number
from hardware.pcsc.errors import CARD_GONE, READER_GONE, SERVICE_GONE, describe, pcsc_error
from kiosk.errors import CardRemoved, CardUnreadable, KioskError, ReaderUnavailable
from kiosk.model import CardIdentity
from kiosk.ports import CardEvent, CardEventKind
from kiosk.settings import AtrEntry, HardwareSettings

log = logging.getLogger(__name__)

PNP_READER = "\\\\?PnP?\\Notification"
CM_IOCTL_GET_FEATURE_REQUEST = scard.SCARD_CTL_CODE(3400)
# PC/SC part 10 feature tags that mean the reader takes the PIN on its own keypad.
PIN_PAD_FEATURES = frozenset({0x01, 0x06})  # FEATURE_VERIFY_PIN_START, _VERIFY_PIN_DIRECT
MAX_WAIT_SLICE_S = 1.0


def pin_pad_features(tlv: bytes) -> dict[int, int]:
    """The PC/SC part 10 feature TLV list as {tag: control code}; malformed tail ignored."""
    features: dict[int, int] = {}
    i = 0
    while i + 2 <= len(tlv):
        tag, length = tlv[i], tlv[i + 1]
        value = tlv[i + 2 : i + 2 + length]
        if len(value) < length:
            break
        if length == 4:
            features[tag] = int.from_bytes(value, "big")
        i += 2 + length
    return features


class _Context:
    """One PC/SC context, established on demand and dropped when pcscd goes away."""

    def __init__(self) -> None:
        self.handle: Any = None

    def get(self) -> Any:
        if self.handle is None:
            hresult, handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if hresult != scard.SCARD_S_SUCCESS:
                raise ReaderUnavailable(
                    f"pcscd is not running: {describe(hresult)}", hresult=hresult
                )
            self.handle = handle
        return self.handle

    def drop(self) -> None:
        handle, self.handle = self.handle, None
        if handle is not None:
            scard.SCardReleaseContext(handle)


class PcscReader:
    """CardReader on pcscd through pyscard's smartcard.scard."""

    def __init__(
        self,
        reader_name: str = "",
        atr_table: Iterable[AtrEntry] = (),
        card_number_apdus: Sequence[str] = (),
        retry_s: float = 0.2,
    ) -> None:
        self.reader_name = reader_name
        self.atr_table = tuple(atr_table)
        self.card_number_apdus = tuple(bytes.fromhex(a.replace(" ", "")) for a in card_number_apdus)
        self._retry_s = retry_s
        self._wait_ctx = _Context()
        self._op_ctx = _Context()
        self._op_lock = threading.Lock()
        self._cancelled = threading.Event()
        self._states: dict[str, int] = {}
        self._pnp_state = scard.SCARD_STATE_UNAWARE
        self._pending: deque[CardEvent] = deque()

    @classmethod
    def from_settings(cls, hardware: HardwareSettings) -> PcscReader:
        """A reader configured by settings.hardware."""
        return cls(hardware.reader_name, hardware.atr_table, hardware.card_number_apdus)

    # --- listing --------------------------------------------------------------------

    def readers(self) -> list[str]:
        """Names of the matching readers connected now (ReaderUnavailable without pcscd)."""
        with self._op_lock:
            return self._list(self._op_ctx)

    def _list(self, context: _Context) -> list[str]:
        for attempt in (1, 2):
            hresult, names = scard.SCardListReaders(context.get(), [])
            if hresult == scard.SCARD_S_SUCCESS:
                return [n for n in names if self.reader_name in n]
            if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
                return []
            context.drop()
            if hresult not in SERVICE_GONE or attempt == 2:
                raise pcsc_error(hresult, "list readers")
        return []

    # --- presence events ------------------------------------------------------------

    def wait_for_change(self, timeout: float) -> CardEvent | None:
        """The next presence change within ``timeout`` seconds; None on timeout or cancel."""
        deadline = time.monotonic() + timeout
        while True:
            if self._pending:
                return self._pending.popleft()
            if self._cancelled.is_set():
                self._cancelled.clear()
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                self._poll(min(remaining, MAX_WAIT_SLICE_S))
            except ReaderUnavailable as exc:
                log.debug("waiting for pcscd: %s", exc.detail)
                self._wait_ctx.drop()
                self._forget_all_readers()
                if not self._pending:
                    self._cancelled.wait(min(remaining, self._retry_s))

    def cancel(self) -> None:
        """Make a pending wait_for_change return None promptly (from any thread)."""
        self._cancelled.set()
        handle = self._wait_ctx.handle
        if handle is not None:
            scard.SCardCancel(handle)

    def _forget_all_readers(self) -> None:
        for name in list(self._states):
            self._forget_reader(name)
        self._pnp_state = scard.SCARD_STATE_UNAWARE

    def _forget_reader(self, name: str) -> None:
        state = self._states.pop(name)
        if state & scard.SCARD_STATE_PRESENT:
            self._pending.append(CardEvent(CardEventKind.REMOVED, name))
        self._pending.append(CardEvent(CardEventKind.READER_LOST, name))

    def _sync_readers(self) -> None:
        names = self._list(self._wait_ctx)
        for gone in [n for n in self._states if n not in names]:
            self._forget_reader(gone)
        for name in names:
            if name not in self._states:
                self._states[name] = scard.SCARD_STATE_UNAWARE
                self._pending.append(CardEvent(CardEventKind.READER_FOUND, name))

    def _poll(self, seconds: float) -> None:
        self._sync_readers()
        if self._pending:
            return
        states = [(name, state) for name, state in self._states.items()]
        states.append((PNP_READER, self._pnp_state))
        hresult, changes = scard.SCardGetStatusChange(
            self._wait_ctx.get(), max(1, int(seconds * 1000)), states
        )
        if hresult in (scard.SCARD_E_TIMEOUT, scard.SCARD_E_CANCELLED):
            return
        if hresult in SERVICE_GONE:
            raise pcsc_error(hresult, "wait for card")
        if hresult in READER_GONE:
            return  # the next slice lists the readers again
        if hresult != scard.SCARD_S_SUCCESS:
            raise pcsc_error(hresult, "wait for card")
        for name, event_state, atr in changes:
            if name == PNP_READER:
                self._pnp_state = event_state & ~scard.SCARD_STATE_CHANGED
            elif name in self._states:
                self._note_state(name, event_state, bytes(atr))

    def _note_state(self, name: str, new: int, atr: bytes) -> None:
        old = self._states[name]
        if new & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_IGNORE):
            self._forget_reader(name)
            return
        self._states[name] = new & ~scard.SCARD_STATE_CHANGED
        was = bool(old & scard.SCARD_STATE_PRESENT)
        now = bool(new & scard.SCARD_STATE_PRESENT)
        swapped = was and now and old != scard.SCARD_STATE_UNAWARE and (old >> 16) != (new >> 16)
        if was and (not now or swapped):
            self._pending.append(CardEvent(CardEventKind.REMOVED, name))
        if now and (not was or swapped):
            self._pending.append(CardEvent(CardEventKind.INSERTED, name, atr))

    # --- the card -------------------------------------------------------------------

    def _pick(self, reader: str | None) -> str:
        names = self._list(self._op_ctx)
        if reader is not None:
            if reader not in names:
                raise ReaderUnavailable(f"reader {reader!r} is not connected", reader=reader)
            return reader
        if not names:
            raise ReaderUnavailable("no card reader is connected")
        return names[0]

    def identify(self, reader: str | None = None) -> CardIdentity:
        """Classify the card by ATR and read its card number where the card exposes it."""
        with self._op_lock:
            try:
                return self._identify(reader)
            except ReaderUnavailable:
                self._op_ctx.drop()
                raise

    def _identify(self, reader: str | None) -> CardIdentity:
        name = self._pick(reader)
        hresult, hcard, protocol = scard.SCardConnect(
            self._op_ctx.get(),
            name,
            scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
        )
        if hresult != scard.SCARD_S_SUCCESS:
            raise pcsc_error(hresult, "connect to card")
        try:
            hresult, _, _, protocol, atr_list = scard.SCardStatus(hcard)
            if hresult != scard.SCARD_S_SUCCESS:
                raise pcsc_error(hresult, "read ATR")
            atr = bytes(atr_list)
            found = classify_atr(atr, self.atr_table)
            number = self._read_card_number(hcard, protocol)
            return CardIdentity(name, atr, found.card_class, found.generation, found.issuer, number)
        finally:
            scard.SCardDisconnect(hcard, scard.SCARD_LEAVE_CARD)

    def _read_card_number(self, hcard: Any, protocol: int) -> str | None:
        answer = b""
        for apdu in self.card_number_apdus:
            data, sw = self._transmit(hcard, protocol, apdu)
            if sw != 0x9000:
                return None
            answer = data
        return parse_card_number(answer) if answer else None

    def _transmit(self, hcard: Any, protocol: int, apdu: bytes) -> tuple[bytes, int]:
        hresult, response = scard.SCardTransmit(hcard, protocol, list(apdu))
        if hresult != scard.SCARD_S_SUCCESS:
            if hresult == scard.SCARD_E_NOT_TRANSACTED and self._card_gone(hcard):
                raise CardRemoved(f"card left the reader: {describe(hresult)}", hresult=hresult)
            raise pcsc_error(hresult, "send APDU")
        if len(response) < 2:
            if self._card_gone(hcard):
                raise CardRemoved("card left the reader during an APDU")
            raise CardUnreadable("card answered without a status word")
        data, sw = bytes(response[:-2]), (response[-2] << 8) | response[-1]
        if sw >> 8 == 0x61:  # T=0: more data waits behind GET RESPONSE
            more, sw = self._transmit(hcard, protocol, bytes([0x00, 0xC0, 0x00, 0x00, sw & 0xFF]))
            data += more
        elif sw >> 8 == 0x6C:  # T=0: wrong Le, the card says which
            return self._transmit(hcard, protocol, apdu[:4] + bytes([sw & 0xFF]))
        return data, sw

    def _card_gone(self, hcard: Any, settle_s: float = 0.6) -> bool:
        """Whether the card left; pcscd notices a pull on its next poll, so give it time."""
        deadline = time.monotonic() + settle_s
        while True:
            hresult, _, state, _, _ = scard.SCardStatus(hcard)
            if hresult != scard.SCARD_S_SUCCESS or not state & scard.SCARD_PRESENT:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def has_pin_pad(self, reader: str | None = None) -> bool:
        """Whether the reader verifies PINs on its own keypad (PC/SC part 10); False if unsure."""
        with self._op_lock:
            try:
                name = self._pick(reader)
                hresult, hcard, _ = scard.SCardConnect(
                    self._op_ctx.get(), name, scard.SCARD_SHARE_DIRECT, 0
                )
            except KioskError:
                return False
            if hresult != scard.SCARD_S_SUCCESS:
                log.debug("direct connect for features failed: %s", describe(hresult))
                return False
            try:
                hresult, response = scard.SCardControl(hcard, CM_IOCTL_GET_FEATURE_REQUEST, [])
                if hresult != scard.SCARD_S_SUCCESS:
                    return False
                return bool(PIN_PAD_FEATURES & pin_pad_features(bytes(response)).keys())
            finally:
                scard.SCardDisconnect(hcard, scard.SCARD_LEAVE_CARD)

    def close(self) -> None:
        """Release both PC/SC contexts."""
        self.cancel()
        with self._op_lock:
            self._op_ctx.drop()
        self._wait_ctx.drop()


__all__ = ["CARD_GONE", "PcscReader", "pin_pad_features"]
