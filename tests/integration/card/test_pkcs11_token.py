"""Pkcs11Token on real SoftHSM2 tokens created per test."""

from __future__ import annotations

import subprocess

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from hardware.pkcs11 import Pkcs11Token
from hardware.sim.softhsm import token_label
from kiosk.errors import CardRemoved, CardUnreadable, PinRuleViolation, WrongPin
from kiosk.model import TrustLevel
from tests.conftest import require_tool
from tests.integration.card.conftest import (
    CARD_NUMBER,
    SO_PIN,
    DemoPki,
    SoftHsm,
    provider_for,
)

pytestmark = pytest.mark.softhsm

NEW_PIN = "482915"
OTHER_PIN = "730284"
RECEIPT = b"Kvittens: kort 9752210000000001 mottaget och aktiverat."


def verify(signature: bytes, token: Pkcs11Token, data: bytes) -> None:
    """Check a receipt signature with cryptography against the card's signature cert."""
    cert = next(c for c in token.certificates() if c.usage == "signature")
    public_key = x509.load_der_x509_certificate(cert.der).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())


def test_blank_token_from_pkcs11_tool_gets_its_first_pin(softhsm: SoftHsm) -> None:
    tool = require_tool("pkcs11-tool", "OpenSC tools")
    subprocess.run(
        [
            tool,
            "--module",
            softhsm.module.path,
            "--init-token",
            "--label",
            token_label(CARD_NUMBER),
            "--so-pin",
            SO_PIN,
        ],
        env={"SOFTHSM2_CONF": str(softhsm.conf), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )
    token = provider_for(softhsm).open()
    assert token.pin_status().initialised is False
    token.set_initial_pin(SO_PIN, NEW_PIN)
    assert token.pin_status().initialised is True
    assert token.certificates() == []
    token.change_pin(NEW_PIN, OTHER_PIN)
    with pytest.raises(WrongPin):
        token.change_pin(NEW_PIN, OTHER_PIN)


def test_first_pin_then_receipt_signature_verifies(card_token: Pkcs11Token) -> None:
    card_token.set_initial_pin(SO_PIN, NEW_PIN)
    signature = card_token.sign_receipt(NEW_PIN, RECEIPT)
    verify(signature, card_token, RECEIPT)
    with pytest.raises(InvalidSignature):
        verify(signature, card_token, RECEIPT + b"!")


def test_change_pin_replaces_the_old_one(card_token: Pkcs11Token) -> None:
    card_token.set_initial_pin(SO_PIN, NEW_PIN)
    card_token.change_pin(NEW_PIN, OTHER_PIN)
    with pytest.raises(WrongPin):
        card_token.sign_receipt(NEW_PIN, RECEIPT)
    verify(card_token.sign_receipt(OTHER_PIN, RECEIPT), card_token, RECEIPT)


def test_wrong_pin_is_reported_and_so_login_still_works_after_it(card_token: Pkcs11Token) -> None:
    card_token.set_initial_pin(SO_PIN, NEW_PIN)
    with pytest.raises(WrongPin) as caught:
        card_token.admin_sign_in(OTHER_PIN)
    assert caught.value.tries_left is None  # SoftHSM reports no counters (quirk)
    # python-pkcs11 leaves the failed login's session open; the SO login must still work.
    card_token.unlock_pin(SO_PIN, OTHER_PIN)
    assert card_token.admin_sign_in(OTHER_PIN).usage == "authentication"


def test_verify_pin_checks_the_pin_on_the_card_and_changes_nothing(
    card_token: Pkcs11Token,
) -> None:
    """The PIN change's first step: a login that changes nothing. SoftHSM2 never locks and
    reports no counters; after a refused login the module is re-initialised, so the next
    login (the right PIN, then the change itself) works on the same token."""
    card_token.set_initial_pin(SO_PIN, NEW_PIN)
    card_token.verify_pin(NEW_PIN)
    with pytest.raises(WrongPin) as caught:
        card_token.verify_pin(OTHER_PIN)
    assert caught.value.tries_left is None
    assert "482915" not in str(caught.value) and "730284" not in str(caught.value)
    card_token.verify_pin(NEW_PIN)  # the refused login left no session behind
    with pytest.raises(PinRuleViolation):
        card_token.verify_pin("12a456")  # refused before the token sees it
    card_token.change_pin(NEW_PIN, OTHER_PIN)
    with pytest.raises(WrongPin):
        card_token.verify_pin(NEW_PIN)
    card_token.verify_pin(OTHER_PIN)
    verify(card_token.sign_receipt(OTHER_PIN, RECEIPT), card_token, RECEIPT)


def test_unlock_with_so_credential_sets_a_new_pin(card_token: Pkcs11Token) -> None:
    card_token.set_initial_pin(SO_PIN, NEW_PIN)
    with pytest.raises(WrongPin):
        card_token.unlock_pin("SO-wrong", OTHER_PIN)
    card_token.unlock_pin(SO_PIN, OTHER_PIN)
    verify(card_token.sign_receipt(OTHER_PIN, RECEIPT), card_token, RECEIPT)


@pytest.mark.parametrize(
    ("pin", "rule"), [("1234", "length"), ("1234567", "length"), ("12a456", "digits")]
)
def test_pin_of_wrong_format_is_refused_before_the_token_sees_it(
    card_token: Pkcs11Token, pin: str, rule: str
) -> None:
    card_token.set_initial_pin(SO_PIN, NEW_PIN)
    with pytest.raises(PinRuleViolation) as caught:
        card_token.set_initial_pin(SO_PIN, pin)  # SoftHSM itself would accept all of these
    assert caught.value.rule == rule
    with pytest.raises(PinRuleViolation):
        card_token.change_pin(NEW_PIN, pin)
    verify(card_token.sign_receipt(NEW_PIN, RECEIPT), card_token, RECEIPT)


def test_certificates_are_classified_and_chain_to_the_demo_root(
    card_token: Pkcs11Token, demo_pki: DemoPki
) -> None:
    certs = card_token.certificates()
    assert [c.usage for c in certs] == ["authentication", "signature"]
    for cert in certs:
        assert cert.hsa_id == "SE2321000016-A1B2"
        assert cert.personnummer == "199003152387"
        assert cert.trust_level is TrustLevel.LOA3
        assert cert.chain_valid is True
        assert cert.not_before < cert.not_after
        assert "Anna Maria Andersson" in cert.subject


def test_chain_to_another_root_is_not_valid(softhsm: SoftHsm, card_token: Pkcs11Token) -> None:
    from datetime import date

    from hardware.sim.democa import DemoCA

    stranger = DemoCA.create(date.today())
    token = provider_for(softhsm, None).open()
    assert {c.chain_valid for c in token.certificates()} == {None}
    token.trust_anchors = (stranger.root_der,)
    assert {c.chain_valid for c in token.certificates()} == {False}


def test_admin_sign_in_returns_the_authentication_certificate(card_token: Pkcs11Token) -> None:
    card_token.set_initial_pin(SO_PIN, NEW_PIN)
    cert = card_token.admin_sign_in(NEW_PIN)
    assert cert.usage == "authentication"
    assert cert.hsa_id == "SE2321000016-A1B2"


def test_transport_pin_profile_changes_from_the_transport_pin(
    softhsm: SoftHsm, card_token: Pkcs11Token, demo_pki: DemoPki
) -> None:
    card_token.set_initial_pin(SO_PIN, "111222")  # the transport PIN printed in the letter
    token = provider_for(softhsm, demo_pki, profile="transport_pin").open()
    token.set_initial_pin("111222", NEW_PIN)
    verify(token.sign_receipt(NEW_PIN, RECEIPT), token, RECEIPT)


def test_provider_refuses_a_card_without_a_token(softhsm: SoftHsm, card_token: Pkcs11Token) -> None:
    with pytest.raises(CardUnreadable):
        provider_for(softhsm, card_number="9752210000000999").open()


def test_token_deleted_under_the_kiosk_reports_card_removed(
    softhsm: SoftHsm, card_token: Pkcs11Token
) -> None:
    subprocess.run(
        ["softhsm2-util", "--delete-token", "--token", token_label(CARD_NUMBER)],
        env={"SOFTHSM2_CONF": str(softhsm.conf), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )
    softhsm.module.reinitialize()
    with pytest.raises(CardRemoved):
        card_token.certificates()
    with pytest.raises(CardRemoved):  # the PIN change's check: the card is gone, not a PIN
        card_token.verify_pin(NEW_PIN)
