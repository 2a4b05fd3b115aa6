"""Value checks on typed settings: ranges, enums and formats, each with the key's path and a hint.

The loader in kiosk.settings checks names and types; this module checks that the values
make sense, so a bad value is refused at `kioskctl config check` or bundle apply time,
not discovered at a card office. RULES is a table so a test can prove every rule names
a real setting.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kiosk.errors import ConfigError
from kiosk.i18n import LANGUAGES

Check = Callable[[Any], bool]


@dataclass(frozen=True)
class Rule:
    """One value check: the dotted path, the predicate, and the hint shown when it fails."""

    path: str
    check: Check
    hint: str


def in_range(low: float, high: float) -> Check:
    """A check that a number lies in [low, high]."""
    return lambda value: low <= value <= high


def one_of(*allowed: object) -> Check:
    """A check that a value is one of ``allowed``."""
    return lambda value: value in allowed


def is_loopback(host: str) -> bool:
    """Whether ``host`` is localhost or a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_service_url(value: Any) -> bool:
    """An https URL, or http only on loopback (demo and tests)."""
    parts = urlsplit(str(value))
    if not parts.hostname:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname))


def empty_or(check: Check) -> Check:
    """A check that passes for the empty string or when ``check`` passes."""
    return lambda value: value == "" or check(value)


_KIOSK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_ATR_PATTERN = re.compile(r"([0-9A-Fa-f]{2}|\.\.)( ?([0-9A-Fa-f]{2}|\.\.))*")
_HEX = re.compile(r"[0-9A-Fa-f]+")
_CAMERA_SOURCE = re.compile(r"(v4l2:\d+|file:.+|folder:.+|mjpeg:https?://.+)")

RULES: tuple[Rule, ...] = (
    Rule("kiosk.kiosk_id", lambda v: bool(_KIOSK_ID.fullmatch(v)),
         "letters, digits, '.', '_' or '-', at most 64 characters"),
    Rule("kiosk.card_office", lambda v: bool(_KIOSK_ID.fullmatch(v)),
         "letters, digits, '.', '_' or '-', at most 64 characters"),
    Rule("pin_policy.length", one_of(6), "SITHS security codes are exactly 6 digits"),
    Rule("pin_policy.deny_list", lambda v: all(p.isdigit() and len(p) == 6 for p in v),
         "every denied code must be exactly 6 digits"),
    Rule("card_rules.activation_window_months", in_range(1, 12), "between 1 and 12 months"),
    Rule("card_rules.completion_window_days", in_range(1, 30), "between 1 and 30 days"),
    Rule("card_rules.deadline_alert_hours", in_range(1, 720), "between 1 and 720 hours"),
    Rule("card_rules.card_validity_years", in_range(1, 10), "between 1 and 10 years"),
    Rule("document_rules.loa3_min_age", in_range(0, 120), "an age between 0 and 120"),
    Rule("document_rules.loa2_min_age", in_range(0, 120), "an age between 0 and 120"),
    Rule("hardware.reader", one_of("pcsc", "emulated", "memory"),
         "one of 'pcsc', 'emulated', 'memory'"),
    Rule("hardware.token", one_of("pkcs11", "softhsm", "memory"),
         "one of 'pkcs11', 'softhsm', 'memory'"),
    Rule("hardware.card_profile", one_of("init_pin", "transport_pin"),
         "one of 'init_pin', 'transport_pin'"),
    Rule("hardware.atr_table", lambda v: all(_ATR_PATTERN.fullmatch(e.pattern) for e in v),
         "ATR patterns are hex bytes, '..' for any byte, e.g. '3B 7F .. 00'"),
    Rule("hardware.policy_levels", lambda v: all(p.level in (2, 3) for p in v),
         "each policy OID maps to trust level 2 or 3"),
    Rule("hardware.card_number_apdus",
         lambda v: all(_HEX.fullmatch(a) and len(a) % 2 == 0 for a in v),
         "APDUs are hex strings with an even number of digits"),
    Rule("hardware.vpcd_port", in_range(1, 65535), "a TCP port between 1 and 65535"),
    Rule("camera.source", lambda v: bool(_CAMERA_SOURCE.fullmatch(v)),
         "v4l2:N, file:PATH, folder:DIR or mjpeg:URL"),
    Rule("camera.width", in_range(16, 8192), "between 16 and 8192 pixels"),
    Rule("camera.height", in_range(16, 8192), "between 16 and 8192 pixels"),
    Rule("camera.fps", in_range(1, 120), "between 1 and 120 frames per second"),
    Rule("scanner.decoder", one_of("zxing", "pyzbar"), "one of 'zxing', 'pyzbar'"),
    Rule("portal.url", is_service_url, "an https:// URL (http:// only on loopback)"),
    Rule("portal.connect_timeout_s", in_range(0.1, 120), "between 0.1 and 120 seconds"),
    Rule("portal.read_timeout_s", in_range(0.1, 300), "between 0.1 and 300 seconds"),
    Rule("portal.retries", in_range(0, 20), "between 0 and 20"),
    Rule("portal.backoff_s", in_range(0, 60), "between 0 and 60 seconds"),
    Rule("portal.backoff_max_s", in_range(0, 600), "between 0 and 600 seconds"),
    Rule("ui.language", one_of(*LANGUAGES), f"one of {', '.join(map(repr, LANGUAGES))}"),
    Rule("ui.rotation", one_of(0, 90, 180, 270), "one of 0, 90, 180, 270"),
    Rule("ui.width", in_range(320, 8192), "between 320 and 8192 pixels"),
    Rule("ui.height", in_range(240, 8192), "between 240 and 8192 pixels"),
    Rule("ui.idle_timeout_s", in_range(10, 3600), "between 10 and 3600 seconds"),
    Rule("ui.idle_warning_s", in_range(1, 600), "between 1 and 600 seconds"),
    Rule("ui.panel_width_mm", in_range(20, 2000), "between 20 and 2000 mm"),
    Rule("ui.panel_height_mm", in_range(20, 2000), "between 20 and 2000 mm"),
    Rule("ui.min_key_mm", in_range(5, 50), "between 5 and 50 mm"),
    Rule("ui.admin_session_timeout_s", in_range(60, 86400), "between 60 and 86400 seconds"),
    Rule("fleet.pull_url", empty_or(is_service_url),
         "empty, or an https:// URL (http:// only on loopback)"),
    Rule("fleet.pull_timeout_s", in_range(1, 600), "between 1 and 600 seconds"),
    Rule("fleet.health_timeout_s", in_range(10, 86400), "between 10 and 86400 seconds"),
    Rule("fleet.max_bundle_age_days", in_range(1, 3650), "between 1 and 3650 days"),
)


def setting_at(settings: object, path: str) -> Any:
    """The value at a dotted path; AttributeError if the path names no setting."""
    value: Any = settings
    for part in path.split("."):
        value = getattr(value, part)
    return value


def validate_settings(settings: object) -> None:
    """Raise ConfigError(path=..., hint=...) for the first value that breaks a rule."""
    for rule in RULES:
        value = setting_at(settings, rule.path)
        if not rule.check(value):
            raise ConfigError(
                f"{rule.path} = {value!r} is not allowed: {rule.hint}",
                path=rule.path,
                hint=rule.hint,
            )
    ui = settings.ui  # type: ignore[attr-defined]
    if ui.idle_warning_s >= ui.idle_timeout_s:
        hint = "the warning must come before the timeout"
        raise ConfigError(
            f"ui.idle_warning_s ({ui.idle_warning_s}) must be less than ui.idle_timeout_s "
            f"({ui.idle_timeout_s}): {hint}",
            path="ui.idle_warning_s",
            hint=hint,
        )
