"""The holder's PIN policy: exactly six digits and nothing easy to guess or tied to the person.

Rules, in the order they are reported (``PIN_RULES``):

- ``length``: exactly ``policy.length`` characters.
- ``digits``: ASCII digits only. If ``length`` or ``digits`` fails, no other rule is judged.
- ``repeated``: one block repeated to fill the PIN: 111111, 121212, 123123.
- ``sequence``: every step +1 or every step -1, wrapping 9->0 and 0->9 (123456, 987654,
  890123, 210987): wrapped runs are just as easy to guess on a keypad.
- ``birth_date``: the holder's birth date as YY, MM, DD in any of the six orders (YYMMDD,
  YYDDMM, MMDDYY, MMYYDD, DDMMYY, DDYYMM) or as YYYYMM / MMYYYY. Eight-digit forms
  (YYYYMMDD, DDMMYYYY) cannot be a six-digit PIN.
- ``personnummer_tail``: any six consecutive digits of the 12-digit personnummer, which
  covers its last six digits and, for a samordningsnummer, the day-plus-60 date part.
- ``phone_tail``: the last six digits of the holder's phone number.
- ``deny_list``: the configured list of common PINs.

The PIN itself never appears in an exception, a message or a log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import pairwise

from kiosk.errors import PinRuleViolation
from kiosk.identity.personnummer import Personnummer
from kiosk.settings import PinPolicySettings

PIN_RULES: tuple[str, ...] = (
    "length",
    "digits",
    "repeated",
    "sequence",
    "birth_date",
    "personnummer_tail",
    "phone_tail",
    "deny_list",
)


def pin_rule_key(rule: str) -> str:
    """The translation key that explains ``rule`` to the holder (kiosk/locale/*/identity.json)."""
    return f"pin.rule.{rule}"


def is_repeated_block(pin: str) -> bool:
    """Whether ``pin`` is one shorter block written again and again (111111, 121212)."""
    return any(
        len(pin) % size == 0 and pin == pin[:size] * (len(pin) // size)
        for size in range(1, len(pin) // 2 + 1)
    )


def is_digit_run(pin: str) -> bool:
    """Whether each digit is one more, or each one less, than the last (mod 10)."""
    if len(pin) < 2:
        return False
    steps = {(int(b) - int(a)) % 10 for a, b in pairwise(pin)}
    return steps in ({1}, {9})


def birth_date_forms(personnummer: Personnummer) -> frozenset[str]:
    """The six-digit ways of writing the holder's birth date that a PIN must not be."""
    born = personnummer.birth_date
    yy, mm, dd = f"{born.year % 100:02d}", f"{born.month:02d}", f"{born.day:02d}"
    yyyy = f"{born.year:04d}"
    return frozenset(
        {
            yy + mm + dd,
            yy + dd + mm,
            mm + dd + yy,
            mm + yy + dd,
            dd + mm + yy,
            dd + yy + mm,
            yyyy + mm,
            mm + yyyy,
        }
    )


def personnummer_windows(personnummer: Personnummer, size: int) -> frozenset[str]:
    """Every run of ``size`` consecutive digits in the 12-digit personnummer."""
    digits = personnummer.normalised
    return frozenset(digits[i : i + size] for i in range(len(digits) - size + 1))


def phone_tail(phone: str, size: int) -> str | None:
    """The last ``size`` digits of a phone number, or None if it has fewer."""
    digits = "".join(c for c in phone if c.isascii() and c.isdigit())
    return digits[-size:] if len(digits) >= size else None


def broken_pin_rules(
    pin: str,
    policy: PinPolicySettings,
    personnummer: Personnummer | None = None,
    phone: str | None = None,
) -> list[str]:
    """The ids of every rule ``pin`` breaks, in ``PIN_RULES`` order; empty if it is allowed."""
    broken: list[str] = []
    if len(pin) != policy.length:
        broken.append("length")
    if not (pin.isascii() and pin.isdigit()):
        broken.append("digits")
    if broken:
        return broken
    checks: Iterable[tuple[str, bool, Callable[[], bool]]] = (
        ("repeated", policy.reject_repeated, lambda: is_repeated_block(pin)),
        ("sequence", policy.reject_sequences, lambda: is_digit_run(pin)),
        (
            "birth_date",
            policy.reject_birth_date and personnummer is not None,
            lambda: personnummer is not None and pin in birth_date_forms(personnummer),
        ),
        (
            "personnummer_tail",
            policy.reject_personnummer_tail and personnummer is not None,
            lambda: personnummer is not None
            and pin in personnummer_windows(personnummer, len(pin)),
        ),
        (
            "phone_tail",
            policy.reject_phone_tail and bool(phone),
            lambda: phone is not None and phone_tail(phone, len(pin)) == pin,
        ),
        ("deny_list", True, lambda: pin in policy.deny_list),
    )
    broken.extend(rule for rule, enabled, breaks in checks if enabled and breaks())
    return broken


def ensure_pin_allowed(
    pin: str,
    policy: PinPolicySettings,
    personnummer: Personnummer | None = None,
    phone: str | None = None,
) -> None:
    """Raise PinRuleViolation naming the first rule ``pin`` breaks (never the PIN itself)."""
    broken = broken_pin_rules(pin, policy, personnummer, phone)
    if broken:
        raise PinRuleViolation(broken[0], length=policy.length, broken=tuple(broken))
