"""The portal's receipt check: every signature form a card may produce, and refusals."""

from __future__ import annotations

import base64
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from hardware.sim.democa import DemoCA, trust_files
from kiosk.ca_files import ISSUING_CRL, ROOT_CRL
from kiosk.demo_cast import DEMO_KIOSK_ID, DEMO_OFFICE, demo_admins, demo_holder
from kiosk.model import TrustLevel
from kiosk.pki import certificate
from portal import db, service
from portal.clock import PortalClock
from portal.kiosks import Kiosk
from portal.receipts import (
    ReceiptInvalid,
    ReceiptTrustUnavailable,
    VerifiedReceipt,
    verify_receipt,
)
from portal.server import RunningPortal, start_in_thread
from tests.receipt_ca import admin_statement, holder_subject, issue, receipt_trust, revoke

from .helpers import Signer, make_signer, receipt_for

HSA, PNR = "SE2321000016-A1B2", "199003152387"
RECEIPT = b"Kvittens: kort 9752210000000001"
NOW = datetime.now(UTC)
ANNA = demo_holder("anna", NOW.date())


def test_rsa_pss_and_a_pem_certificate_verify() -> None:
    signer = make_signer("rsa", "Anna", HSA)
    assert isinstance(signer.key, rsa.RSAPrivateKey)
    signature = signer.key.sign(
        RECEIPT, padding.PSS(padding.MGF1(hashes.SHA384()), padding.PSS.MAX_LENGTH),
        hashes.SHA384(),
    )
    pem = signer.certificate.public_bytes(serialization.Encoding.PEM)
    verified = verify_receipt(RECEIPT, signature, pem, HSA, PNR, NOW, receipt_trust())
    assert verified.algorithm == "rsa-pss-sha384"
    assert HSA in verified.signer_subject


def test_raw_ecdsa_as_pkcs11_returns_it_verifies() -> None:
    signer = make_signer("ec", "Anna", HSA)
    raw = signer.sign(RECEIPT, raw_ecdsa=True)
    assert len(raw) == 64
    verified = verify_receipt(RECEIPT, raw, signer.der, HSA, PNR, NOW, receipt_trust())
    assert verified.algorithm == "ecdsa-sha256"


def test_a_personnummer_in_the_subject_alt_name_names_the_holder() -> None:
    signer = make_signer("ed25519", "Anna", "something-else")
    cert = issue(signer.key.public_key(), "Anna", "something-else", alt_names=[
        x509.OtherName(x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"),
                       b"\x0c\x0c" + PNR.encode()),
    ])
    der = cert.public_bytes(serialization.Encoding.DER)
    verified = verify_receipt(RECEIPT, signer.sign(RECEIPT), der, HSA, PNR, NOW, receipt_trust())
    assert verified.algorithm == "ed25519"


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("expired", "certificate_expired"),
        ("garbage_cert", "bad_certificate"),
        ("empty_receipt", "bad_receipt"),
        ("other_holder", "certificate_mismatch"),
        ("tampered", "bad_signature"),
    ],
)
def test_refusals_have_their_reason(case: str, reason: str) -> None:
    signer = make_signer("ec", "Anna", "SE2321000016-ZZZZ" if case == "other_holder" else HSA)
    receipt = b"" if case == "empty_receipt" else RECEIPT
    signature = signer.sign(RECEIPT)
    certificate = b"not a certificate" if case == "garbage_cert" else signer.der
    signed = RECEIPT + b"!" if case == "tampered" else receipt
    now = NOW + timedelta(days=4000) if case == "expired" else NOW
    with pytest.raises(ReceiptInvalid) as caught:
        verify_receipt(signed, signature, certificate, HSA, PNR, now, receipt_trust())
    assert caught.value.reason == reason


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> DemoCA:
    return DemoCA.load_or_create(tmp_path_factory.mktemp("other-ca"), NOW.date())


@pytest.mark.parametrize("case", ["self_signed", "other_ca", "revoked", "no_crl"])
def test_a_certificate_the_issuing_ca_does_not_vouch_for_now_is_refused(
    case: str, other_ca: DemoCA
) -> None:
    """The old portal took any certificate naming the holder: all four were accepted."""
    signer = make_signer("ec", "Anna", HSA, self_signed=case == "self_signed")
    der = signer.der
    trust = list(receipt_trust())
    if case == "other_ca":
        issued = other_ca.issue_person("Anna", "A", HSA, PNR, TrustLevel.LOA3, NOW.date())
        der = issued.signature.cert_der
    elif case == "revoked":
        revoke(signer.certificate)
    elif case == "no_crl":
        trust = [p for p in trust if p.suffix != ".crl"]
    with pytest.raises(ReceiptInvalid) as caught:
        verify_receipt(RECEIPT, signer.sign(RECEIPT), der, HSA, PNR, NOW, trust)
    assert caught.value.reason == {
        "self_signed": "untrusted_certificate",
        "other_ca": "untrusted_certificate",
        "revoked": "certificate_revoked",
        "no_crl": "revocation_unknown",
    }[case]


def test_the_portal_without_its_trust_files_accepts_no_receipt(tmp_path: Path) -> None:
    signer = make_signer("ec", "Anna", HSA)
    signature = signer.sign(RECEIPT)
    for trust in ([], [tmp_path / "missing.pem"], [tmp_path / "garbage.pem"]):
        (tmp_path / "garbage.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n")
        with pytest.raises(ReceiptTrustUnavailable):
            verify_receipt(RECEIPT, signature, signer.der, HSA, PNR, NOW, trust)
    assert trust_files(tmp_path)[0].name == "root.pem"


def start_annas_activation(running: RunningPortal) -> str:
    """Anna's activation, started by the first demo administrator: its activation id."""
    admin = demo_admins(NOW.date())[0].hsa_id
    evidence = {"doc_type": "passport", "photo_confirmed": True, "age_confirmed": True,
                "expiry": (NOW.date() + timedelta(days=900)).isoformat()}
    started = requests.post(
        f"{running.url}/api/v1/cards/{ANNA.card_number}/activations",
        json={"admin_hsa_id": admin, "evidence": evidence,
              "admin_statement": admin_statement("activation", ANNA.card_number, admin)},
        headers={"Idempotency-Key": "start"}, timeout=10,
    )
    activation_id: str = started.json()["activation_id"]
    return activation_id


def signed_receipt(signer: Signer, activation_id: str) -> dict[str, str]:
    """The completion body: Anna's receipt, signed by ``signer``, and its certificate."""
    receipt = receipt_for(ANNA.card_number, activation_id)
    return {"receipt": base64.b64encode(receipt).decode(),
            "signature": base64.b64encode(signer.sign(receipt)).decode(),
            "certificate": base64.b64encode(signer.der).decode()}


def complete_activation(
    running: RunningPortal, activation_id: str, body: dict[str, str]
) -> requests.Response:
    return requests.post(
        f"{running.url}/api/v1/activations/{activation_id}/complete",
        json=body, headers={"Idempotency-Key": "complete"}, timeout=10,
    )


def test_a_portal_that_cannot_check_a_receipt_stores_nothing_and_the_retry_succeeds(
    tmp_path: Path,
) -> None:
    """Missing trust files: 503, nothing stored under the key, the same key works later."""
    trust_dir = tmp_path / "trust"
    shutil.copytree(receipt_trust()[0].parent, trust_dir)
    running = start_in_thread(tmp_path / "portal.db", seed_demo=True,
                              receipt_trust=trust_files(trust_dir))
    try:
        activation_id = start_annas_activation(running)
        signer = make_signer("ec", ANNA.name, ANNA.hsa_id)
        body = signed_receipt(signer, activation_id)

        def complete() -> requests.Response:
            return complete_activation(running, activation_id, body)

        ca = DemoCA.load_or_create(trust_dir, NOW.date())
        ca.write_crls(trust_dir, NOW.date() - timedelta(days=60))  # stale CRLs
        unknown = complete()
        assert (unknown.status_code, unknown.json()["reason"]) == (503, "revocation_unknown")
        (trust_dir / "root.pem").rename(tmp_path / "root.pem")
        missing = complete()
        assert (missing.status_code, missing.json()["reason"]) == (
            503, "receipt_trust_unavailable"
        )
        (tmp_path / "root.pem").rename(trust_dir / "root.pem")
        ca.write_crls(trust_dir, NOW.date())
        done = complete()
        assert done.status_code == 200 and done.json()["status"] == "Aktiv"
        ca.revoke(trust_dir, signer.certificate, NOW.date())
        assert complete().content == done.content  # the stored answer, not a new check
    finally:
        running.stop()


def test_a_crl_renewed_between_two_checks_counts_at_once() -> None:
    """The trust files are parsed once per thread while they stay the same: a revocation
    (new CRL files) must still count at the very next check."""
    signer = make_signer("ec", "Anna", HSA)
    accepted = verify_receipt(RECEIPT, signer.sign(RECEIPT), signer.der, HSA, PNR, NOW,
                              receipt_trust())
    assert accepted.algorithm.startswith("ecdsa")
    revoke(signer.certificate)
    with pytest.raises(ReceiptInvalid) as caught:
        verify_receipt(RECEIPT, signer.sign(RECEIPT), signer.der, HSA, PNR, NOW,
                       receipt_trust())
    assert caught.value.reason == "certificate_revoked"


def test_the_portal_refuses_a_revoked_holder_certificate(tmp_path: Path) -> None:
    running = start_in_thread(tmp_path / "portal.db", seed_demo=True,
                              receipt_trust=receipt_trust())
    try:
        activation_id = start_annas_activation(running)
        signer = make_signer("ec", ANNA.name, ANNA.hsa_id)
        revoke(signer.certificate)
        refused = complete_activation(running, activation_id, signed_receipt(signer, activation_id))
        assert (refused.status_code, refused.json()["reason"]) == (422, "certificate_revoked")
        status = requests.get(f"{running.url}/api/v1/cards/{ANNA.card_number}", timeout=10)
        assert status.json()["status"] == "Skickad"
    finally:
        running.stop()


def _own_ca(tmp_path: Path) -> tuple[DemoCA, Path]:
    """A CA of this test's own (the shared test CA must stay unrevoked for the others)."""
    directory = tmp_path / "own-ca"
    return DemoCA.load_or_create(directory, NOW.date()), directory


def _holder_of(ca: DemoCA) -> Signer:
    """A new holder key with a certificate from ``ca``'s issuing CA naming HSA."""
    signer = make_signer("ec", "Anna", HSA)
    now = datetime.now(UTC)
    cert = certificate(
        holder_subject("Anna", HSA), signer.key.public_key(), ca.issuing.key,
        now - timedelta(days=1), now + timedelta(days=365), issuer=ca.issuing.cert.subject,
        extensions=[(x509.BasicConstraints(ca=False, path_length=None), True)],
    )
    return Signer(signer.key, cert)


def test_an_issuing_ca_revoked_after_receipts_were_accepted_is_refused_at_once(
    tmp_path: Path,
) -> None:
    """The issuing CA's own status is checked once per version of the trust files and
    shared by every holder's receipt: a root CRL that now lists the CA must count at the
    next receipt, whoever's it is."""
    ca, directory = _own_ca(tmp_path)
    trust = trust_files(directory)
    for _ in range(2):  # the second receipt already uses the CA status checked for the first
        signer = _holder_of(ca)
        verify_receipt(RECEIPT, signer.sign(RECEIPT), signer.der, HSA, PNR, NOW, trust)
    ca.revoke(directory, ca.issuing.cert, NOW.date())
    signer = _holder_of(ca)
    with pytest.raises(ReceiptInvalid) as caught:
        verify_receipt(RECEIPT, signer.sign(RECEIPT), signer.der, HSA, PNR, NOW, trust)
    assert caught.value.reason == "certificate_revoked"


def test_the_issuing_ca_status_counts_only_until_the_root_crl_is_due(tmp_path: Path) -> None:
    """The root's CRL (over the issuing CA) is due in a day, the issuing CA's (over the
    holders) in 60 days: two days on, the issuing CA's status is unknown, though it was
    known, and shared, before."""
    ca, directory = _own_ca(tmp_path)
    start = datetime.now(UTC) - timedelta(hours=1)
    for issuer, name, days in ((ca.root, ROOT_CRL, 1), (ca.issuing, ISSUING_CRL, 60)):
        crl = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(issuer.cert.subject)
            .last_update(start)
            .next_update(start + timedelta(days=days))
            .add_extension(x509.CRLNumber(7), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer.key.public_key()), critical=False)
            .sign(issuer.key, hashes.SHA256())
        )
        (directory / name).write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    trust = trust_files(directory)
    signer = _holder_of(ca)
    receipt = (RECEIPT, signer.sign(RECEIPT), signer.der, HSA, PNR)
    verify_receipt(*receipt, NOW, trust)
    verify_receipt(*receipt, NOW + timedelta(hours=6), trust)
    with pytest.raises(ReceiptInvalid) as caught:
        verify_receipt(*receipt, NOW + timedelta(days=2), trust)
    assert caught.value.reason == "revocation_unknown"


def test_a_receipt_checked_before_the_transaction_counts_only_for_the_same_holder(
    tmp_path: Path,
) -> None:
    """The chain is checked before the write transaction; if the card names another
    holder by the time the transaction runs, the receipt is checked again, for them."""
    running = start_in_thread(tmp_path / "portal.db", seed_demo=True,
                              receipt_trust=receipt_trust())
    try:
        activation_id = start_annas_activation(running)
    finally:
        running.stop()
    signer = make_signer("ec", ANNA.name, ANNA.hsa_id)
    body = signed_receipt(signer, activation_id)
    kiosk = Kiosk(DEMO_KIOSK_ID, DEMO_OFFICE)
    conn = db.connect(tmp_path / "portal.db")
    try:
        clock = PortalClock()
        checked = service.check_receipt(conn, clock, activation_id, body, receipt_trust())
        assert checked is not None and isinstance(checked.outcome, VerifiedReceipt)
        conn.execute("UPDATE cards SET hsa_id = 'SE2321000016-OTHER', personnummer = "
                     "'191212121212' WHERE card_number = ?", (ANNA.card_number,))
        with pytest.raises(service.ApiError) as caught, db.transaction(conn):
            service.complete_activation(conn, clock, activation_id, body, kiosk,
                                        receipt_trust(), checked)
        assert caught.value.reason == "certificate_mismatch"
        conn.execute("UPDATE cards SET hsa_id = ?, personnummer = ? WHERE card_number = ?",
                     (ANNA.hsa_id, ANNA.personnummer, ANNA.card_number))
        with db.transaction(conn):
            done = service.complete_activation(conn, clock, activation_id, body, kiosk,
                                               receipt_trust(), checked)
        assert done["status"] == "Aktiv"
    finally:
        conn.close()
