"""The kiosk's settings as one typed schema: a frozen dataclass per section, the allowed
values on each field, DOMAIN.md values as defaults.

``load_settings`` builds a ``Settings`` from layered TOML mappings (packaged defaults <
/etc/kiosk/kiosk.toml < applied bundle) with pydantic: strict types, unknown keys refused,
and each field's ``Allowed`` constraint checked. Every refusal is a ConfigError naming the
key's dotted path (``.path``) and a hint (``.hint``): the allowed values, the expected
type, or "did you mean" for a misspelt key. config/kiosk.toml documents every key;
config/SCHEMA.md is generated from these fields (kiosk/config_schema.py).
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from kiosk.errors import ConfigError
from kiosk.i18n import LANGUAGES
from kiosk.urls import SERVICE_URL_HINT, is_service_url

if TYPE_CHECKING:
    from pydantic import ConfigDict, TypeAdapter
    from pydantic_core import core_schema

# pydantic is imported when settings are validated (load_settings), not with this module:
# its import and the schema build (~0.12 s CPU) are paid by every process that imports the
# settings, and one that only uses the defaults (Settings()) never validates anything.
STRICT: ConfigDict = {"extra": "forbid", "strict": True}
_Section = TypeVar("_Section", bound=type)


def with_config(config: ConfigDict) -> Callable[[_Section], _Section]:
    """pydantic's ``with_config`` for a stdlib dataclass (the class attribute it sets),
    without importing pydantic."""

    def apply(cls: _Section) -> _Section:
        cls.__pydantic_config__ = config  # type: ignore[attr-defined]
        return cls

    return apply


@dataclass(frozen=True)
class Allowed:
    """A setting's constraint: the values it allows, and the hint shown for any other."""

    check: Callable[[Any], bool]
    hint: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: Callable[[Any], core_schema.CoreSchema]
    ) -> core_schema.CoreSchema:
        from pydantic_core import PydanticCustomError, core_schema

        def validate(value: Any) -> Any:
            if not self.check(value):
                raise PydanticCustomError("not_allowed", "{hint}", {"hint": self.hint})
            return value

        return core_schema.no_info_after_validator_function(validate, handler(source))


def between(low: float, high: float, unit: str = "", hint: str = "") -> Allowed:
    """A number in [low, high] (NaN never is)."""
    return Allowed(lambda v: not (isinstance(v, float) and math.isnan(v)) and low <= v <= high,
                   hint or f"between {low:g} and {high:g}" + (f" {unit}" if unit else ""))


def one_of(*allowed: object) -> Allowed:
    """One of ``allowed``."""
    return Allowed(lambda v: v in allowed, "one of " + ", ".join(map(repr, allowed)))


def matches(pattern: str, hint: str) -> Allowed:
    """A string matching ``pattern`` in full."""
    compiled = re.compile(pattern)
    return Allowed(lambda v: bool(compiled.fullmatch(v)), hint)


NAME = matches(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
               "letters, digits, '.', '_' or '-', at most 64 characters")
ATR_PATTERN = re.compile(r"([0-9A-Fa-f]{2}|\.\.)( ?([0-9A-Fa-f]{2}|\.\.))*")
HEX = re.compile(r"[0-9A-Fa-f]+")
SECONDS = "seconds"


@with_config(STRICT)
@dataclass(frozen=True)
class KioskIdentitySettings:
    """Who this kiosk is in the fleet."""

    kiosk_id: Annotated[str, NAME] = "demo-kiosk-1"
    card_office: Annotated[str, NAME] = "demo-office"


@with_config(STRICT)
@dataclass(frozen=True)
class PinPolicySettings:
    """The holder's PIN rules (DOMAIN: exactly 6 digits, nothing tied to the person)."""

    length: Annotated[int, Allowed(lambda v: v == 6,
                                   "SITHS security codes are exactly 6 digits")] = 6
    reject_repeated: bool = True
    reject_sequences: bool = True
    reject_birth_date: bool = True
    reject_personnummer_tail: bool = True
    reject_phone_tail: bool = True
    deny_list: Annotated[tuple[str, ...], Allowed(
        lambda v: all(p.isdigit() and len(p) == 6 for p in v),
        "every denied code must be exactly 6 digits",
    )] = ("123123", "121212", "112233", "101010", "696969", "159753")


@with_config(STRICT)
@dataclass(frozen=True)
class CardRulesSettings:
    """Which cards may be activated, and the deadlines (DOMAIN: 3 months, 5 days)."""

    activation_window_months: Annotated[int, between(1, 12, "months")] = 3
    completion_window_days: Annotated[int, between(1, 30, "days")] = 5
    deadline_alert_hours: Annotated[int, between(1, 720, "hours")] = 24
    accepted_issuers: tuple[str, ...] = ("SITHS",)
    card_validity_years: Annotated[int, between(1, 10, "years")] = 5
    additional_organisations: tuple[str, ...] = ("Region Norrland (demo)", "Region Skåne (demo)")


@with_config(STRICT)
@dataclass(frozen=True)
class DocumentRulesSettings:
    """The ID document control process (DOMAIN: LoA3 18+, LoA2 15+)."""

    loa3_min_age: Annotated[int, between(0, 120, hint="an age between 0 and 120")] = 18
    loa2_min_age: Annotated[int, between(0, 120, hint="an age between 0 and 120")] = 15
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


@with_config(STRICT)
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


@with_config(STRICT)
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


@with_config(STRICT)
@dataclass(frozen=True)
class HardwareSettings:
    """Which reader and token backends to use."""

    # "pcsc" (pyscard), "emulated" (vpcd emulator), "memory"
    reader: Annotated[str, one_of("pcsc", "emulated", "memory")] = "memory"
    reader_name: str = ""  # substring of the PC/SC reader to use; empty = first
    # Two-reader operation (docs/hardware.md): substring of the reader where the ID
    # administrator's own card stays for the whole session; pulling it locks the kiosk.
    # Empty = one reader for both cards (the idle lock ui.admin_idle_lock_s guards it).
    admin_reader: str = ""
    # with admin_reader set: substring of the reader for the holder's card; empty = any other
    holder_reader: str = ""
    # a backend name, not a secret; "pkcs11" (module below), "softhsm", "memory"
    token: Annotated[str, one_of("pkcs11", "softhsm", "memory")] = "softhsm"  # noqa: S105
    pkcs11_module: str = ""  # e.g. /usr/lib/aarch64-linux-gnu/opensc-pkcs11.so
    # "init_pin" (C_InitPIN as SO) or "transport_pin"
    card_profile: Annotated[str, one_of("init_pin", "transport_pin")] = "init_pin"
    use_reader_pin_pad: bool = True
    sim_pin_pad: bool = False  # the simulated reader has its own PIN pad; demo and tests
    atr_table: Annotated[tuple[AtrEntry, ...], Allowed(
        lambda v: all(ATR_PATTERN.fullmatch(e.pattern) for e in v),
        "ATR patterns are hex bytes, '..' for any byte, e.g. '3B 7F .. 00'")] = DEFAULT_ATR_TABLE
    trust_anchors: tuple[str, ...] = ()  # PEM files of the roots a card's chain must reach
    policy_levels: Annotated[tuple[PolicyLevel, ...], Allowed(
        lambda v: all(p.level in (2, 3) for p in v),
        "each policy OID maps to trust level 2 or 3")] = DEFAULT_POLICY_LEVELS
    # APDUs (hex) sent in turn to read the card number; the last answer holds it as ASCII
    # digits. The default is the card emulator's card-info file (docs/hardware.md).
    card_number_apdus: Annotated[tuple[str, ...], Allowed(
        lambda v: all(HEX.fullmatch(a) and len(a) % 2 == 0 for a in v),
        "APDUs are hex strings with an even number of digits",
    )] = ("00A4040008F05349544853434E", "00B0000000")
    vpcd_host: str = "127.0.0.1"  # where pcscd's vpcd driver listens (emulated reader)
    vpcd_port: Annotated[int, between(1, 65535, hint="a TCP port between 1 and 65535")] = 35963
    softhsm_dir: str = ""  # demo SoftHSM2 tokens; empty = <state_dir>/softhsm


@with_config(STRICT)
@dataclass(frozen=True)
class CameraSettings:
    """Where frames come from: ``v4l2:0``, ``file:PATH``, ``folder:DIR``, ``mjpeg:URL``."""

    source: Annotated[str, matches(r"(v4l2:\d+|file:.+|folder:.+|mjpeg:https?://.+)",
                                   "v4l2:N, file:PATH, folder:DIR or mjpeg:URL")] = "folder:builtin"
    width: Annotated[int, between(16, 8192, "pixels")] = 1280
    height: Annotated[int, between(16, 8192, "pixels")] = 720
    fps: Annotated[int, between(1, 120, "frames per second")] = 30
    autofocus: bool = True
    stale_after_s: float = 3.0  # no new frame for this long: the camera counts as gone


@with_config(STRICT)
@dataclass(frozen=True)
class ScannerSettings:
    """Barcode decoder and formats."""

    decoder: Annotated[str, one_of("zxing", "pyzbar")] = "zxing"  # "zxing" or "pyzbar"
    formats: tuple[str, ...] = ("QRCode", "Code128", "PDF417", "DataMatrix", "Aztec")
    mrz: bool = True
    tilt_fallback: bool = True  # locate and level tilted 1D/PDF417 codes when none decodes
    mrz_agree: int = 2  # successive identical check-digit-valid readings before accepting
    mrz_interval_s: float = 0.0  # least time between MRZ attempts in the live loop


@with_config(STRICT)
@dataclass(frozen=True)
class PortalSettings:
    """The card-office portal and how to reach it."""

    url: Annotated[str, Allowed(is_service_url, SERVICE_URL_HINT)] = "http://127.0.0.1:8443"
    ca_file: str = ""
    client_cert: str = ""
    client_key: str = ""
    connect_timeout_s: Annotated[float, between(0.1, 120, SECONDS)] = 3.0
    read_timeout_s: Annotated[float, between(0.1, 300, SECONDS)] = 10.0
    retries: Annotated[int, between(0, 20)] = 3
    backoff_s: Annotated[float, between(0, 60, SECONDS)] = 0.5
    backoff_max_s: Annotated[float, between(0, 600, SECONDS)] = 8.0
    api_token: str = ""  # a secret: masked in `kioskctl config show`


@with_config(STRICT)
@dataclass(frozen=True)
class UiSettings:
    """Screen, language and session timing."""

    language: Annotated[str, one_of(*LANGUAGES)] = "sv"
    width: Annotated[int, between(320, 8192, "pixels")] = 1280
    height: Annotated[int, between(240, 8192, "pixels")] = 800
    rotation: Annotated[int, one_of(0, 90, 180, 270)] = 0
    fullscreen: bool = True
    shuffle_pin_pad: bool = False
    idle_timeout_s: Annotated[int, between(10, 3600, SECONDS)] = 90
    idle_warning_s: Annotated[int, between(1, 600, SECONDS)] = 15  # < idle_timeout_s
    admin_session_timeout_s: Annotated[int, between(60, 86400, SECONDS)] = 3600
    # HOME and every admin screen lock after this long untouched (the last
    # idle_warning_s count down on screen); with one reader the administrator's card is out
    admin_idle_lock_s: Annotated[int, between(20, 3600, SECONDS)] = 180
    # visible size of the panel (10.1" 16:10: 217 x 136 mm)
    panel_width_mm: Annotated[float, between(20, 2000, "mm")] = 217.0
    panel_height_mm: Annotated[float, between(20, 2000, "mm")] = 136.0
    min_key_mm: Annotated[float, between(5, 50, "mm")] = 15.0  # smallest PIN-pad key edge
    # smallest edge of any other touch target, and smallest capital-letter height of text
    min_target_mm: Annotated[float, between(5, 50, "mm")] = 12.0
    min_text_cap_mm: Annotated[float, between(1, 20, "mm")] = 3.0
    key_click: bool = False  # a short click for each PIN-pad key
    input_provider: str = "mouse"  # the ONE Kivy input provider, e.g. "hidinput,/dev/input/event0"
    show_cursor: bool = False


@with_config(STRICT)
@dataclass(frozen=True)
class PathSettings:
    """Where the kiosk keeps its state; empty means a per-user default."""

    state_dir: str = ""
    log_dir: str = ""


@with_config(STRICT)
@dataclass(frozen=True)
class FleetSettings:
    """Signed config bundles: where to pull them, how long to wait for health, staleness."""

    # HTTPS URL of this kiosk's current bundle; empty = push only
    pull_url: Annotated[str, Allowed(lambda v: v == "" or is_service_url(v),
                                     f"empty, or {SERVICE_URL_HINT}")] = ""
    pull_ca_file: str = ""  # CA bundle for the pull URL; empty = system CAs
    pull_timeout_s: Annotated[float, between(1, 600, SECONDS)] = 20.0
    # roll back if not healthy this long after apply
    health_timeout_s: Annotated[int, between(10, 86400, SECONDS)] = 900
    # a pulled bundle signed longer ago is refused (freeze)
    max_bundle_age_days: Annotated[int, between(1, 3650, "days")] = 45


@with_config(STRICT)
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


MAX_DEPTH = 8  # tables and lists nested deeper than any setting are refused before parsing


@functools.cache
def _adapter() -> TypeAdapter[Settings]:
    """The validator of the whole schema, built once, when settings are first loaded."""
    from pydantic import TypeAdapter

    return TypeAdapter(Settings)


_TYPE_NAMES = {"int_type": "int", "string_type": "str", "bool_type": "bool",
               "float_type": "float", "tuple_type": "list", "list_type": "list",
               "dataclass_type": "table", "dict_type": "table"}


def check_depth(data: Any, source: str, limit: int = MAX_DEPTH) -> None:
    """ConfigError if ``data`` nests tables or lists deeper than ``limit`` (no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, Mapping | list | tuple):
            if depth > limit:
                hint = f"tables and lists nest at most {limit} deep"
                raise ConfigError(f"{source}: nested too deeply; {hint}", path=source, hint=hint)
            items = value.values() if isinstance(value, Mapping) else value
            stack.extend((item, depth + 1) for item in items)


def settings_document(*layers: Mapping[str, Any]) -> str:
    """The merged layers as the JSON document that is validated (TOML dates become tables no
    setting accepts); ConfigError if too deep or a value cannot be written."""
    for layer in layers:
        check_depth(layer, "settings")
    try:
        return json.dumps(merge_layers(*layers), default=_not_json, allow_nan=True)
    except ValueError as exc:  # an integer too long to write out (int_max_str_digits)
        raise _unreadable(exc) from None


def load_settings(*layers: Mapping[str, Any]) -> Settings:
    """Typed, validated settings from layered mappings; ConfigError names the bad key's path."""
    return validate_document(settings_document(*layers))


def validate_document(document: str) -> Settings:
    """Typed, validated settings from a ``settings_document``; ConfigError names the bad
    key's path."""
    from pydantic import ValidationError

    try:
        settings = _adapter().validate_json(document, strict=True)
    except ValidationError as exc:
        raise _config_error(exc.errors()[0]) from None
    except ValueError as exc:
        raise _unreadable(exc) from None
    ui = settings.ui
    if ui.idle_warning_s >= ui.idle_timeout_s:
        hint = "the warning must come before the timeout"
        raise ConfigError(
            f"ui.idle_warning_s ({ui.idle_warning_s}) must be less than ui.idle_timeout_s "
            f"({ui.idle_timeout_s}): {hint}",
            path="ui.idle_warning_s",
            hint=hint,
        )
    return settings


def _unreadable(exc: ValueError) -> ConfigError:
    return ConfigError(f"settings: a value cannot be read ({exc})", path="settings")


def _not_json(value: Any) -> dict[str, str]:
    """TOML dates and times: a table no setting accepts, named by its type."""
    return {"__toml__": type(value).__name__}


def _dotted(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def section_type(loc: tuple[int | str, ...]) -> Any:
    """The dataclass that holds the key at ``loc`` (loc names the key itself)."""
    current: Any = Settings
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        hint = typing.get_type_hints(current).get(str(part))
        if typing.get_origin(hint) is tuple:
            hint = typing.get_args(hint)[0]
        if not (is_dataclass(hint) and isinstance(hint, type)):
            return None
        current = hint
    return current


def _config_error(error: Any) -> ConfigError:
    loc = tuple(error["loc"])
    path = _dotted(loc) or "settings"
    kind = error["type"]
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        cls = section_type(loc)
        known = [f.name for f in fields(cls)] if cls is not None else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        prefix = path[: len(path) - len(str(loc[-1]))]
        hint = f"did you mean '{prefix}{close[0]}'?" if close else ""
        return ConfigError(f"unknown setting {path!r}" + (f"; {hint}" if hint else ""),
                           path=path, hint=hint)
    if kind in ("missing", "missing_keyword_argument"):
        return ConfigError(f"missing setting {path!r}", path=path)
    if kind == "not_allowed":
        hint = str(error["ctx"]["hint"])
        shown = repr(error["input"])
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        return ConfigError(f"{path} = {shown} is not allowed: {hint}", path=path, hint=hint)
    expected = _TYPE_NAMES.get(kind)
    got = error.get("input")
    got_name = (got.get("__toml__") if isinstance(got, dict) else None) or _toml_type(got)
    if expected in ("list", "table"):
        return ConfigError(f"{path} must be a {expected}, not {got_name}", path=path)
    if expected is not None:
        return ConfigError(f"{path} must be {expected}, not {got_name}", path=path,
                           expected=expected)
    return ConfigError(f"{path}: {error['msg']}", path=path)


def _toml_type(value: Any) -> str:
    if isinstance(value, dict):
        return "table"
    if isinstance(value, list):
        return "list"
    return type(value).__name__
