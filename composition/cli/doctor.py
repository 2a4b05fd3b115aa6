"""`kioskctl doctor [--json]`: can this kiosk talk to its card reader, tokens, camera and portal?

Each check reports ok, warn or fail with a fix in words; the exit code is 1 when
something the configured kiosk needs is missing. Device libraries are imported inside
the checks only.
"""

from __future__ import annotations

import argparse
import glob
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from kiosk.errors import ConfigError, KioskError
from kiosk.i18n import translate
from kiosk.settings import Settings
from kiosk.urls import check_tls_file

OK, WARN, FAIL = "ok", "warn", "fail"
MAX_CLOCK_SKEW_S = 300
EARLIEST_SANE_YEAR = 2025


@dataclass
class Check:
    """One doctor finding: ``fix`` is a translation key with ``params``."""

    name: str
    status: str
    detail: str
    fix: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)


SIMULATED_READERS = ("memory", "emulated")


def check_reader(settings: Settings, demo: bool = True) -> list[Check]:
    """PC/SC readers, the cards in them and their classification. Outside demo mode a
    simulated reader fails: the kiosk refuses to start with one."""
    hw = settings.hardware
    if hw.reader in SIMULATED_READERS and not demo:
        return [Check("reader", FAIL, f"hardware.reader = {hw.reader!r} is a simulation; "
                      "a kiosk outside demo mode needs 'pcsc'", "doctor.fix.simulated_reader",
                      {"reader": hw.reader})]
    if hw.reader == "memory":
        return [Check("reader", OK, "simulated reader (memory): no hardware needed")]
    try:
        from hardware.pcsc import PcscReader
    except ImportError as exc:
        return [Check("reader", FAIL, f"pyscard is not installed: {exc}", "doctor.fix.pyscard")]
    reader = PcscReader.from_settings(hw)
    try:
        names = reader.readers()
    except KioskError as exc:
        return [Check("reader", FAIL, exc.detail, "doctor.fix.pcscd")]
    if not names:
        return [
            Check(
                "reader",
                FAIL,
                "pcscd runs but shows no card reader",
                "doctor.fix.no_reader",
                {"name": hw.reader_name or "*"},
            )
        ]
    checks = []
    for name in names:
        facts: dict[str, Any] = {"reader": name, "pin_pad": reader.has_pin_pad(name)}
        try:
            card = reader.identify(name)
        except KioskError as exc:
            facts["card"] = None
            detail = f"{name}: no card ({exc.code})"
        else:
            facts["card"] = {
                "atr": card.atr.hex(" ").upper(),
                "class": card.card_class.value,
                "generation": card.generation,
                "issuer": card.issuer,
                "card_number": card.card_number,
            }
            detail = f"{name}: {card.card_class.value} card {card.card_number or ''}".rstrip()
        checks.append(Check("reader", OK, detail, facts=facts))
    reader.close()
    return checks


def check_token(
    settings: Settings, softhsm_conf: Path | None = None, demo: bool = True
) -> list[Check]:
    """The PKCS#11 module and the tokens it shows (SoftHSM2: the demo's token directory).

    Outside demo mode the kiosk loads hardware.pkcs11_module whatever hardware.token says
    (memory and softhsm are the demo's tokens): so does this check.
    """
    hw = settings.hardware
    backend = hw.token if demo else "pkcs11"
    if backend == "memory":
        return [Check("pkcs11", OK, "in-memory demo tokens: no PKCS#11 module needed")]
    try:
        from hardware.pkcs11.module import Pkcs11Module, find_softhsm_module
    except ImportError as exc:
        return [Check("pkcs11", FAIL, f"python-pkcs11 is missing: {exc}", "doctor.fix.pkcs11_lib")]
    path = hw.pkcs11_module or (find_softhsm_module() if backend == "softhsm" else None)
    if not path:
        if backend == "softhsm":
            return [
                Check(
                    "pkcs11",
                    WARN,
                    "SoftHSM2 is not installed: the demo uses memory tokens",
                    "doctor.fix.softhsm",
                )
            ]
        return [Check("pkcs11", FAIL, "hardware.pkcs11_module is not set", "doctor.fix.module")]
    if not Path(path).exists():
        return [
            Check(
                "pkcs11",
                FAIL,
                f"PKCS#11 module {path} does not exist",
                "doctor.fix.module",
                {"path": path},
            )
        ]
    try:
        conf = softhsm_conf if softhsm_conf and softhsm_conf.exists() else None
        module = Pkcs11Module.load(path, conf)
        slots = module.lib.get_slots(token_present=True)
        tokens = [s.get_token() for s in slots]
    except Exception as exc:  # any module failure is a finding, not a crash
        return [
            Check(
                "pkcs11",
                FAIL,
                f"PKCS#11 module {path} failed: {exc}",
                "doctor.fix.module",
                {"path": path},
            )
        ]
    facts = {
        "module": path,
        "manufacturer": module.lib.manufacturer_id,
        "tokens": [
            {
                "label": t.label,
                "model": t.model,
                "initialised": _initialised(t),
                "pin_pad": _protected_path(t),
            }
            for t in tokens
        ],
    }
    return [Check("pkcs11", OK, f"{path}: {len(tokens)} token(s)", facts=facts)]


def _initialised(token: Any) -> bool:
    from pkcs11 import TokenFlag

    return bool(token.flags & TokenFlag.TOKEN_INITIALIZED)


def _protected_path(token: Any) -> bool:
    """Whether the module takes PINs on the reader's own pad for this token."""
    from pkcs11 import TokenFlag

    return bool(token.flags & TokenFlag.PROTECTED_AUTHENTICATION_PATH)


def check_camera(settings: Settings) -> list[Check]:
    """Video devices, and the one the camera source names."""
    devices = sorted(glob.glob("/dev/video*"))
    source = settings.camera.source
    facts = {"devices": devices, "source": source}
    if source.startswith("v4l2:"):
        wanted = source.removeprefix("v4l2:")
        device = wanted if wanted.startswith("/dev/") else f"/dev/video{wanted}"
        if device not in devices:
            return [
                Check(
                    "camera",
                    FAIL,
                    f"camera {device} is missing",
                    "doctor.fix.camera",
                    {"device": device},
                    facts,
                )
            ]
        return [Check("camera", OK, f"camera {device} present", facts=facts)]
    return [Check("camera", OK, f"camera source {source} (no device needed)", facts=facts)]


def check_portal_and_clock(settings: Settings, probe_network: bool = True) -> list[Check]:
    """Portal health, and the clock against sanity and the portal's Date.

    The probe reaches the portal as the kiosk's portal client does: the same CA file and
    client certificate, and no redirect followed (a redirect is a finding: the client
    refuses it too).
    """
    now = datetime.now(UTC)
    checks: list[Check] = []
    portal_date: datetime | None = None
    url = settings.portal.url.rstrip("/") + "/api/v1/health"
    if probe_network:
        portal_date = _probe_portal(settings, url, checks)
    if now.year < EARLIEST_SANE_YEAR:
        checks.append(Check("clock", FAIL, f"the clock says {now:%Y-%m-%d}", "doctor.fix.clock"))
    elif portal_date is not None and abs((portal_date - now).total_seconds()) > MAX_CLOCK_SKEW_S:
        skew = int((portal_date - now).total_seconds())
        checks.append(
            Check(
                "clock",
                FAIL,
                f"clock differs from the portal by {skew} s",
                "doctor.fix.clock",
                {"skew": skew},
            )
        )
    else:
        checks.append(Check("clock", OK, f"{now:%Y-%m-%d %H:%M:%S} UTC"))
    return checks


def _probe_portal(settings: Settings, url: str, checks: list[Check]) -> datetime | None:
    """GET the portal's health as the portal client would; its Date when it answered 2xx."""
    import requests

    portal = settings.portal
    try:
        for what, path in (("portal.ca_file", portal.ca_file),
                           ("portal.client_cert", portal.client_cert),
                           ("portal.client_key", portal.client_key)):
            if path:
                check_tls_file(path, what)
    except ConfigError as exc:  # the TLS library would open it and wait (a FIFO) for good
        checks.append(Check("portal", FAIL, exc.detail, "doctor.fix.portal_tls",
                            {"url": portal.url}))
        return None
    cert: str | tuple[str, str] | None = None
    if portal.client_cert:
        cert = (portal.client_cert, portal.client_key) if portal.client_key else portal.client_cert
    try:
        # a redirect would lead past check_service_url, as it would the portal client's
        # calls (kiosk/portal_client.py): report it, never follow it
        with requests.get(url, timeout=3, verify=portal.ca_file or True, cert=cert,
                          allow_redirects=False, stream=True) as response:
            status = response.status_code
            location = response.headers.get("Location", "")
            date_header = response.headers.get("Date")
    except requests.exceptions.SSLError as exc:
        checks.append(Check("portal", FAIL, f"{url}: TLS failed: {exc}", "doctor.fix.portal_tls",
                            {"url": settings.portal.url}))
        return None
    except requests.RequestException as exc:
        checks.append(Check("portal", FAIL, f"{url} unreachable: {exc}", "doctor.fix.portal",
                            {"url": url}))
        return None
    if 300 <= status < 400:
        shown = _printable(location) or "-"
        checks.append(Check("portal", FAIL, f"{url} answered {status}, a redirect to {shown} "
                            "(not followed)", "doctor.fix.portal_redirect",
                            {"url": settings.portal.url, "location": shown}))
        return None
    if not 200 <= status < 300:
        checks.append(Check("portal", FAIL, f"{url} answered {status}", "doctor.fix.portal",
                            {"url": url}))
        return None
    checks.append(Check("portal", OK, f"{url} answered {status}"))
    try:
        date = parsedate_to_datetime(date_header) if date_header else None
    except (TypeError, ValueError):  # a Date the clock check cannot use
        return None
    return date.replace(tzinfo=UTC) if date is not None and date.tzinfo is None else date


def _printable(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` with control characters spelled out (a server's header
    reaches the operator's terminal)."""
    return "".join(c if c.isprintable() else f"<U+{ord(c):04X}>" for c in text[:limit])


def check_pin_pad(settings: Settings, readers: list[Check], tokens: list[Check]) -> list[Check]:
    """Where PINs are typed: whether a reader's own PIN pad is there, and used.

    The reader reports its pad over PC/SC (part 10); the kiosk uses it only when the
    PKCS#11 module does too (protected authentication path) and the setting allows it.
    """
    reader_pad = any(c.facts.get("pin_pad") for c in readers)
    module_pads = [t.get("pin_pad") for c in tokens for t in c.facts.get("tokens", [])]
    if not reader_pad and not any(module_pads):
        return []
    allowed = settings.hardware.use_reader_pin_pad
    if any(module_pads) and not allowed:
        return [Check("pin_pad", WARN, "the PKCS#11 module takes PINs on the reader's pad, "
                      "but hardware.use_reader_pin_pad is off", "doctor.fix.pin_pad_off")]
    if any(module_pads):
        return [Check("pin_pad", OK, "PINs are typed on the reader's own PIN pad")]
    if module_pads:  # tokens are there, and their module does not use the pad
        return [Check("pin_pad", WARN, "the reader has its own PIN pad, but the PKCS#11 module "
                      "does not use it: PINs are typed on the screen", "doctor.fix.pin_pad_unused")]
    return [Check("pin_pad", OK, "the reader has its own PIN pad; insert a card to see "
                  "whether the PKCS#11 module uses it")]


def check_reader_roles(settings: Settings, readers: list[Check]) -> list[Check]:
    """Which reader takes the administrator's card and which the holder's (settings
    hardware.admin_reader / holder_reader); with one reader, the idle lock that guards it."""
    hw, ui = settings.hardware, settings.ui
    if not hw.admin_reader:
        return [Check("reader_roles", OK, "one reader for both cards: the session locks after "
                      f"{ui.admin_idle_lock_s} s untouched (ui.admin_idle_lock_s)",
                      facts={"mode": "single_reader", "idle_lock_s": ui.admin_idle_lock_s})]
    names = [str(c.facts["reader"]) for c in readers if c.facts.get("reader")]
    facts: dict[str, Any] = {"mode": "two_readers", "admin_reader": hw.admin_reader,
                             "holder_reader": hw.holder_reader or "*"}
    if not names:  # a simulated reader, or none found (the reader check says which)
        return [Check("reader_roles", WARN, "two readers configured (admin reader "
                      f"{hw.admin_reader!r}); no PC/SC reader names to check them against",
                      "doctor.fix.reader_roles", {"admin": hw.admin_reader}, facts)]
    admin = [n for n in names if hw.admin_reader in n]
    holder = [n for n in names if n not in admin
              and (not hw.holder_reader or hw.holder_reader in n)]
    facts.update({"admin": admin, "holder": holder})
    if len(admin) != 1 or not holder:
        return [Check("reader_roles", FAIL, f"readers {names}: the administrator's reader "
                      f"({hw.admin_reader!r}) matches {len(admin)}, the holder's "
                      f"({hw.holder_reader or 'any other'!r}) {len(holder)}",
                      "doctor.fix.reader_roles", {"admin": hw.admin_reader}, facts)]
    return [Check("reader_roles", OK, f"administrator's card: {admin[0]}; holder's card: "
                  f"{holder[0]}; pulling the administrator's card locks the kiosk", facts=facts)]


def run_checks(
    settings: Settings,
    probe_network: bool = True,
    softhsm_conf: Path | None = None,
    demo: bool = False,
) -> list[Check]:
    """Every doctor check for these settings, for a kiosk in demo mode or not."""
    readers = check_reader(settings, demo)
    tokens = check_token(settings, softhsm_conf, demo)
    return [
        *readers,
        *check_reader_roles(settings, readers),
        *tokens,
        *check_pin_pad(settings, readers, tokens),
        *check_camera(settings),
        *check_portal_and_clock(settings, probe_network),
    ]


def _doctor(args: argparse.Namespace) -> int:
    from kiosk.fleet.effective import load_effective_config

    from ._fleet_common import cli_language, kiosk_paths

    lang = cli_language()
    paths = kiosk_paths()
    try:
        settings = load_effective_config(paths, Path(args.config) if args.config else None).settings
        softhsm_dir = settings.hardware.softhsm_dir
        conf = (Path(softhsm_dir) if softhsm_dir else paths.state_dir / "softhsm") / "softhsm2.conf"
        checks = run_checks(settings, probe_network=not args.no_network, softhsm_conf=conf,
                            demo=args.demo)
    except ConfigError as exc:
        checks = [Check("config", FAIL, exc.detail, "doctor.fix.config")]
    failed = any(c.status == FAIL for c in checks)
    if args.json:
        rows = [
            {**asdict(c), "fix": translate(c.fix, lang, **c.params) if c.fix else ""}
            for c in checks
        ]
        print(json.dumps({"ok": not failed, "checks": rows}, indent=2, ensure_ascii=False))
    else:
        for c in checks:
            print(f"{translate('doctor.status.' + c.status, lang):<6} {c.name:<8} {c.detail}")
            if c.fix:
                print(f"{'':<15} -> {translate(c.fix, lang, **c.params)}")
        print(translate("doctor.summary.fail" if failed else "doctor.summary.ok", lang))
    return 1 if failed else 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `doctor` to kioskctl."""
    parser = subparsers.add_parser("doctor", help="check readers, cards, tokens, camera, portal")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--no-network", action="store_true", help="skip the portal check")
    parser.add_argument(
        "--demo", action="store_true",
        help="check a demo kiosk (simulated reader and tokens allowed); without it they fail",
    )
    parser.set_defaults(func=_doctor)
