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


def typed_pin(pin: str | None) -> str:
    """``pin``; TokenError if it is ON_READER_PAD (None) and this token has no PIN pad."""
    if pin is None:
        raise TokenError("a PIN pad entry reached a token without a PIN pad", reason="no_pin_pad")
    return pin
