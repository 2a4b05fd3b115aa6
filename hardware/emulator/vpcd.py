"""The vpcd client side: connects to pcscd's vpcd reader as a virtual card.

Protocol (vsmartcard): every message is a 2-byte big-endian length and a payload. A
1-byte payload from the reader is a control code (0 power off, 1 power on, 2 reset,
4 get ATR, answered with the ATR); anything longer is a command APDU, answered with the
response APDU. An open connection is a card in the reader; closing it removes the card.
If pcscd restarts while a card is inserted, the emulator reconnects, as a card that
stays in a physical reader would be seen again.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading

from hardware.emulator.card import EmulatedCard
from kiosk.errors import ReaderUnavailable

log = logging.getLogger(__name__)

VPCD_DEFAULT_PORT = 35963
POWER_OFF, POWER_ON, RESET, GET_ATR = 0, 1, 2, 4


class VpcdEmulator:
    """Insert and remove emulated cards in pcscd's vpcd reader; serves on its own thread."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = VPCD_DEFAULT_PORT, retry_s: float = 0.1
    ) -> None:
        self.host = host
        self.port = port
        self._retry_s = retry_s
        self._lock = threading.Lock()
        self._card: EmulatedCard | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._removed = threading.Event()
        self._connected = threading.Event()

    @property
    def card(self) -> EmulatedCard | None:
        """The card now inserted, if any."""
        return self._card

    def is_connected(self) -> bool:
        """Whether the card is connected to the vpcd reader right now."""
        return self._connected.is_set()

    def insert(self, card: EmulatedCard, timeout: float = 5.0) -> None:
        """Insert ``card`` (removing any other first); ReaderUnavailable if vpcd never answers."""
        self.remove()
        with self._lock:
            self._card = card
            self._removed.clear()
            self._thread = threading.Thread(target=self._run, name="vpcd-card", daemon=True)
            self._thread.start()
        if not self._connected.wait(timeout):
            self.remove()
            raise ReaderUnavailable(
                f"no vpcd reader listening on {self.host}:{self.port} (is pcscd running?)",
                host=self.host,
                port=self.port,
            )

    def remove(self) -> None:
        """Take the card out (close the connection) and wait for the serving thread."""
        with self._lock:
            thread = self._thread
            self._card = None
            self._thread = None
            self._removed.set()
            self._close_socket()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)
        self._connected.clear()

    def close(self) -> None:
        """Remove any card and stop; the emulator may be used again afterwards."""
        self.remove()

    def _close_socket(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _run(self) -> None:
        while not self._removed.is_set():
            card = self._card
            if card is None:
                return
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1.0)
            except OSError:
                self._removed.wait(self._retry_s)
                continue
            sock.settimeout(None)
            with self._lock:
                if self._removed.is_set():
                    sock.close()
                    return
                self._sock = sock
            card.reset()
            self._connected.set()
            try:
                self._serve(sock, card)
            except OSError as exc:
                log.debug("vpcd connection ended: %s", exc)
            finally:
                self._connected.clear()
                with self._lock:
                    if self._sock is sock:
                        self._sock = None
                sock.close()
            if not self._removed.is_set():
                log.info("vpcd reader went away with the card inserted; reconnecting")
                self._removed.wait(self._retry_s)

    def _serve(self, sock: socket.socket, card: EmulatedCard) -> None:
        while True:
            header = _recv_exact(sock, 2)
            if header is None:
                return
            (length,) = struct.unpack(">H", header)
            payload = _recv_exact(sock, length) if length else b""
            if payload is None:
                return
            if length == 1:
                code = payload[0]
                if code in (POWER_ON, RESET, POWER_OFF):
                    card.reset()
                elif code == GET_ATR:
                    _send(sock, card.atr)
                continue
            if card.answer_delay_s > 0 and self._removed.wait(card.answer_delay_s):
                return
            _send(sock, card.respond(payload))


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data.extend(chunk)
    return bytes(data)


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(struct.pack(">H", len(payload)) + payload)
