"""The Luhn (mod 10) check digit used by personnummer and organisation numbers."""

from __future__ import annotations


def luhn_check_digit(digits: str) -> int:
    """The digit that, appended to ``digits``, makes the whole string Luhn-valid."""
    if not digits.isascii() or not digits.isdigit():
        raise ValueError("Luhn input must be ASCII digits")
    total = 0
    # The rightmost payload digit is doubled once the check digit is appended.
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def luhn_valid(digits: str) -> bool:
    """Whether ``digits`` (payload followed by its check digit) passes the Luhn check."""
    if len(digits) < 2 or not digits.isascii() or not digits.isdigit():
        return False
    return luhn_check_digit(digits[:-1]) == int(digits[-1])
