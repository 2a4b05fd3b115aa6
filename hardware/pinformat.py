"""The PIN format the kiosk enforces before any token sees a PIN (tokens differ: SoftHSM
takes any 4-255 characters, a real card its own range)."""

from __future__ import annotations

from kiosk.errors import PinRuleViolation, TokenError
from kiosk.rules.pin import broken_pin_rules
from kiosk.settings import PinPolicySettings

FORMAT_RULES = ("length", "digits")


def check_pin_format(pin: str, policy: PinPolicySettings) -> None:
    """PinRuleViolation (length or digits) unless ``pin`` has the policy's format."""
    broken = [r for r in broken_pin_rules(pin, policy) if r in FORMAT_RULES]
    if broken:
        raise PinRuleViolation(broken[0], length=policy.length, broken=tuple(broken))


def held_pin(pin: str | None, policy: PinPolicySettings) -> str:
    """A PIN the kiosk holds, format-checked; TokenError for ON_READER_PAD (None): no pad here."""
    if pin is None:
        raise TokenError("a PIN pad entry reached a token without a PIN pad", reason="no_pin_pad")
    check_pin_format(pin, policy)
    return pin
