"""The card's certificates after a `kioskctl demo visit`: read back from the card's token
(SoftHSM2 in the demo), with whether each one's private key is on the card.

A private key shows only after a login (CKA_PRIVATE), so the key check logs in with the
PINs the demo cast and the visit's script leave on the card (``card_pins``); where the
PIN is not known (a card whose visit failed, a signature PIN nobody chose) the answer is
``None``, never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography import x509

from kiosk import demo_cast
from kiosk.errors import KioskError
from kiosk.model import CardStatus, CertificateInfo
from kiosk.ports import CertificateToken, PinRole

# x509.KeyUsage's attribute and the name RFC 5280 gives the bit
KEY_USAGE_NAMES = (
    ("digital_signature", "digitalSignature"),
    ("content_commitment", "nonRepudiation"),
    ("key_encipherment", "keyEncipherment"),
    ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"),
    ("key_cert_sign", "keyCertSign"),
    ("crl_sign", "cRLSign"),
)


def card_pins(
    holder: demo_cast.DemoHolder,
    authentication: str | None = None,
    signature: str | None = None,
) -> dict[PinRole, str | None]:
    """The PINs on the holder's card after a visit: those the visit's script set
    (``authentication``, ``signature``), else the cast's (an Aktiv card's)."""
    active = holder.card_status is CardStatus.ACTIVE
    return {
        PinRole.AUTHENTICATION: authentication or (demo_cast.DEMO_ACTIVE_PIN if active else None),
        PinRole.SIGNATURE: signature
        or (demo_cast.DEMO_SIGNATURE_PIN if active and holder.signature_certificate else None),
    }


def key_usage(der: bytes) -> list[str]:
    """The certificate's key usage bits by their RFC 5280 names (empty without the extension)."""
    cert = x509.load_der_x509_certificate(der)
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return []
    return [name for attribute, name in KEY_USAGE_NAMES if getattr(usage, attribute)]


def _key_ids(
    token: Any, pins: Mapping[PinRole, str | None]
) -> tuple[dict[PinRole, frozenset[bytes]], bool]:
    """The private-key ids under each PIN that is known, and whether every PIN of the card
    was read (a role whose PIN is unknown or whose login fails is left out)."""
    if not isinstance(token, CertificateToken):
        return {}, False
    roles = [PinRole.AUTHENTICATION] + ([PinRole.SIGNATURE] if token.has_signature_pin() else [])
    found: dict[PinRole, frozenset[bytes]] = {}
    for role in roles:
        pin = pins.get(role)
        if pin is None:
            continue
        try:
            found[role] = token.private_key_ids(role, pin)
        except KioskError:
            continue
    return found, len(found) == len(roles)


def describe(
    info: CertificateInfo,
    keys: Mapping[PinRole, frozenset[bytes]],
    now: datetime,
    every_pin_read: bool = False,
) -> dict[str, Any]:
    """One certificate for the report: who, by whom, for what, until when, key on the card
    (True; False only when every PIN's keys were read; else None: not known)."""
    on_card: bool | None = None
    role: str | None = None
    for pin_role, ids in keys.items():
        if info.key_id and info.key_id in ids:
            on_card, role = True, pin_role.value
            break
    if on_card is None and every_pin_read:
        on_card = False
    return {
        "label": info.label,
        "usage": info.usage,
        "subject": info.subject,
        "issuer": info.issuer,
        "serial": format(info.serial, "x"),
        "key_usage": key_usage(info.der),
        "not_after": info.not_after.isoformat(),
        "days_left": max((info.not_after - now).days, 0),
        "chain_valid": info.chain_valid,
        "key_id": info.key_id.hex(),
        "key_on_card": on_card,
        "key_pin": role,
    }


def card_certificates(
    services: Any, card_number: str, pins: Mapping[PinRole, str | None]
) -> list[dict[str, Any]]:
    """The certificates on the card ``card_number`` (put back in the simulated reader), each
    with its key usage and whether its private key is on the card."""
    services.deck.insert(card_number)
    token = services.tokens.open()
    infos = token.certificates()
    keys, every_pin_read = _key_ids(token, pins)
    now = datetime.now(UTC)
    return [describe(info, keys, now, every_pin_read) for info in infos]
