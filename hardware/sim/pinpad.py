"""The simulated card reader's own PIN pad (keypad and display), for the demo and tests.

The holder's digits reach it through ``enter`` (the demo panel's keypad, or a test); the
code that needs a PIN calls ``ask``, which blocks until the holder presses OK or cancel,
or the reader's timeout runs out. A script types ahead instead (``type_ahead``: the unit
tests of the visits, which run their effects on one thread): each entry answers the next
``ask`` at once. ``asked`` is what the display asked for, in order. A C PKCS#11 shim
(hardware/sim/pinpad_pkcs11.c) asks over a UNIX socket, one line per request:

    request  ``ask <prompt>\\n``        (prompt: pin, old_pin, new_pin, confirm_pin)
    reply    ``ok <digits>\\n`` | ``cancel\\n`` | ``timeout\\n`` | ``length\\n`` | ``error\\n``

Digits are never logged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import tempfile
import threading
from collections import deque
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

from kiosk.errors import InvalidInput, PinEntryCancelled, PinMismatch, PinRuleViolation

log = logging.getLogger(__name__)

SOCKET_NAME = "pinpad.sock"
MAX_REQUEST = 64
REQUEST_TIMEOUT_S = 5.0  # a client that connects must send its request at once


class PadPrompt(StrEnum):
    """What the reader's display asks for."""

    PIN = "pin"
    OLD_PIN = "old_pin"
    NEW_PIN = "new_pin"
    CONFIRM_PIN = "confirm_pin"


_CANCEL = object()


class SimulatedPinPad:
    """One reader keypad: ``ask`` blocks until ``enter``/``cancel``/timeout; one ask at a time."""

    def __init__(self, length: int = 6, timeout_s: float = 60.0) -> None:
        self.length = length
        self.timeout_s = timeout_s
        self._cond = threading.Condition()
        self._turn = threading.Lock()  # one prompt on the display at a time
        self._asking: PadPrompt | None = None
        self._answer: object = None
        self._closed = False
        self._callbacks: list[Callable[[PadPrompt | None], None]] = []
        self._ahead: deque[str | None] = deque()
        self.asked: list[PadPrompt] = []
        self._server: socket.socket | None = None
        self._server_dir: Path | None = None
        self._server_thread: threading.Thread | None = None

    # --- the reader's side ------------------------------------------------------------

    def ask(self, prompt: PadPrompt) -> str:
        """Show ``prompt`` and wait for the digits; PinEntryCancelled on cancel or timeout."""
        prompt = PadPrompt(prompt)
        with self._turn:
            with self._cond:
                if self._closed:
                    raise PinEntryCancelled("the PIN pad is closed", reason="closed")
                self.asked.append(prompt)
                if self._ahead:
                    return self._typed_ahead(prompt, self._ahead.popleft())
                self._asking, self._answer = prompt, None
            log.debug("PIN pad: asking for %s", prompt)
            self._notify(prompt)
            try:
                with self._cond:
                    answered = self._cond.wait_for(
                        lambda: self._answer is not None or self._closed, self.timeout_s
                    )
                    answer, self._answer, self._asking = self._answer, None, None
            finally:
                self._notify(None)
        if not answered:
            log.info("PIN pad: %s timed out", prompt)
            raise PinEntryCancelled("PIN entry on the reader timed out", reason="timeout")
        if not isinstance(answer, str):
            log.info("PIN pad: %s cancelled", prompt)
            raise PinEntryCancelled("PIN entry on the reader was cancelled", reason="cancel")
        if len(answer) != self.length:
            log.info("PIN pad: %s refused, wrong length", prompt)
            raise PinRuleViolation("length", "PIN pad: wrong length", length=self.length)
        log.debug("PIN pad: %s entered", prompt)
        return answer

    def ask_new(self) -> str:
        """A new PIN typed twice, as a reader asks it; PinMismatch when the two differ."""
        first = self.ask(PadPrompt.NEW_PIN)
        if self.ask(PadPrompt.CONFIRM_PIN) != first:
            raise PinMismatch("the two new PINs typed on the reader differ")
        return first

    def _typed_ahead(self, prompt: PadPrompt, entry: str | None) -> str:
        if entry is None:
            log.info("PIN pad: %s cancelled (typed ahead)", prompt)
            raise PinEntryCancelled("PIN entry on the reader was cancelled", reason="cancel")
        if len(entry) != self.length:
            log.info("PIN pad: %s refused, wrong length", prompt)
            raise PinRuleViolation("length", "PIN pad: wrong length", length=self.length)
        return entry

    def type_ahead(self, *entries: str | None) -> None:
        """The holder's next entries, each answering the next ``ask`` at once (None: the
        cancel key); with none left, ``ask`` waits for ``enter`` again."""
        for entry in entries:
            if entry is not None and not (entry.isascii() and entry.isdigit()):
                raise InvalidInput("a reader's PIN pad has digit keys only")
        with self._cond:
            self._ahead.extend(entries)

    @property
    def asking(self) -> PadPrompt | None:
        """What the reader's display asks for now (None: nothing)."""
        with self._cond:
            return self._asking

    # --- the holder's side ------------------------------------------------------------

    def enter(self, pin: str) -> None:
        """The holder typed ``pin`` and pressed OK; ignored when nothing is asked."""
        if not pin.isascii() or not pin.isdigit():
            raise InvalidInput("a reader's PIN pad has digit keys only")
        with self._cond:
            if self._asking is None or self._answer is not None:
                log.debug("PIN pad: OK pressed with nothing asked; ignored")
                return
            self._answer = pin
            self._cond.notify_all()

    def cancel(self) -> None:
        """The holder pressed the reader's cancel key."""
        with self._cond:
            if self._asking is None or self._answer is not None:
                log.debug("PIN pad: cancel pressed with nothing asked; ignored")
                return
            self._answer = _CANCEL
            self._cond.notify_all()

    def on_prompt(self, callback: Callable[[PadPrompt | None], None]) -> None:
        """Call ``callback`` (from any thread) whenever ``asking`` changes."""
        with self._cond:
            self._callbacks.append(callback)

    def _notify(self, prompt: PadPrompt | None) -> None:
        with self._cond:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(prompt)
            except Exception:  # a listener's failure must not break the reader
                log.exception("PIN pad prompt listener failed")

    # --- the socket a PKCS#11 shim asks through ----------------------------------------

    def serve(self) -> Path:
        """Start the UNIX-socket server (once) and return its socket path (0700 directory)."""
        with self._cond:
            if self._server_dir is not None:
                return self._server_dir / SOCKET_NAME
            if self._closed:
                raise PinEntryCancelled("the PIN pad is closed", reason="closed")
            directory = Path(tempfile.mkdtemp(prefix="kiosk-pinpad-"))  # mode 0700
            path = directory / SOCKET_NAME
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(str(path))
            os.chmod(path, 0o600)
            server.listen(4)
            self._server, self._server_dir = server, directory
            self._server_thread = threading.Thread(
                target=self._accept_loop, args=(server,), name="pinpad-server", daemon=True
            )
            self._server_thread.start()
        log.info("PIN pad server listening on %s", path)
        return path

    def _accept_loop(self, server: socket.socket) -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return  # closed
            threading.Thread(
                target=self._handle, args=(conn,), name="pinpad-request", daemon=True
            ).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            request = _read_line(conn)
            reply = self._answer_request(request)
            with contextlib.suppress(OSError):
                conn.sendall(reply.encode("ascii"))

    def _answer_request(self, request: str | None) -> str:
        verb, _, name = (request or "").partition(" ")
        try:
            prompt = PadPrompt(name)
        except ValueError:
            prompt = None
        if verb != "ask" or prompt is None:
            log.warning("PIN pad server: malformed request refused")
            return "error\n"
        try:
            return f"ok {self.ask(prompt)}\n"
        except PinEntryCancelled as exc:
            return "timeout\n" if exc.data.get("reason") == "timeout" else "cancel\n"
        except PinRuleViolation:
            return "length\n"

    def close(self) -> None:
        """Cancel a pending ask, refuse later ones, and stop the socket server."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            server, directory = self._server, self._server_dir
            self._server = self._server_dir = None
            thread = self._server_thread
        if server is not None:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)
            server.close()
        if thread is not None:
            thread.join(timeout=5)
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


def _read_line(conn: socket.socket) -> str | None:
    data = b""
    conn.settimeout(REQUEST_TIMEOUT_S)
    while b"\n" not in data and len(data) < MAX_REQUEST:
        try:
            chunk = conn.recv(MAX_REQUEST)
        except OSError:
            return None
        if not chunk:
            break
        data += chunk
    conn.settimeout(None)
    line, newline, _ = data.partition(b"\n")
    if not newline:
        return None
    try:
        return line.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
