"""sd_notify in pure Python: READY, STATUS, WATCHDOG pings and STOPPING over $NOTIFY_SOCKET.

The app builds one ``Watchdog.from_env()``, calls ``ready()`` once it is up and ``ping()``
from its main loop (every frame is fine: pings are rate-limited to a third of
WatchdogSec). If the main loop hangs the pings stop and systemd restarts the service.
Outside systemd every call is a cheap no-op.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping


class Watchdog:
    """A notifier for systemd's Type=notify and WatchdogSec."""

    def __init__(
        self,
        socket_path: str | None,
        watchdog_usec: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._address = socket_path
        self._clock = clock
        self.interval_s: float | None = watchdog_usec / 3e6 if watchdog_usec else None
        self._last_ping = float("-inf")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Watchdog:
        """A watchdog for this process from NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID."""
        env = os.environ if env is None else env
        usec_text = env.get("WATCHDOG_USEC", "")
        pid_text = env.get("WATCHDOG_PID", "")
        usec = int(usec_text) if usec_text.isdigit() else None
        if pid_text.isdigit() and int(pid_text) != os.getpid():
            usec = None  # the watchdog is meant for another process
        return cls(env.get("NOTIFY_SOCKET") or None, usec)

    @property
    def enabled(self) -> bool:
        """Whether systemd is listening."""
        return self._address is not None

    def notify(self, message: str) -> bool:
        """Send one sd_notify datagram; False if there is no socket or sending failed."""
        if self._address is None:
            return False
        address = self._address
        if address.startswith("@"):
            address = "\0" + address[1:]  # abstract namespace
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                # A full receiver queue must drop the datagram, never freeze the caller
                # (the app pings from its UI thread); the next ping tries again.
                sock.setblocking(False)
                sock.sendto(message.encode(), address)
        except OSError:  # BlockingIOError included
            return False
        return True

    def ready(self, status: str = "") -> bool:
        """Tell systemd the service is up (READY=1), with an optional status line."""
        sent = self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))
        self._last_ping = self._clock()
        return sent

    def status(self, text: str) -> bool:
        """Update the status line shown by `systemctl status`."""
        return self.notify(f"STATUS={text}")

    def ping(self) -> bool:
        """Send WATCHDOG=1 if a third of the watchdog interval has passed; True if sent."""
        if self.interval_s is None or self._address is None:
            return False
        now = self._clock()
        if now - self._last_ping < self.interval_s:
            return False
        self._last_ping = now
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        """Tell systemd the service is shutting down on purpose."""
        return self.notify("STOPPING=1")
