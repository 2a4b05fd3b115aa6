"""The signed config bundle: format, signing, and verification before any payload parsing.

A bundle is a small JSON envelope::

    {"format": "kiosk-config-bundle/1", "key_id": "<32 hex>",
     "signature": "<base64 Ed25519 signature>", "payload": "<base64 payload bytes>"}

The signature covers ``b"kiosk-config-bundle/1\\0" + payload bytes``. Only after it
verifies against a trusted fleet key are the payload bytes parsed: a JSON object with
``version``, ``issued_at``, ``not_before``, ``not_after``, ``targets`` (``kiosk_ids``,
``card_offices``; both empty = every kiosk), ``settings`` (TOML text, the bundle layer)
and ``trust`` (``add``: PEM public keys trusted besides /etc/kiosk/fleet-keys, ``revoke``:
key ids no longer trusted). Trust is declarative: each bundle states the whole set, so
it is applied, kept and rolled back together with the settings.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk.config_files import parse_toml
from kiosk.errors import BundleRefused, ConfigError
from kiosk.fleet.keys import key_id, load_public_key
from kiosk.settings import Settings, load_settings

FORMAT = "kiosk-config-bundle/1"
DOMAIN_TAG = FORMAT.encode() + b"\0"
MAX_BUNDLE_BYTES = 1 << 20
FORBIDDEN_SECTIONS = ("kiosk", "paths")  # per-device identity and where bundles live
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Targets:
    """Which kiosks a bundle is for; both empty means every kiosk."""

    kiosk_ids: tuple[str, ...] = ()
    card_offices: tuple[str, ...] = ()

    def matches(self, kiosk_id: str, card_office: str) -> bool:
        """Whether a kiosk with this id and card office is a target."""
        if not self.kiosk_ids and not self.card_offices:
            return True
        return kiosk_id in self.kiosk_ids or card_office in self.card_offices


@dataclass(frozen=True)
class BundlePayload:
    """The signed content of a bundle."""

    version: int
    issued_at: datetime
    not_after: datetime
    settings_toml: str
    not_before: datetime | None = None
    targets: Targets = field(default_factory=Targets)
    comment: str = ""
    trust_add: tuple[str, ...] = ()  # PEM public keys
    trust_revoke: tuple[str, ...] = ()  # key ids


@dataclass(frozen=True)
class VerifiedBundle:
    """A bundle whose signature verified, with its parsed payload and settings layer."""

    key_id: str
    payload: BundlePayload
    layer: dict[str, Any]
    raw: bytes

    @property
    def version(self) -> int:
        """The bundle's version."""
        return self.payload.version


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign_bundle(payload: BundlePayload, private_key: Ed25519PrivateKey) -> bytes:
    """The bundle bytes for ``payload`` signed with ``private_key``."""
    body = {
        "version": payload.version,
        "issued_at": _iso(payload.issued_at),
        "not_before": _iso(payload.not_before) if payload.not_before else None,
        "not_after": _iso(payload.not_after),
        "targets": {
            "kiosk_ids": list(payload.targets.kiosk_ids),
            "card_offices": list(payload.targets.card_offices),
        },
        "settings": payload.settings_toml,
        "comment": payload.comment,
        "trust": {"add": list(payload.trust_add), "revoke": list(payload.trust_revoke)},
    }
    payload_bytes = json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
    envelope = {
        "format": FORMAT,
        "key_id": key_id(private_key.public_key()),
        "signature": base64.b64encode(private_key.sign(DOMAIN_TAG + payload_bytes)).decode(),
        "payload": base64.b64encode(payload_bytes).decode(),
    }
    return (json.dumps(envelope, indent=1) + "\n").encode()


def _b64(value: object, name: str) -> bytes:
    if not isinstance(value, str):
        raise BundleRefused("malformed_bundle", f"envelope field {name!r} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BundleRefused("malformed_bundle", f"envelope field {name!r} is not base64") from exc


def verify_signature(raw: bytes, trusted: Mapping[str, Ed25519PublicKey]) -> tuple[str, bytes]:
    """Check the envelope's signature; returns (key id, payload bytes) still unparsed."""
    if len(raw) > MAX_BUNDLE_BYTES:
        raise BundleRefused("malformed_bundle", f"bundle is larger than {MAX_BUNDLE_BYTES} bytes")
    try:
        envelope = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BundleRefused("malformed_bundle", "not a config bundle (bad JSON envelope)") from exc
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        raise BundleRefused("malformed_bundle", f"not a {FORMAT} envelope")
    kid = envelope.get("key_id")
    if not trusted:
        raise BundleRefused("no_trusted_keys", "no trusted fleet keys are installed")
    if not isinstance(kid, str) or kid not in trusted:
        raise BundleRefused("unknown_key_id", f"bundle signed by untrusted key {kid!r}", key_id=kid)
    signature = _b64(envelope.get("signature"), "signature")
    payload = _b64(envelope.get("payload"), "payload")
    try:
        trusted[kid].verify(signature, DOMAIN_TAG + payload)
    except InvalidSignature as exc:
        raise BundleRefused(
            "bad_signature", f"signature does not verify with key {kid}", key_id=kid
        ) from exc
    return kid, payload


def _time(value: object, name: str, required: bool) -> datetime | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise BundleRefused("malformed_bundle", f"payload field {name!r} is missing")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BundleRefused("malformed_bundle", f"payload field {name!r} is not a time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _strings(value: object, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BundleRefused("malformed_bundle", f"{name} must be a list of strings")
    return tuple(value)


def _trusted_pems(value: object) -> tuple[str, ...]:
    pems = _strings(value, "trust.add")
    for pem in pems:
        try:
            load_public_key(pem.encode(), "trust.add")
        except ConfigError as exc:
            raise BundleRefused("malformed_bundle", f"trust.add: {exc.detail}") from exc
    return pems


def parse_payload(payload_bytes: bytes) -> BundlePayload:
    """The payload's fields; BundleRefused('malformed_bundle') if any is missing or wrong."""
    try:
        body = json.loads(payload_bytes)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BundleRefused("malformed_bundle", "payload is not JSON") from exc
    if not isinstance(body, dict):
        raise BundleRefused("malformed_bundle", "payload is not a JSON object")
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BundleRefused("malformed_bundle", "payload version must be a positive integer")
    settings = body.get("settings")
    if not isinstance(settings, str):
        raise BundleRefused("malformed_bundle", "payload has no settings text")
    targets = body.get("targets") or {}
    trust = body.get("trust") or {}
    if not isinstance(targets, dict) or not isinstance(trust, dict):
        raise BundleRefused("malformed_bundle", "payload targets and trust must be objects")
    issued_at = _time(body.get("issued_at"), "issued_at", True)
    not_after = _time(body.get("not_after"), "not_after", True)
    assert issued_at is not None and not_after is not None  # noqa: S101 -- required=True
    return BundlePayload(
        version=version,
        issued_at=issued_at,
        not_after=not_after,
        not_before=_time(body.get("not_before"), "not_before", False),
        settings_toml=settings,
        targets=Targets(
            _strings(targets.get("kiosk_ids", []), "targets.kiosk_ids"),
            _strings(targets.get("card_offices", []), "targets.card_offices"),
        ),
        comment=str(body.get("comment", "")),
        trust_add=_trusted_pems(trust.get("add", [])),
        trust_revoke=_strings(trust.get("revoke", []), "trust.revoke"),
    )


def parse_settings_layer(text: str) -> dict[str, Any]:
    """The bundle's settings TOML as a mapping; refused if malformed or touching identity."""
    try:
        layer = parse_toml(text, "settings inside the bundle")
    except ConfigError as exc:
        raise BundleRefused("malformed_settings", exc.detail) from exc
    for section in FORBIDDEN_SECTIONS:
        if section in layer:
            raise BundleRefused(
                "forbidden_section",
                f"a bundle may not set [{section}]: it is per-device, set in /etc/kiosk",
                path=section,
            )
    return layer


def open_bundle(raw: bytes, trusted: Mapping[str, Ed25519PublicKey]) -> VerifiedBundle:
    """Verify the signature, then parse payload and settings (never the other way round)."""
    kid, payload_bytes = verify_signature(raw, trusted)
    payload = parse_payload(payload_bytes)
    return VerifiedBundle(kid, payload, parse_settings_layer(payload.settings_toml), raw)


def check_validity(
    payload: BundlePayload, now: datetime, max_age: timedelta | None = None
) -> None:
    """Refuse a bundle outside its validity window, or (when pulled) signed too long ago."""
    if payload.not_before is not None and now + CLOCK_SKEW < payload.not_before:
        since = _iso(payload.not_before)
        raise BundleRefused("not_yet_valid", f"valid from {since}", not_before=since)
    if now >= payload.not_after:
        raise BundleRefused(
            "expired", f"expired at {_iso(payload.not_after)}", not_after=_iso(payload.not_after)
        )
    if max_age is not None and now - payload.issued_at > max_age:
        raise BundleRefused(
            "stale",
            f"signed at {_iso(payload.issued_at)}, older than {max_age.days} days",
            issued_at=_iso(payload.issued_at),
        )


def check_target(payload: BundlePayload, base: Settings) -> None:
    """Refuse a bundle not meant for this kiosk (identity comes from the base layers)."""
    if not payload.targets.matches(base.kiosk.kiosk_id, base.kiosk.card_office):
        raise BundleRefused(
            "wrong_target",
            f"bundle is not for kiosk {base.kiosk.kiosk_id!r} in {base.kiosk.card_office!r}",
            kiosk_id=base.kiosk.kiosk_id,
        )


def check_settings(layer: Mapping[str, Any], base_layers: Sequence[Mapping[str, Any]]) -> Settings:
    """The settings the bundle would produce over the base layers; refused if invalid."""
    try:
        return load_settings(*base_layers, layer)
    except BundleRefused:
        raise
    except ConfigError as exc:
        raise BundleRefused(
            "invalid_settings",
            f"settings inside the bundle: {exc.detail}",
            path=exc.data.get("path", ""),
            hint=exc.data.get("hint", ""),
        ) from exc


def trusted_after(
    base: Mapping[str, Ed25519PublicKey], payload: BundlePayload
) -> dict[str, Ed25519PublicKey]:
    """The trusted keys once ``payload`` is applied: base plus its additions, minus revoked."""
    keys = dict(base)
    for pem in payload.trust_add:
        key = load_public_key(pem.encode(), "trust.add")
        keys[key_id(key)] = key
    for revoked in payload.trust_revoke:
        keys.pop(revoked, None)
    return keys
