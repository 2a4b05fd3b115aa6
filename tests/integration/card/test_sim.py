"""The demo's simulated cards end to end: memory reader, SoftHSM2 (or memory) tokens, faults."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from hardware.emulator.pcscd import PcscdProcess
from hardware.sim import DemoHardware, build_demo_hardware
from hardware.sim.cast import FOREIGN_CARD
from hardware.sim.deck import SimDeck
from kiosk.demo_cast import (
    DEMO_ACTIVE_PIN,
    DEMO_SIGNATURE_PIN,
    OTHER_ORGANISATIONS,
    demo_admins,
    demo_holder,
    demo_so_pin,
)
from kiosk.errors import CardRemoved, CardUnreadable, PinLocked, TokenError, WrongPin
from kiosk.model import CardClass, TrustLevel
from kiosk.ports import CardEventKind
from kiosk.settings import HardwareSettings, Settings
from tests.conftest import require_tool

TODAY = date.today()
ANNA = demo_holder("anna", TODAY)
EVA = demo_holder("eva", TODAY)
KARIN = demo_admins(TODAY)[0]
NEW_PIN = "482915"
RECEIPT = b"Kvittens for kort 9752210000000001"

pytestmark = pytest.mark.softhsm


def settings_with(**hardware: object) -> Settings:
    """Default settings with some hardware fields replaced."""
    return dataclasses.replace(
        Settings(), hardware=dataclasses.replace(HardwareSettings(), **hardware)
    )


@pytest.fixture(scope="session")
def democa_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo CA and every cast member's keys, made once and copied into each test."""
    state = tmp_path_factory.mktemp("demo-template")
    build_demo_hardware(state, TODAY, settings_with(token="memory")).close()
    return state / "democa"


def fresh_state(tmp_path: Path, democa_cache: Path) -> Path:
    state = tmp_path / "state"
    shutil.copytree(democa_cache, state / "democa")
    return state


@pytest.fixture(scope="session")
def demo_material(democa_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's material cache as `kiosk --demo` keeps it (hardware.sim.material): this
    session's CA and keys, and the cast's SoftHSM2 tokens as the first test to need them
    made them. Each test gets fresh copies of its own: no test sees another's PIN or key
    (making the 14 tokens again was ~0.5 s of CPU per test)."""
    folder = tmp_path_factory.mktemp("demo-material")
    shutil.copytree(democa_cache, folder / "democa")
    return folder


@pytest.fixture(params=["softhsm", "memory"])
def demo(
    request: pytest.FixtureRequest, tmp_path: Path, democa_cache: Path, demo_material: Path
) -> Iterator[DemoHardware]:
    """Demo hardware on the memory reader, with SoftHSM2 tokens and with memory tokens."""
    if request.param == "softhsm":
        require_tool("softhsm2-util", "SoftHSM2")
    hardware = build_demo_hardware(
        fresh_state(tmp_path, democa_cache), TODAY, settings_with(token=request.param),
        demo_material,
    )
    assert hardware.token_backend == request.param
    try:
        yield hardware
    finally:
        hardware.close()


def deck_of(demo: DemoHardware) -> SimDeck:
    assert isinstance(demo.deck, SimDeck)
    return demo.deck


def verify(signature: bytes, der: bytes, data: bytes) -> None:
    public_key = x509.load_der_x509_certificate(der).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())


def test_activation_path_on_the_simulated_card(demo: DemoHardware) -> None:
    demo.deck.insert(ANNA.card_number)
    event = demo.reader.wait_for_change(1)
    assert event is not None and event.kind is CardEventKind.INSERTED
    identity = demo.reader.identify()
    assert identity.card_class is CardClass.SITHS
    assert identity.card_number == ANNA.card_number
    token = demo.tokens.open()
    assert token.pin_status().initialised is False
    certs = token.certificates()
    assert {c.usage for c in certs} == {"authentication", "signature"}
    assert {c.personnummer for c in certs} == {ANNA.personnummer}
    assert {c.hsa_id for c in certs} == {ANNA.hsa_id}
    assert {c.trust_level for c in certs} == {TrustLevel.LOA3}
    assert {c.chain_valid for c in certs} == {True}
    token.set_initial_pin(demo_so_pin(ANNA.card_number), NEW_PIN)
    assert token.pin_status().initialised is True
    signature = token.sign_receipt(NEW_PIN, RECEIPT)
    # a two-PIN card (a second token, on both backends) signs under the authentication PIN
    signing_cert = next(c for c in certs if c.usage == "authentication")
    verify(signature, signing_cert.der, RECEIPT)
    demo.deck.remove()
    event = demo.reader.wait_for_change(1)
    assert event is not None and event.kind is CardEventKind.REMOVED
    with pytest.raises(CardRemoved):
        token.certificates()


def test_admin_signs_in_with_the_cast_pin(demo: DemoHardware) -> None:
    demo.deck.insert(KARIN.card_number)
    cert = demo.tokens.open().admin_sign_in(KARIN.pin)
    assert cert.hsa_id == KARIN.hsa_id


def test_three_wrong_pins_lock_and_the_so_credential_unlocks(demo: DemoHardware) -> None:
    demo.deck.insert(EVA.card_number)
    token = demo.tokens.open()
    tries = []
    for _ in range(2):
        with pytest.raises(WrongPin) as caught:
            token.sign_receipt("000001", RECEIPT)
        tries.append(caught.value.tries_left)
    assert tries == [2, 1]
    assert token.pin_status().final_try is True
    with pytest.raises(PinLocked):
        token.sign_receipt("000001", RECEIPT)
    with pytest.raises(PinLocked):
        token.sign_receipt(DEMO_ACTIVE_PIN, RECEIPT)  # even the right PIN, once locked
    assert token.pin_status().locked is True
    token.unlock_pin(demo_so_pin(EVA.card_number), NEW_PIN)
    assert token.pin_status().locked is False
    assert len(token.sign_receipt(NEW_PIN, RECEIPT)) == 256


def test_a_right_pin_resets_the_tries(demo: DemoHardware) -> None:
    demo.deck.insert(EVA.card_number)
    token = demo.tokens.open()
    with pytest.raises(WrongPin):
        token.change_pin("000001", NEW_PIN)
    token.change_pin(DEMO_ACTIVE_PIN, NEW_PIN)
    assert token.pin_status().count_low is False


def test_card_pulled_mid_write_leaves_the_card_unchanged(demo: DemoHardware) -> None:
    deck = deck_of(demo)
    deck.insert(ANNA.card_number)
    token = demo.tokens.open()
    deck.set_fault("remove_mid_write")
    with pytest.raises(CardRemoved):
        token.set_initial_pin(demo_so_pin(ANNA.card_number), NEW_PIN)
    assert deck.current is None
    kinds = [e.kind for e in iter(lambda: demo.reader.wait_for_change(0.1), None)]
    assert kinds == [CardEventKind.INSERTED, CardEventKind.REMOVED]
    deck.insert(ANNA.card_number)
    token = demo.tokens.open()
    assert token.pin_status().initialised is False
    token.set_initial_pin(demo_so_pin(ANNA.card_number), NEW_PIN)
    assert token.pin_status().initialised is True


def test_wrong_pin_locked_pin_and_token_error_faults(demo: DemoHardware) -> None:
    deck = deck_of(demo)
    deck.insert(KARIN.card_number)
    token = demo.tokens.open()
    deck.set_fault("wrong_pin")
    with pytest.raises(WrongPin) as caught:
        token.admin_sign_in(KARIN.pin)
    assert caught.value.tries_left == 2
    deck.set_fault("token_error")
    with pytest.raises(TokenError):
        token.certificates()
    assert token.admin_sign_in(KARIN.pin).hsa_id == KARIN.hsa_id
    deck.set_fault("locked_pin")
    assert token.pin_status().locked is True
    with pytest.raises(PinLocked):
        token.admin_sign_in(KARIN.pin)


def test_foreign_card_is_identified_and_has_no_token(demo: DemoHardware) -> None:
    demo.deck.insert(FOREIGN_CARD)
    identity = demo.reader.identify()
    assert identity.card_class is CardClass.FOREIGN
    assert identity.issuer == "Telia"
    assert identity.card_number is None
    with pytest.raises(CardUnreadable):
        demo.tokens.open()


def test_second_start_reuses_tokens_and_restores_the_cast_pins(
    tmp_path: Path, democa_cache: Path
) -> None:
    require_tool("softhsm2-util", "SoftHSM2")
    state = fresh_state(tmp_path, democa_cache)
    first = build_demo_hardware(state, TODAY, settings_with(token="softhsm"))
    first.deck.insert(EVA.card_number)
    first.tokens.open().change_pin(DEMO_ACTIVE_PIN, NEW_PIN)
    first.close()
    token_files = sorted(p.name for p in (state / "softhsm" / "tokens").iterdir())
    second = build_demo_hardware(state, TODAY, settings_with(token="softhsm"))
    try:
        assert sorted(p.name for p in (state / "softhsm" / "tokens").iterdir()) == token_files
        second.deck.insert(EVA.card_number)
        assert len(second.tokens.open().sign_receipt(DEMO_ACTIVE_PIN, RECEIPT)) == 256
    finally:
        second.close()


@pytest.mark.pcsc
def test_emulated_reader_sees_the_deck_through_real_pcscd(
    pcscd: PcscdProcess, tmp_path: Path, democa_cache: Path
) -> None:
    demo = build_demo_hardware(
        fresh_state(tmp_path, democa_cache),
        TODAY,
        settings_with(reader="emulated", token="memory", reader_name="Kiosk vpcd 00 00"),
    )
    try:
        assert demo.reader_backend == "emulated"
        while demo.reader.wait_for_change(0.3) is not None:
            pass
        demo.deck.insert(ANNA.card_number)
        kinds = []
        while (event := demo.reader.wait_for_change(5)) is not None:
            kinds.append(event.kind)
            if event.kind is CardEventKind.INSERTED:
                break
        assert kinds[-1] is CardEventKind.INSERTED
        assert demo.reader.identify().card_number == ANNA.card_number
        demo.deck.remove()
        event = demo.reader.wait_for_change(5)
        assert event is not None and event.kind is CardEventKind.REMOVED
    finally:
        demo.close()


def test_key_pairs_on_the_simulated_card(demo: DemoHardware) -> None:
    """Demo cards of both backends make key pairs through SimToken."""
    from kiosk.ports import CertificateToken, PinRole

    eva = demo_holder("eva", TODAY)
    demo.deck.insert(eva.card_number)
    token = demo.tokens.open()
    assert isinstance(token, CertificateToken)
    role = PinRole.AUTHENTICATION
    # every holder card of the cast has two PINs, on SoftHSM2 and in memory alike
    assert token.has_signature_pin()
    with pytest.raises(WrongPin) as wrong:  # the authentication PIN's tries are kept
        token.generate_key_pair(role, "111111", b"\x31", "Legitimering")
    assert wrong.value.tries_left == 2
    key = token.generate_key_pair(role, DEMO_ACTIVE_PIN, b"\x31", "Legitimering")
    request = x509.load_der_x509_csr(
        token.certificate_request(role, DEMO_ACTIVE_PIN, key.key_id, eva.name, eva.hsa_id)
    )
    assert request.is_signature_valid
    token.delete_key_pair(role, DEMO_ACTIVE_PIN, key.key_id)
    assert key.key_id not in {k.key_id for k in token.card_keys()}
    demo.deck.remove()
    with pytest.raises(CardRemoved):
        token.generate_key_pair(role, DEMO_ACTIVE_PIN, b"\x32", "Legitimering")


def test_the_cast_has_a_card_whose_certificates_end_within_three_months(
    demo: DemoHardware,
) -> None:
    from datetime import UTC, datetime

    from kiosk.rules.card import certificate_expires_soon

    hugo = demo_holder("hugo", TODAY)
    demo.deck.insert(hugo.card_number)
    certs = demo.tokens.open().certificates()
    now = datetime.now(UTC)
    assert {c.usage for c in certs} == {"authentication", "signature"}
    assert all(certificate_expires_soon(c.not_after, now) for c in certs)
    assert all(50 <= (c.not_after - now).days <= 60 for c in certs)


def test_the_cast_cards_for_the_certificate_visits(demo: DemoHardware) -> None:
    """Ingrid's Aktiv card has no signature certificate, Jonas's has an additional one from
    another organisation; each holder card is two tokens (two PINs), on both backends."""
    from kiosk.ports import CertificateToken

    ingrid, jonas = demo_holder("ingrid", TODAY), demo_holder("jonas", TODAY)
    demo.deck.insert(ingrid.card_number)
    token = demo.tokens.open()
    assert [c.usage for c in token.certificates()] == ["authentication"]
    assert isinstance(token, CertificateToken) and token.has_signature_pin()
    demo.deck.insert(jonas.card_number)
    certs = demo.tokens.open().certificates()
    assert sorted(c.usage for c in certs) == ["authentication", "authentication", "signature"]
    other = [c for c in certs if f"O={OTHER_ORGANISATIONS[0]}" in c.subject]
    assert len(other) == 1 and other[0].label == "Tilläggscertifikat"
    assert other[0].chain_valid and other[0].hsa_id == jonas.hsa_id
    assert len({c.serial for c in certs}) == 3


def test_the_signature_key_is_under_the_signature_pin(demo: DemoHardware) -> None:
    """Eva's signature key and certificate are on her card's signature-PIN token: the
    signature PIN signs with it, the authentication PIN is refused there."""
    from kiosk.ports import CertificateToken, PinRole

    demo.deck.insert(EVA.card_number)
    token = demo.tokens.open()
    assert isinstance(token, CertificateToken)
    signing = next(c for c in token.certificates() if c.usage == "signature")
    data = b"provsignatur"
    verify(token.sign(PinRole.SIGNATURE, DEMO_SIGNATURE_PIN, signing.key_id, data), signing.der,
           data)
    with pytest.raises((WrongPin, PinLocked)):
        token.sign(PinRole.SIGNATURE, DEMO_ACTIVE_PIN, signing.key_id, data)
    with pytest.raises(TokenError):  # not on the authentication token
        token.sign(PinRole.AUTHENTICATION, DEMO_ACTIVE_PIN, signing.key_id, data)
