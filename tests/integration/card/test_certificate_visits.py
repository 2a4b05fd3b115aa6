"""The certificate visits through their flows on the demo cast's SoftHSM2 cards against the
reference portal over TLS (client certificate, the administrator's signed hand-out
statement): the signature certificate made on Ingrid's card chains to the demo root
(pyhanko-certvalidator, hardware.certs.chain_valid), its key pair is the card's and a test
signature with the new signature PIN verifies; Hugo's renewal with the card pulled after
each step leaves a working authentication certificate, and the renewal run again
finishes it with one certificate per kind at the portal."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from composition.cli.demo import (
    DEMO_NEW_SIGNATURE_PIN,
    run_renew_certificates,
    run_signature_certificate,
)
from hardware.certs import chain_valid
from kiosk import demo_cast
from kiosk.errors import TokenError, WrongPin
from kiosk.pki import signature_verifies
from kiosk.ports import CertificateToken, PinRole
from kiosk.visit.effects import (
    BeginCardWork,
    DeleteKeyPair,
    Effect,
    GenerateKeyPair,
    InstallCertificate,
    IssueCertificate,
    SignProbe,
    SignRequest,
)
from tests.integration.card.conftest import Office

pytestmark = [pytest.mark.softhsm, pytest.mark.portal, pytest.mark.slow]
TODAY = date.today()
PROBE = b"a test signature after the visit"


def token_of(services: Any, card_number: str) -> CertificateToken:
    services.deck.insert(card_number)
    token = services.tokens.open()
    assert isinstance(token, CertificateToken)
    return token


def root_der(state: Path) -> bytes:
    pem = (state / "democa" / "root.pem").read_bytes()
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def issued(db: Path, card_number: str) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return [(r[0], r[1]) for r in conn.execute(
            "SELECT kind, state FROM certificates WHERE card_number = ? ORDER BY kind",
            (card_number,),
        )]


def working_authentication(token: CertificateToken) -> list[bytes]:
    """Authentication certificates valid now whose key on the card signs what verifies."""
    now, working = datetime.now(UTC), []
    for info in token.certificates():
        if info.usage != "authentication" or not info.not_before <= now <= info.not_after:
            continue
        try:
            signature = token.sign(PinRole.AUTHENTICATION, demo_cast.DEMO_ACTIVE_PIN,
                                   info.key_id, PROBE)
        except TokenError:
            continue
        if signature_verifies(info.der, signature, PROBE):
            working.append(info.der)
    return working


def test_signature_certificate_on_ingrids_card_chains_matches_and_signs(office: Office) -> None:
    ingrid = demo_cast.demo_holder("ingrid", TODAY)
    services = office.services()
    try:
        assert office.portal.url.startswith("https://")
        final = run_signature_certificate(services, ingrid)
        assert final.view.message == "visit.done.signature_certificate", final.view
        token = token_of(services, ingrid.card_number)
        (cert,) = [c for c in token.certificates() if c.usage == "signature"]
        assert cert.hsa_id == ingrid.hsa_id
        # chains to the demo root (pyhanko-certvalidator), with the issuing CA on the card
        intermediates = [c.der for c in token.certificates() if c.usage not in (
            "authentication", "signature")]
        issuing = (office.state / "democa" / "issuing.pem").read_bytes()
        intermediates.append(x509.load_pem_x509_certificate(issuing).public_bytes(
            serialization.Encoding.DER))
        assert chain_valid(cert.der, [root_der(office.state)], intermediates) is True
        # the certificate is for the key pair made on the card, under the signature PIN
        key = next(k for k in token.card_keys() if k.key_id == cert.key_id)
        spki = x509.load_der_x509_certificate(cert.der).public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        assert key.public_key == spki and key.role is PinRole.SIGNATURE
        signature = token.sign(PinRole.SIGNATURE, DEMO_NEW_SIGNATURE_PIN, cert.key_id, PROBE)
        assert signature_verifies(cert.der, signature, PROBE)
        with pytest.raises(WrongPin):  # the authentication PIN does not open it
            token.sign(PinRole.SIGNATURE, demo_cast.DEMO_ACTIVE_PIN, cert.key_id, PROBE)
        assert issued(office.portal.db_path, ingrid.card_number) == [("signature", "valid")]
        assert services.outbox.counts() == {"sent": 1}
    finally:
        services.close()


PULL_AFTER: list[tuple[type[Effect], int]] = [
    (BeginCardWork, 1), (GenerateKeyPair, 1), (SignRequest, 1), (IssueCertificate, 1),
    (InstallCertificate, 1), (SignProbe, 2), (GenerateKeyPair, 2), (IssueCertificate, 2),
    (InstallCertificate, 2), (SignProbe, 3), (DeleteKeyPair, 1),
]


@pytest.mark.parametrize(("effect", "nth"), PULL_AFTER,
                         ids=[f"{e.kind.value}-{n}" for e, n in PULL_AFTER])
def test_renewal_pulled_after_each_step_keeps_a_working_authentication_certificate(
    office: Office, effect: type[Effect], nth: int
) -> None:
    hugo = demo_cast.demo_holder("hugo", TODAY)
    services = office.services()
    try:
        seen = {"n": 0}

        def pull() -> None:
            seen["n"] += 1
            if seen["n"] == nth:
                services.deck.remove()  # the holder takes the card out

        final = run_renew_certificates(services, hugo, after={effect: pull})
        assert final.finished and final.view.message == "visit.ended.renew_certificates.writing"
        token = token_of(services, hugo.card_number)
        assert working_authentication(token), "no working authentication certificate"

        again = run_renew_certificates(services, hugo)  # the card back, the visit again
        assert again.view.message == "visit.done.renew_certificates", again.view
        token = token_of(services, hugo.card_number)
        assert len(working_authentication(token)) == 1
        assert {c.key_id for c in token.certificates() if c.usage in (
            "authentication", "signature")}.isdisjoint({b"\x01", b"\x02"})
        assert issued(office.portal.db_path, hugo.card_number) == [
            ("authentication", "valid"), ("signature", "valid")
        ]
        assert services.outbox.counts() == {"sent": 1}
    finally:
        services.close()
