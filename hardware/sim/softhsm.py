"""SoftHSM2 token directories and provisioning of demo/test card tokens."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from pathlib import Path

import pkcs11
from cryptography.hazmat.primitives import serialization
from pkcs11 import Attribute
from pkcs11.util.rsa import decode_rsa_private_key
from pkcs11.util.x509 import decode_x509_certificate

from hardware.pkcs11.errors import pkcs11_error
from hardware.pkcs11.module import Pkcs11Module
from hardware.sim.democa import (
    ADDITIONAL_ID,
    ADDITIONAL_LABEL,
    AUTH_ID,
    CA_ID,
    SIGN_ID,
    IssuedKey,
    PersonCredentials,
)
from kiosk.errors import TokenError


def token_label(card_number: str) -> str:
    """The token label of a simulated card (the provider finds tokens by card number)."""
    return f"SITHS {card_number}"


def signature_token_label(card_number: str) -> str:
    """The label of a simulated two-PIN card's signature-PIN token (SoftHSM2 has one user
    PIN per token, so a demo card with a signature PIN is two tokens; see
    hardware.pkcs11.token.SIGNATURE_LABEL_MARKS)."""
    return f"{token_label(card_number)} PIN2"


def write_softhsm_conf(directory: Path) -> Path:
    """A SoftHSM2 config whose tokens live in ``directory``/tokens; returns its path."""
    tokens = directory / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
    )
    return conf


def init_token(conf: Path, label: str, so_pin: str, user_pin: str) -> None:
    """Create a token in the first free slot with softhsm2-util."""
    tool = shutil.which("softhsm2-util")
    if tool is None:
        raise TokenError("softhsm2-util is not installed")
    result = subprocess.run(  # noqa: S603 -- fixed tool, no shell; PINs never logged
        [tool, "--init-token", "--free", "--label", label, "--so-pin", so_pin, "--pin", user_pin],
        env={"SOFTHSM2_CONF": str(conf), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise TokenError(f"softhsm2-util could not create token {label}: {result.stderr.strip()}")


def random_pin() -> str:
    """A throw-away user PIN for provisioning a card whose holder has not chosen one yet."""
    return f"{secrets.randbelow(10**6):06d}"


def _private_key_template(issued: IssuedKey, key_id: bytes, label: str) -> dict[Attribute, object]:
    pkcs1 = issued.key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    attrs: dict[Attribute, object] = dict(decode_rsa_private_key(pkcs1))
    attrs.update(
        {
            Attribute.ID: key_id,
            Attribute.LABEL: label,
            Attribute.TOKEN: True,
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
        }
    )
    return attrs


def _certificate_template(der: bytes, key_id: bytes, label: str) -> dict[Attribute, object]:
    attrs: dict[Attribute, object] = dict(decode_x509_certificate(der))
    attrs.update({Attribute.ID: key_id, Attribute.LABEL: label, Attribute.TOKEN: True})
    return attrs


def store_credentials(
    module: Pkcs11Module,
    label: str,
    user_pin: str,
    creds: PersonCredentials,
    with_signature: bool = True,
) -> None:
    """Put the person's keys, their certificates and the issuing CA on the token: the
    authentication pair, the additional one if any, and (``with_signature``: a one-PIN
    card) the signature pair."""
    pairs = [(AUTH_ID, "Legitimering", creds.authentication)]
    if with_signature:
        pairs.append((SIGN_ID, "Underskrift", creds.signature))
    if creds.additional is not None:
        pairs.append((ADDITIONAL_ID, ADDITIONAL_LABEL, creds.additional))
    _store(module, label, user_pin, pairs, creds)


def store_signature_credentials(
    module: Pkcs11Module, label: str, user_pin: str, creds: PersonCredentials
) -> None:
    """Put the signature key pair, its certificate and the issuing CA on a two-PIN card's
    signature-PIN token (``signature_token_label``)."""
    _store(module, label, user_pin, [(SIGN_ID, "Underskrift", creds.signature)], creds)


def _store(
    module: Pkcs11Module,
    label: str,
    user_pin: str,
    pairs: list[tuple[bytes, str, IssuedKey]],
    creds: PersonCredentials,
) -> None:
    ca_der = creds.issuing_ca.public_bytes(serialization.Encoding.DER)
    with module.lock:
        try:
            token = module.lib.get_token(token_label=label)
            with token.open(rw=True, user_pin=user_pin) as session:
                for key_id, name, issued in pairs:
                    session.create_object(_private_key_template(issued, key_id, name))
                    session.create_object(_certificate_template(issued.cert_der, key_id, name))
                session.create_object(_certificate_template(ca_der, CA_ID, "Utfärdare"))
        except pkcs11.PKCS11Error as exc:
            raise pkcs11_error(exc, "provision token") from None


def reset_user_pin(module: Pkcs11Module, label: str, so_pin: str, user_pin: str) -> None:
    """Set the token's user PIN as SO (the demo puts cards back in their cast state)."""
    with module.lock:
        try:
            token = module.lib.get_token(token_label=label)
            with token.open(rw=True, so_pin=so_pin) as session:
                session.init_pin(user_pin)
        except pkcs11.PKCS11Error as exc:
            module.reinitialize()
            raise pkcs11_error(exc, "reset demo PIN") from None


def token_labels(module: Pkcs11Module) -> set[str]:
    """Labels of the initialised tokens the module shows now."""
    with module.lock:
        try:
            return {
                slot.get_token().label
                for slot in module.lib.get_slots(token_present=True)
                if slot.get_token().flags & pkcs11.TokenFlag.TOKEN_INITIALIZED
            }
        except pkcs11.PKCS11Error as exc:
            raise pkcs11_error(exc, "list tokens") from None
