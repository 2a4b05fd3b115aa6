"""`kioskctl config`: show, check, sign, verify, apply, pull and confirm-or-rollback bundles."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import tomli_w

from kiosk.config_files import (
    PACKAGED_NAME,
    base_layers,
    packaged_defaults_text,
    parse_toml,
    read_config_text,
    read_toml_file,
)
from kiosk.devicekey import read_key_file
from kiosk.errors import BundleRefused, ConfigError
from kiosk.fleet.apply import (
    apply_bundle,
    confirm_or_rollback,
    read_bundle_file,
    trusted_keys,
    verify_bundle,
)
from kiosk.fleet.bundle import (
    BundlePayload,
    Targets,
    check_settings,
    check_validity,
    open_bundle,
    parse_settings_layer,
    sign_bundle,
)
from kiosk.fleet.effective import load_effective_config
from kiosk.fleet.keys import key_id, load_private_key, load_public_key, load_trusted_keys
from kiosk.fleet.pull import pull_bundle
from kiosk.i18n import translate
from kiosk.paths import KioskPaths
from kiosk.settings import SECRET_KEYS, Settings, load_settings

from ._fleet_common import cli_language, kiosk_paths, write_output_file

SECRET_NAME_PARTS = ("key", "token", "password", "secret")
MASK = "********"


def is_secret(path: str) -> bool:
    """Whether the setting at ``path`` is a secret to mask."""
    leaf = path.rsplit(".", 1)[-1].lower()
    # the name's last word decides: client_key and api_token are secrets, min_key_mm is not
    return path in SECRET_KEYS or leaf.rsplit("_", 1)[-1] in SECRET_NAME_PARTS


def settings_mapping(settings: Settings, masked: bool = True) -> dict[str, Any]:
    """Settings as plain TOML-ready data; secrets replaced by a mask when set."""

    def plain(value: Any, path: str) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {
                f.name: plain(getattr(value, f.name), f"{path}.{f.name}" if path else f.name)
                for f in dataclasses.fields(value)
                if getattr(value, f.name) is not None
            }
        if isinstance(value, tuple | list):
            return [plain(item, path) for item in value]
        if masked and value not in ("", None) and is_secret(path):
            return MASK
        return value

    result: dict[str, Any] = plain(settings, "")
    return result


def report_error(error: ConfigError, lang: str) -> int:
    """Print a config error or refusal with its translated reason; exit code 1."""
    if isinstance(error, BundleRefused):
        reason = translate(f"fleet.reason.{error.reason}", lang)
        print(translate("fleet.refused", lang, reason=error.reason, text=reason), file=sys.stderr)
    else:
        print(translate("fleet.config_invalid", lang), file=sys.stderr)
    print(f"  {error.detail}", file=sys.stderr)
    hint = error.data.get("hint")
    if hint and str(hint) not in error.detail:
        print(f"  {translate('fleet.hint', lang)}: {hint}", file=sys.stderr)
    return 1


def _show(args: argparse.Namespace) -> int:
    paths = kiosk_paths()
    lang = cli_language()
    extra = Path(args.config) if args.config else None
    try:
        config = load_effective_config(paths, extra)
    except ConfigError as exc:
        return report_error(exc, lang)
    data = settings_mapping(config.settings)
    if args.json:
        layers = [{"name": layer.name, "source": layer.source} for layer in config.layers]
        document = {"bundle_version": config.bundle_version, "layers": layers, "settings": data}
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    for layer in config.layers:
        print(f"# layer {layer.name}: {layer.source}")
    print(f"# bundle version: {config.bundle_version}")
    print(tomli_w.dumps(data), end="")
    return 0


def _check(args: argparse.Namespace) -> int:
    lang = cli_language()
    try:
        packaged = parse_toml(packaged_defaults_text(), PACKAGED_NAME)
        load_settings(packaged, read_toml_file(Path(args.file)))
    except ConfigError as exc:
        return report_error(exc, lang)
    print(translate("fleet.check_ok", lang, file=args.file))
    return 0


def _schema(args: argparse.Namespace) -> int:
    from kiosk.config_schema import render_schema

    print(render_schema())
    return 0


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("use an ISO time, e.g. 2027-01-31T12:00+00:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _bundle_version(text: str) -> int:
    try:
        version = int(text)
    except ValueError:
        version = 0
    if version < 1:
        raise argparse.ArgumentTypeError("use a whole number of 1 or more")
    return version


def _public_key_text(path: str) -> str:
    """A --trust-key file's text; ConfigError naming it if it is no small text file."""
    try:
        return read_key_file(Path(path)).decode("ascii")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the public key ({exc.strerror or exc})",
                          path=path) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a PEM public key ({exc.reason})", path=path) from None


def _sign(args: argparse.Namespace) -> int:
    lang = cli_language()
    try:
        settings_text = read_config_text(Path(args.settings))
        packaged = parse_toml(packaged_defaults_text(), PACKAGED_NAME)
        check_settings(parse_settings_layer(settings_text), [packaged])
        now = datetime.now(UTC)
        payload = BundlePayload(
            version=args.version,
            issued_at=now,
            not_before=args.not_before,
            not_after=args.not_after or now + timedelta(days=args.valid_days),
            settings_toml=settings_text,
            targets=Targets(tuple(args.kiosk), tuple(args.office)),
            comment=args.comment,
            trust_add=tuple(_public_key_text(p) for p in args.trust_key),
            trust_revoke=tuple(args.revoke_key),
        )
        raw = sign_bundle(payload, load_private_key(Path(args.key)))
    except (OSError, ValueError) as exc:
        print(f"{args.settings}: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:
        return report_error(exc, lang)
    try:
        write_output_file(Path(args.output), raw)
    except OSError as exc:
        print(translate("fleet.unwritable", lang, file=args.output,
                        error=exc.strerror or str(exc)), file=sys.stderr)
        return 1
    print(translate("fleet.signed", lang, file=args.output, version=args.version))
    return 0


def _describe(payload: BundlePayload, signer: str) -> dict[str, Any]:
    return {
        "version": payload.version,
        "key_id": signer,
        "issued_at": payload.issued_at.isoformat(),
        "not_before": payload.not_before.isoformat() if payload.not_before else None,
        "not_after": payload.not_after.isoformat(),
        "targets": {
            "kiosk_ids": list(payload.targets.kiosk_ids),
            "card_offices": list(payload.targets.card_offices),
        },
        "comment": payload.comment,
        "trust": {
            "add": [key_id(load_public_key(p.encode(), "trust")) for p in payload.trust_add],
            "revoke": list(payload.trust_revoke),
        },
    }


def _verify(args: argparse.Namespace) -> int:
    paths = kiosk_paths()
    lang = cli_language()
    try:
        raw = read_bundle_file(Path(args.bundle))
        keys = load_trusted_keys(Path(args.keys)) if args.keys else trusted_keys(paths)
        bundle = open_bundle(raw, keys)
        check_validity(bundle.payload, datetime.now(UTC))
        check_settings(bundle.layer, [layer.data for layer in base_layers(paths)])
    except ConfigError as exc:
        return report_error(exc, lang)
    print(json.dumps(_describe(bundle.payload, bundle.key_id), indent=2))
    print(translate("fleet.verified", lang, version=bundle.version), file=sys.stderr)
    return 0


def _apply(args: argparse.Namespace) -> int:
    paths = kiosk_paths()
    lang = cli_language()
    try:
        raw = read_bundle_file(Path(args.bundle))
        if args.dry_run:
            bundle, _ = verify_bundle(raw, paths)
            print(translate("fleet.would_apply", lang, version=bundle.version))
            return 0
        result = apply_bundle(raw, paths)
    except ConfigError as exc:
        return report_error(exc, lang)
    print(
        translate(
            "fleet.applied",
            lang,
            version=result.version,
            previous=result.previous_version,
            deadline=result.deadline.isoformat(timespec="seconds"),
        )
    )
    return 0


def _confirm_or_rollback(args: argparse.Namespace) -> int:
    paths = kiosk_paths()
    lang = cli_language()
    try:
        outcome = confirm_or_rollback(paths)
    except ConfigError as exc:
        return report_error(exc, lang)
    if args.json:
        print(json.dumps(dataclasses.asdict(outcome)))
        return 0
    print(
        translate(
            f"fleet.outcome.{outcome.action}",
            lang,
            version=outcome.version,
            restored=outcome.restored_version,
        )
    )
    return 0


def _pull(args: argparse.Namespace) -> int:
    paths: KioskPaths = kiosk_paths()
    lang = cli_language()
    try:
        settings = load_effective_config(paths).settings
        url = args.url or settings.fleet.pull_url
        if not url:
            print(translate("fleet.no_pull_url", lang))
            return 0  # a push-only fleet: the pull timer has nothing to do
        result = pull_bundle(url, paths, settings.fleet)
    except ConfigError as exc:
        return report_error(exc, lang)
    version = result.applied.version if result.applied else 0
    print(translate(f"fleet.pull.{result.action}", lang, url=url, version=version))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `kioskctl config ...`."""
    parser = subparsers.add_parser("config", help="show, check and apply settings and bundles")
    sub = parser.add_subparsers(dest="config_command", required=True)

    show = sub.add_parser("show", help="the settings in force, secrets masked")
    show.add_argument("--json", action="store_true", help="JSON with the layers")
    show.set_defaults(func=_show)

    check = sub.add_parser("check", help="check a settings file against the schema")
    check.add_argument("file")
    check.set_defaults(func=_check)

    schema = sub.add_parser("schema", help="the settings schema as Markdown (config/SCHEMA.md)")
    schema.set_defaults(func=_schema)

    sign = sub.add_parser("sign", help="sign a settings file into a bundle")
    sign.add_argument("settings", help="settings TOML (the bundle layer)")
    sign.add_argument("-o", "--output", required=True, help="bundle file to write")
    sign.add_argument("--key", required=True, help="Ed25519 private key (PEM)")
    sign.add_argument("--version", required=True, type=_bundle_version,
                      help="bundle version (> current)")
    sign.add_argument("--kiosk", action="append", default=[], help="target kiosk id (repeat)")
    sign.add_argument("--office", action="append", default=[], help="target card office")
    sign.add_argument("--not-before", type=_parse_time, help="ISO time the bundle becomes valid")
    sign.add_argument("--not-after", type=_parse_time, help="ISO time the bundle expires")
    sign.add_argument("--valid-days", type=int, default=60, help="expiry if no --not-after")
    sign.add_argument("--comment", default="", help="free text kept in the bundle")
    sign.add_argument("--trust-key", action="append", default=[], metavar="PUB",
                      help="also trust this public key (repeat in every bundle; rotation)")
    sign.add_argument("--revoke-key", action="append", default=[], metavar="KEY_ID",
                      help="stop trusting this key id (repeat in every bundle)")
    sign.set_defaults(func=_sign)

    verify = sub.add_parser("verify", help="verify a bundle's signature, window and settings")
    verify.add_argument("bundle")
    verify.add_argument("--keys", help="trusted keys directory (default: fleet-keys)")
    verify.set_defaults(func=_verify)

    apply = sub.add_parser("apply", help="verify and apply a bundle atomically")
    apply.add_argument("bundle")
    apply.add_argument("--dry-run", action="store_true", help="check only, write nothing")
    apply.set_defaults(func=_apply)

    pull = sub.add_parser("pull", help="fetch the current bundle over HTTPS and apply it")
    pull.add_argument("url", nargs="?", default="", help="default: fleet.pull_url")
    pull.set_defaults(func=_pull)

    confirm = sub.add_parser(
        "confirm-or-rollback", help="confirm a healthy new bundle or roll back a late one"
    )
    confirm.add_argument("--json", action="store_true", help="the outcome as JSON")
    confirm.set_defaults(func=_confirm_or_rollback)
