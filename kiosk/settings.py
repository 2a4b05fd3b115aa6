"""The kiosk's typed settings: one frozen dataclass per section, DOMAIN.md values as defaults.

``load_settings`` builds a ``Settings`` from layered TOML mappings (packaged defaults <
/etc/kiosk/kiosk.toml < applied bundle), rejecting unknown keys and wrong types with the
key's dotted path and a "did you mean" hint. config/kiosk.toml documents every key.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import Any, TypeVar

from kiosk.errors import ConfigError


@dataclass(frozen=True)
class KioskIdentitySettings:
    """Who this kiosk is in the fleet."""

    kiosk_id: str = "demo-kiosk-1"
    card_office: str = "demo-office"


@dataclass(frozen=True)
class PinPolicySettings:
    """The holder's PIN rules (DOMAIN: exactly 6 digits, nothing tied to the person)."""

    length: int = 6
    reject_repeated: bool = True
    reject_sequences: bool = True
    reject_birth_date: bool = True
    reject_personnummer_tail: bool = True
    reject_phone_tail: bool = True
    deny_list: tuple[str, ...] = ("123123", "121212", "112233", "101010", "696969", "159753")


@dataclass(frozen=True)
class CardRulesSettings:
    """Which cards may be activated, and the deadlines (DOMAIN: 3 months, 5 days)."""

    activation_window_months: int = 3
    completion_window_days: int = 5
    deadline_alert_hours: int = 24
    accepted_issuers: tuple[str, ...] = ("SITHS",)
    card_validity_years: int = 5


@dataclass(frozen=True)
class DocumentRulesSettings:
    """The ID document control process (DOMAIN: LoA3 18+, LoA2 15+)."""

    loa3_min_age: int = 18
    loa2_min_age: int = 15
    loa3_documents: tuple[str, ...] = (
        "passport",
        "national_id",
        "driving_licence",
        "sis_id",
        "tax_agency_id",
    )
    loa2_documents: tuple[str, ...] = (
        "passport",
        "national_id",
        "driving_licence",
        "sis_id",
        "tax_agency_id",
        "other",
    )


@dataclass(frozen=True)
class AtrEntry:
    """One row of the ATR table: a hex pattern (``..`` matches any byte) and its class."""

    pattern: str
    card_class: str
    generation: str = ""
    issuer: str = ""


# DEMO VALUES: these ATR patterns have the shape of the cards they name (IDPrime/Net iD
# style SITHS cards, SetCOS-style Telia cards) and are what the card emulator presents;
# replace them with the ATRs of the card generations the card office really receives.
DEFAULT_ATR_TABLE: tuple[AtrEntry, ...] = (
    AtrEntry(
        "3B 7F 96 00 00 80 31 80 65 B0 85 .. .. .. 12 0F FF 82 90 00",
        "siths",
        "SITHS e-id 3 (IDPrime)",
        "SITHS",
    ),
    AtrEntry(
        "3B D5 18 FF 81 91 FE 1F C3 80 73 C8 21 10 ..", "siths", "SITHS e-id 2 (Net iD)", "SITHS"
    ),
    AtrEntry(
        "3B 9F 94 80 1F C3 00 68 .. 44 05 01 46 49 53 45 31 C8 .. 90 00 ..",
        "foreign",
        "",
        "Telia",
    ),
    AtrEntry("3B 8A 80 01 53 4B 56 2D 49 44 2D 4B 4F 52 ..", "foreign", "", "Skatteverket"),
    AtrEntry(
        "3B 8F 80 01 80 4F 0C A0 00 00 03 06 .. .. .. .. .. .. .. .. ..", "foreign", "", "other"
    ),
)


@dataclass(frozen=True)
class PolicyLevel:
    """One certificate policy OID and the trust level (2 or 3) it stands for."""

    oid: str
    level: int


# DEMO VALUES under the ITU-T example arc 2.999: the demo CA issues these; replace them
# with the policy OIDs of SITHS e-id (LoA2/LoA3) from the CA's certificate policy.
DEFAULT_POLICY_LEVELS: tuple[PolicyLevel, ...] = (
    PolicyLevel("2.999.752.29.1.3", 3),
    PolicyLevel("2.999.752.29.1.2", 2),
)


@dataclass(frozen=True)
class HardwareSettings:
    """Which reader and token backends to use."""

    reader: str = "memory"  # "pcsc" (pyscard), "emulated" (vpcd emulator), "memory"
    reader_name: str = ""  # substring of the PC/SC reader to use; empty = first
    token: str = "softhsm"  # noqa: S105 -- a backend name, not a secret; "pkcs11" (module below), "softhsm", "memory"
    pkcs11_module: str = ""  # e.g. /usr/lib/aarch64-linux-gnu/opensc-pkcs11.so
    card_profile: str = "init_pin"  # "init_pin" (C_InitPIN as SO) or "transport_pin"
    use_reader_pin_pad: bool = True
    sim_pin_pad: bool = False  # the simulated reader has its own PIN pad; demo and tests
    atr_table: tuple[AtrEntry, ...] = DEFAULT_ATR_TABLE
    trust_anchors: tuple[str, ...] = ()  # PEM files of the roots a card's chain must reach
    policy_levels: tuple[PolicyLevel, ...] = DEFAULT_POLICY_LEVELS
    # APDUs (hex) sent in turn to read the card number; the last answer holds it as ASCII
    # digits. The default is the card emulator's card-info file (docs/hardware.md).
    card_number_apdus: tuple[str, ...] = ("00A4040008F05349544853434E", "00B0000000")
    vpcd_host: str = "127.0.0.1"  # where pcscd's vpcd driver listens (emulated reader)
    vpcd_port: int = 35963
    softhsm_dir: str = ""  # demo SoftHSM2 tokens; empty = <state_dir>/softhsm


@dataclass(frozen=True)
class CameraSettings:
    """Where frames come from: ``v4l2:0``, ``file:PATH``, ``folder:DIR``, ``mjpeg:URL``."""

    source: str = "folder:builtin"
    width: int = 1280
    height: int = 720
    fps: int = 30
    autofocus: bool = True
    stale_after_s: float = 3.0  # no new frame for this long: the camera counts as gone


@dataclass(frozen=True)
class ScannerSettings:
    """Barcode decoder and formats."""

    decoder: str = "zxing"  # "zxing" or "pyzbar"
    formats: tuple[str, ...] = ("QRCode", "Code128", "PDF417", "DataMatrix", "Aztec")
    mrz: bool = True
    tilt_fallback: bool = True  # locate and level tilted 1D/PDF417 codes when none decodes
    mrz_agree: int = 2  # successive identical check-digit-valid readings before accepting
    mrz_interval_s: float = 0.0  # least time between MRZ attempts in the live loop


@dataclass(frozen=True)
class PortalSettings:
    """The card-office portal and how to reach it."""

    url: str = "http://127.0.0.1:8443"
    ca_file: str = ""
    client_cert: str = ""
    client_key: str = ""
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 10.0
    retries: int = 3
    backoff_s: float = 0.5
    backoff_max_s: float = 8.0
    api_token: str = ""  # a secret: masked in `kioskctl config show`


@dataclass(frozen=True)
class UiSettings:
    """Screen, language and session timing."""

    language: str = "sv"
    width: int = 1280
    height: int = 800
    rotation: int = 0
    fullscreen: bool = True
    shuffle_pin_pad: bool = False
    idle_timeout_s: int = 90
    idle_warning_s: int = 15
    admin_session_timeout_s: int = 3600
    panel_width_mm: float = 217.0  # visible width of the panel (10.1" 16:10: 217 x 136 mm)
    panel_height_mm: float = 136.0
    min_key_mm: float = 12.0  # smallest PIN-pad key edge on the panel
    input_provider: str = "mouse"  # the ONE Kivy input provider, e.g. "hidinput,/dev/input/event0"
    show_cursor: bool = False


@dataclass(frozen=True)
class PathSettings:
    """Where the kiosk keeps its state; empty means a per-user default."""

    state_dir: str = ""
    log_dir: str = ""


@dataclass(frozen=True)
class FleetSettings:
    """Signed config bundles: where to pull them, how long to wait for health, staleness."""

    pull_url: str = ""  # HTTPS URL of this kiosk's current bundle; empty = push only
    pull_ca_file: str = ""  # CA bundle for the pull URL; empty = system CAs
    pull_timeout_s: float = 20.0
    health_timeout_s: int = 900  # roll back if not healthy this long after apply
    max_bundle_age_days: int = 45  # a pulled bundle signed longer ago is refused (freeze)


@dataclass(frozen=True)
class Settings:
    """All of the kiosk's settings."""

    kiosk: KioskIdentitySettings = field(default_factory=KioskIdentitySettings)
    pin_policy: PinPolicySettings = field(default_factory=PinPolicySettings)
    card_rules: CardRulesSettings = field(default_factory=CardRulesSettings)
    document_rules: DocumentRulesSettings = field(default_factory=DocumentRulesSettings)
    hardware: HardwareSettings = field(default_factory=HardwareSettings)
    camera: CameraSettings = field(default_factory=CameraSettings)
    scanner: ScannerSettings = field(default_factory=ScannerSettings)
    portal: PortalSettings = field(default_factory=PortalSettings)
    ui: UiSettings = field(default_factory=UiSettings)
    paths: PathSettings = field(default_factory=PathSettings)
    fleet: FleetSettings = field(default_factory=FleetSettings)


SECRET_KEYS: frozenset[str] = frozenset({"portal.api_token"})

T = TypeVar("T")


def merge_layers(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge mappings, later layers winning key by key."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
                merged[key] = merge_layers(merged[key], value)
            elif isinstance(value, Mapping):
                merged[key] = merge_layers(value)
            else:
                merged[key] = value
    return merged


def load_settings(*layers: Mapping[str, Any]) -> Settings:
    """Typed, validated settings from layered mappings; ConfigError names the bad key's path."""
    settings = _build(Settings, merge_layers(*layers), "")
    from kiosk.config_validation import validate_settings  # imports Settings: import here

    validate_settings(settings)
    return settings


def _build(cls: type[T], data: Mapping[str, Any], prefix: str) -> T:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix or 'settings'} must be a table", path=prefix)
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f"did you mean '{prefix}{close[0]}'?" if close else ""
            raise ConfigError(
                f"unknown setting {path!r}" + (f"; {hint}" if hint else ""), path=path, hint=hint
            )
        kwargs[key] = _convert(hints[key], value, path)
    for name, f in known.items():
        if name not in kwargs and f.default is MISSING and f.default_factory is MISSING:
            raise ConfigError(f"missing setting {prefix}{name!r}", path=f"{prefix}{name}")
    return cls(**kwargs)


def _convert(hint: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    if is_dataclass(hint) and isinstance(hint, type):
        return _build(hint, value, path + ".")
    if origin is tuple:
        item_type = typing.get_args(hint)[0]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{path} must be a list", path=path)
        return tuple(_convert(item_type, v, f"{path}[{i}]") for i, v in enumerate(value))
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        hint = next(o for o in options if o is not type(None))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (str, int, float, bool):
        if type(value) is not hint:
            raise ConfigError(
                f"{path} must be {hint.__name__}, not {type(value).__name__}",
                path=path,
                expected=hint.__name__,
            )
        return value
    raise ConfigError(f"{path}: unsupported setting type {hint!r}", path=path)
