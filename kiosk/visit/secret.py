"""Secrets held in memory only while needed: a wipeable buffer that never prints its value.

A flow keeps the PIN being typed in a ``PinBuffer``; an effect that needs it gets a
``Secret`` copy, which the runner wipes right after the port call. ``repr`` and ``str``
show only the length, so a secret in an effect's arguments cannot leak into a log.
"""

from __future__ import annotations


class Secret:
    """A wipeable secret (PIN, unlock credential); ``reveal()`` is the only way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str | bytes | bytearray = b"") -> None:
        raw = value.encode() if isinstance(value, str) else bytes(value)
        self._value = bytearray(raw)

    def reveal(self) -> str:
        """The secret's text, for the one port call that needs it."""
        return self._value.decode()

    def __len__(self) -> int:
        return len(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def wipe(self) -> None:
        """Overwrite and empty the buffer."""
        for index in range(len(self._value)):
            self._value[index] = 0
        del self._value[:]

    def copy(self) -> Secret:
        """An independent copy (wiping one leaves the other)."""
        return Secret(self._value)

    def same_as(self, other: Secret) -> bool:
        """Whether two secrets hold the same value."""
        return bytes(self._value) == bytes(other._value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<{len(self._value)} hidden>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("secrets cannot be pickled")


class PinBuffer(Secret):
    """The digits typed on the PIN pad so far, capped at ``max_length``."""

    __slots__ = ("max_length",)

    def __init__(self, max_length: int) -> None:
        super().__init__()
        self.max_length = max_length

    def add(self, digit: object) -> bool:
        """Append one ASCII digit; False (and nothing changes) if invalid or full."""
        text = str(digit) if isinstance(digit, int | str) and not isinstance(digit, bool) else ""
        if len(text) != 1 or not ("0" <= text <= "9") or len(self._value) >= self.max_length:
            return False
        self._value.append(ord(text))
        return True

    def back(self) -> None:
        """Remove the last digit."""
        if self._value:
            self._value[-1] = 0
            del self._value[-1]

    def clear(self) -> None:
        """Remove every digit."""
        self.wipe()
