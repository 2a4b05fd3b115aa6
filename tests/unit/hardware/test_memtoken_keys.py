"""The in-memory token's key pairs (kiosk.ports.CertificateToken) with software keys."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, load_der_public_key
from cryptography.x509.oid import NameOID

from hardware.sim.democa import AUTH_ID, SIGN_ID, DemoCA, PersonCredentials
from hardware.sim.memtoken import MemoryToken
from kiosk.errors import CardUnreadable, TokenError, WrongPin
from kiosk.model import TrustLevel
from kiosk.pki import certificate
from kiosk.ports import CertificateToken, KeyAlgorithm, PinRole

TODAY = date(2026, 11, 25)
PIN, SO_PIN = "123456", "87654321"
AUTH = PinRole.AUTHENTICATION


@pytest.fixture(scope="module")
def ca() -> DemoCA:
    return DemoCA.create(TODAY)


@pytest.fixture(scope="module")
def creds(ca: DemoCA) -> PersonCredentials:
    return ca.issue_person("Eva", "Ek", "SE2321000016-E1", "197001011234", TrustLevel.LOA3,
                           TODAY - timedelta(days=30))


@pytest.fixture
def token(creds: PersonCredentials) -> MemoryToken:
    return MemoryToken(creds, SO_PIN, PIN)


def verify(public: object, signature: bytes, data: bytes) -> None:
    if isinstance(public, rsa.RSAPublicKey):
        public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(signature, data, ec.ECDSA(hashes.SHA256()))


def issue(ca: DemoCA, request_der: bytes) -> bytes:
    request = x509.load_der_x509_csr(request_der)
    now = datetime.now(UTC)
    cert = certificate(request.subject, request.public_key(), ca.issuing.key,
                       now - timedelta(days=1), now + timedelta(days=700),
                       issuer=ca.issuing.cert.subject)
    return cert.public_bytes(Encoding.DER)


def test_the_provisioned_certificates_carry_their_key_ids(token: MemoryToken) -> None:
    assert isinstance(token, CertificateToken)
    assert not token.has_signature_pin()
    assert {info.key_id for info in token.certificates()} == {AUTH_ID, SIGN_ID}
    assert token.card_keys() == []  # as on SoftHSM2: provisioned pairs have no public object
    assert token.private_key_ids(AUTH, PIN) == {AUTH_ID, SIGN_ID}
    assert token.key_algorithms(AUTH) == (KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P256)


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.EC_P256, KeyAlgorithm.RSA_2048])
def test_a_key_pair_is_made_requested_certified_used_and_deleted(
    token: MemoryToken, ca: DemoCA, algorithm: KeyAlgorithm
) -> None:
    key = token.generate_key_pair(AUTH, PIN, b"\x31", "Legitimering", algorithm)
    assert (key.key_id, key.label, key.algorithm) == (b"\x31", "Legitimering", algorithm)
    again = token.generate_key_pair(AUTH, PIN, b"\x31", "Legitimering", algorithm)
    assert again == key  # a retry finds the pair made the first time
    assert token.card_keys() == [key]

    request_der = token.certificate_request(AUTH, PIN, b"\x31", "Eva Ek", "SE2321000016-E1")
    request = x509.load_der_x509_csr(request_der)
    assert request.is_signature_valid
    assert request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Eva Ek"
    assert request.public_key() == load_der_public_key(key.public_key)

    der = issue(ca, request_der)
    token.write_certificate(AUTH, PIN, b"\x31", "Legitimering", der)
    (written,) = [info for info in token.certificates() if info.der == der]
    assert written.key_id == b"\x31"
    signature = token.sign(AUTH, PIN, b"\x31", b"data")
    verify(x509.load_der_x509_certificate(der).public_key(), signature, b"data")

    token.delete_key_pair(AUTH, PIN, b"\x31")
    assert token.card_keys() == []
    assert all(info.der != der for info in token.certificates())
    with pytest.raises(TokenError) as gone:
        token.sign(AUTH, PIN, b"\x31", b"data")
    assert gone.value.data["reason"] == "no_key"


def test_key_work_needs_the_pin_and_refuses_what_is_not_a_certificate(
    token: MemoryToken,
) -> None:
    with pytest.raises(WrongPin):
        token.generate_key_pair(AUTH, "111111", b"\x31", "Legitimering")
    assert token.card_keys() == []
    with pytest.raises(WrongPin):
        token.private_key_ids(AUTH, "111111")
    token.generate_key_pair(AUTH, PIN, b"\x31", "Legitimering")
    with pytest.raises(CardUnreadable):
        token.write_certificate(AUTH, PIN, b"\x31", "Legitimering", b"not a certificate")
    with pytest.raises(TokenError) as none:
        token.certificate_request(AUTH, PIN, b"\x99", "Eva Ek", "SE2321000016-E1")
    assert none.value.data["reason"] == "no_key"


def test_the_receipt_is_signed_with_the_signature_key_else_the_authentication_key(
    token: MemoryToken, creds: PersonCredentials
) -> None:
    verify(creds.signature.cert.public_key(), token.sign_receipt(PIN, b"r"), b"r")
    token.delete_key_pair(AUTH, PIN, SIGN_ID)
    verify(creds.authentication.cert.public_key(), token.sign_receipt(PIN, b"r"), b"r")


def test_the_signature_pin_of_a_one_pin_card_is_its_user_pin(token: MemoryToken) -> None:
    with pytest.raises(WrongPin):
        token.set_signature_pin("wrong-so", "246810")
    token.set_signature_pin(SO_PIN, "246810")
    assert token.signature_pin_status().initialised
    assert token.private_key_ids(PinRole.SIGNATURE, "246810") == {AUTH_ID, SIGN_ID}


def test_a_two_pin_card_keeps_its_signature_key_under_a_pin_of_its_own(
    creds: PersonCredentials,
) -> None:
    sig, sign_pin = PinRole.SIGNATURE, "975310"
    token = MemoryToken(creds, SO_PIN, PIN, two_pins=True)
    assert token.has_signature_pin()
    assert not token.signature_pin_status().initialised
    with pytest.raises(TokenError, match="no signature PIN"):
        token.private_key_ids(sig, sign_pin)
    with pytest.raises(WrongPin):
        token.set_signature_pin("wrong-so", sign_pin)
    token.set_signature_pin(SO_PIN, sign_pin)
    assert token.signature_pin_status().initialised
    assert token.private_key_ids(sig, sign_pin) == {SIGN_ID}
    assert token.private_key_ids(AUTH, PIN) == {AUTH_ID}
    with pytest.raises(WrongPin):
        token.private_key_ids(sig, PIN)  # the user PIN does not open the signature token
    with pytest.raises(TokenError, match="no key pair"):
        token.sign(AUTH, PIN, SIGN_ID, b"data")  # nor reaches its key
    public = creds.signature.cert.public_key()
    verify(public, token.sign(sig, sign_pin, SIGN_ID, b"data"), b"data")
    made = token.generate_key_pair(sig, sign_pin, b"\x07", "Underskrift", KeyAlgorithm.EC_P256)
    assert made.role is sig
    assert token.private_key_ids(sig, sign_pin) == {SIGN_ID, b"\x07"}
    token.delete_key_pair(AUTH, PIN, b"\x07")  # the wrong PIN's token: nothing removed
    assert b"\x07" in token.private_key_ids(sig, sign_pin)
    # the receipt (user PIN) is signed with the authentication key, as on a PKCS#11 card
    auth_public = creds.authentication.cert.public_key()
    verify(auth_public, token.sign_receipt(PIN, b"receipt"), b"receipt")
    assert token.pin_status().initialised  # the user PIN is untouched by the signature PIN


def test_a_deck_fault_armed_on_one_method_fires_once_there_only(token: MemoryToken) -> None:
    from hardware.sim.cast import demo_cards
    from hardware.sim.deck import TOKEN_METHODS, SimDeck, SimToken
    from kiosk.errors import CardRemoved, InvalidInput
    from kiosk.settings import PinPolicySettings

    card = next(c for c in demo_cards(TODAY) if c.owner is not None)
    deck = SimDeck((card,), lambda _card: None)
    deck.insert(card.card_number)
    sim = SimToken(token, card, deck, PinPolicySettings())
    with pytest.raises(InvalidInput):
        deck.fail_next("fire", CardRemoved("pulled"))
    deck.fail_next("sign", CardRemoved("pulled"))
    assert sim.certificates()  # another method is untouched by it
    with pytest.raises(CardRemoved, match="pulled"):
        sim.sign(AUTH, PIN, AUTH_ID, b"data")
    assert sim.sign(AUTH, PIN, AUTH_ID, b"data")  # once: the next call signs
    for method in TOKEN_METHODS:  # each method a fault can be armed on does fire it
        deck.fail_next(method, TokenError(method))
        with pytest.raises(TokenError, match=method):
            getattr(sim, method)(*_arguments(method))
        assert deck.take_method_fault(method) is None


def _arguments(method: str) -> tuple[object, ...]:
    """Arguments a SimToken method accepts (the fault fires before they are used)."""
    return {
        "admin_sign_in": (PIN,), "admin_sign_in_and_sign": (PIN, b"d"),
        "set_initial_pin": (SO_PIN, PIN), "verify_pin": (PIN,), "change_pin": (PIN, PIN),
        "unlock_pin": (SO_PIN, PIN), "sign_receipt": (PIN, b"r"),
        "set_signature_pin": (SO_PIN, PIN), "key_algorithms": (AUTH,),
        "private_key_ids": (AUTH, PIN), "generate_key_pair": (AUTH, PIN, b"\x09", "k"),
        "certificate_request": (AUTH, PIN, AUTH_ID, "cn", "sn"),
        "write_certificate": (AUTH, PIN, AUTH_ID, "l", b"x"),
        "delete_key_pair": (AUTH, PIN, AUTH_ID), "sign": (AUTH, PIN, AUTH_ID, b"d"),
    }.get(method, ())


def test_a_card_from_given_keys_with_lifetimes_of_its_own(ca: DemoCA, creds: PersonCredentials
                                                         ) -> None:
    """issue_person takes pre-made keys and an end for each certificate; a card that
    makes only EC keys makes EC keys; a card issued without an HSA-id names none."""
    from hardware.certs import subject_ids

    keys = [creds.authentication.key, creds.signature.key, creds.authentication.key]
    made = ca.issue_person("Eva", "Ek", None, "197001011234", TrustLevel.LOA3,
                           TODAY - timedelta(days=30), valid_until=TODAY + timedelta(days=60),
                           signature_until=TODAY + timedelta(days=10),
                           additional_organisation="Region Skåne (demo)",
                           additional_until=TODAY + timedelta(days=400), keys=keys)
    assert made.authentication.key is keys[0] and made.signature.key is keys[1]
    assert made.additional is not None and made.additional.key is keys[2]
    ends = [p.cert.not_valid_after_utc.date() - TODAY
            for p in (made.authentication, made.signature, made.additional)]
    assert ends == [timedelta(days=60), timedelta(days=10), timedelta(days=400)]
    assert subject_ids(made.authentication.cert) == (None, "197001011234")
    token = MemoryToken(made, SO_PIN, PIN, key_algorithms=(KeyAlgorithm.EC_P256,))
    assert token.key_algorithms(AUTH) == (KeyAlgorithm.EC_P256,)
    assert token.generate_key_pair(AUTH, PIN, b"\x09", "k").algorithm is KeyAlgorithm.EC_P256
    with pytest.raises(TokenError):
        token.generate_key_pair(AUTH, PIN, b"\x0a", "k", KeyAlgorithm.RSA_2048)
    assert {c.hsa_id for c in token.certificates()} == {None}


def test_a_card_put_in_the_deck_replaces_the_one_of_its_number() -> None:
    from dataclasses import replace

    from hardware.sim.cast import demo_cards
    from hardware.sim.deck import SimDeck

    card = next(c for c in demo_cards(TODAY) if c.owner is not None and c.pin is not None)
    placed: list[object] = []
    deck = SimDeck((card,), placed.append)
    deck.states[card.card_number].locked = True
    deck.put_card(replace(card, pin=None, number_on_chip=False))
    assert deck.card(card.card_number).readable_number is None
    assert not deck.states[card.card_number].pin_set and not deck.states[card.card_number].locked
    deck.insert(card.card_number)
    assert placed == [deck.card(card.card_number)]
