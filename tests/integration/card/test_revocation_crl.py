"""Revocations reach the CRL: a certificate the reference portal revokes (removed from
the card, replaced, or its card blocked) is listed in the CRLs its CA directory publishes
(the files the demo portal's receipt trust reads), and then fails chain validation with
pyhanko-certvalidator (hardware.certs.chain_valid with those CRLs; the portal's receipt
check refuses it as revoked)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from hardware.certs import chain_valid
from hardware.pkcs11 import Pkcs11Token
from kiosk.demo_cast import OTHER_ORGANISATIONS, demo_admins, demo_holder
from kiosk.errors import PortalRejected
from kiosk.pki import ISSUING_CRL, ROOT_CRL
from kiosk.portal_client import PortalClient
from kiosk.ports import IssuedCertificate, PinRole
from portal.receipts import ReceiptInvalid, check_chain, load_trust_files
from portal.server import RunningPortal, start_in_thread
from tests.integration.card.conftest import AUTH_PIN
from tests.receipt_ca import admin_cards, receipt_trust

pytestmark = [pytest.mark.softhsm, pytest.mark.portal]
TODAY = date.today()
EVA, ADMIN = demo_holder("eva", TODAY), demo_admins(TODAY)[0]


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[RunningPortal]:
    # receipt_trust: the test administrators' statements (a block needs one)
    running = start_in_thread(tmp_path / "portal" / "portal.db", seed_demo=True,
                              receipt_trust=receipt_trust())
    yield running
    running.stop()


def ca_dir(portal: RunningPortal) -> Path:
    return portal.db_path.parent / "issuing-ca"


def issue(card: Pkcs11Token, client: PortalClient, key_id: bytes,
          replaces: str | None = None) -> IssuedCertificate:
    """An additional certificate for a key pair made on the card (as Eva's)."""
    key = card.generate_key_pair(PinRole.AUTHENTICATION, AUTH_PIN, key_id, "Tilläggscertifikat")
    request = card.certificate_request(
        PinRole.AUTHENTICATION, AUTH_PIN, key.key_id, EVA.name, EVA.hsa_id
    )
    return client.issue_certificate(
        EVA.card_number, ADMIN.hsa_id, "additional", "hsa_id", request, str(uuid.uuid4()),
        replaces, OTHER_ORGANISATIONS[0],
    )


def der_of_pem(path: Path, crl: bool = False) -> bytes:
    data = path.read_bytes()
    if crl:
        return x509.load_pem_x509_crl(data).public_bytes(serialization.Encoding.DER)
    return x509.load_pem_x509_certificate(data).public_bytes(serialization.Encoding.DER)


def valid_with_crls(portal: RunningPortal, issued: IssuedCertificate) -> bool | None:
    """chain_valid against the portal's root with its published CRLs (if any yet)."""
    folder = ca_dir(portal)
    crls = [der_of_pem(folder / n, crl=True) for n in (ISSUING_CRL, ROOT_CRL)
            if (folder / n).exists()]
    return chain_valid(issued.der, [der_of_pem(folder / "root.pem")], list(issued.chain),
                       crls=crls)


def listed(portal: RunningPortal, issued: IssuedCertificate) -> bool:
    crl = x509.load_pem_x509_crl((ca_dir(portal) / ISSUING_CRL).read_bytes())
    serial = x509.load_der_x509_certificate(issued.der).serial_number
    return crl.get_revoked_certificate_by_serial_number(serial) is not None


def receipt_check(portal: RunningPortal, issued: IssuedCertificate) -> None:
    """The portal's receipt chain check with its CA directory's trust files."""
    folder = ca_dir(portal)
    material = load_trust_files(
        [folder / "root.pem", folder / "issuing.pem", folder / ROOT_CRL, folder / ISSUING_CRL]
    )
    check_chain(x509.load_der_x509_certificate(issued.der), material, datetime.now(UTC))


def test_a_removed_certificate_is_on_the_crl_and_fails_validation(
    two_pin_card: Pkcs11Token, portal: RunningPortal
) -> None:
    with PortalClient(portal.url, kiosk_id="test-kiosk") as client:
        issued = issue(two_pin_card, client, b"\x61")
        assert valid_with_crls(portal, issued) is True
        client.revoke_certificate(
            EVA.card_number, issued.serial, ADMIN.hsa_id, "removed from the card",
            str(uuid.uuid4()),
        )
    assert listed(portal, issued)
    assert valid_with_crls(portal, issued) is False
    with pytest.raises(ReceiptInvalid) as refused:
        receipt_check(portal, issued)
    assert refused.value.reason == "certificate_revoked"


def test_a_replaced_certificate_works_until_revoked_then_is_on_the_crl(
    two_pin_card: Pkcs11Token, portal: RunningPortal
) -> None:
    """Replacing: the old certificate keeps working (a card pulled before its successor
    is installed and verified keeps one), and is on the CRL once the kiosk revokes it."""
    with PortalClient(portal.url, kiosk_id="test-kiosk") as client:
        old = issue(two_pin_card, client, b"\x63")
        new = issue(two_pin_card, client, b"\x64", replaces=old.serial)
        assert valid_with_crls(portal, old) is True
        client.revoke_certificate(
            EVA.card_number, old.serial, ADMIN.hsa_id, "replaced", str(uuid.uuid4())
        )
    assert listed(portal, old) and not listed(portal, new)
    assert valid_with_crls(portal, old) is False
    assert valid_with_crls(portal, new) is True
    receipt_check(portal, new)  # the successor passes the portal's own check


def test_blocking_the_card_puts_its_certificates_on_the_crl(
    two_pin_card: Pkcs11Token, portal: RunningPortal
) -> None:
    with PortalClient(portal.url, kiosk_id="test-kiosk", signer=admin_cards()) as client:
        issued = issue(two_pin_card, client, b"\x65")
        client.block(EVA.card_number, ADMIN.hsa_id, "lost card", str(uuid.uuid4()))
        states = {c.serial: c.state for c in client.card_certificates(EVA.card_number)}
    assert states[issued.serial] == "revoked"
    assert listed(portal, issued)
    assert valid_with_crls(portal, issued) is False


def unrecorded_certificate(portal: RunningPortal, card_owner: str = "eva",
                           foreign: bool = False) -> bytes:
    """A certificate for the holder, issued by the portal's own CA (or another CA) but not
    on the portal's records: like a card's first ones, made with the card."""
    from hardware.sim.democa import DemoCA
    from portal.ca import IssuingCA

    holder = demo_holder(card_owner, TODAY)
    ca = DemoCA.create(TODAY) if foreign else None
    if ca is None:
        own = IssuingCA.load_or_create(ca_dir(portal), TODAY)
        ca = DemoCA(own.root, own.issuing)
    person = ca.issue_person(holder.given_names, holder.surname, holder.hsa_id,
                             holder.personnummer, holder.trust_level, TODAY,
                             additional_organisation=OTHER_ORGANISATIONS[0])
    assert person.additional is not None
    return person.additional.cert_der


def test_a_certificate_shown_with_the_revocation_is_taken_on_record_and_revoked(
    portal: RunningPortal,
) -> None:
    """The portal's CA issued it, the portal has no row for it: shown with the revocation it
    is put on record (kind from its organisation) and on the CRL."""
    with PortalClient(portal.url, kiosk_id="test-kiosk") as client:
        client.card_certificates(EVA.card_number)  # the portal makes its CA on first use
        der = unrecorded_certificate(portal)
        serial = format(x509.load_der_x509_certificate(der).serial_number, "x")
        with pytest.raises(PortalRejected) as unknown:  # not shown: nothing to go by
            client.revoke_certificate(EVA.card_number, serial, ADMIN.hsa_id, "removed",
                                      str(uuid.uuid4()))
        assert unknown.value.reason == "certificate_not_found"
        revoked = client.revoke_certificate(EVA.card_number, serial, ADMIN.hsa_id, "removed",
                                            str(uuid.uuid4()), der)
    assert revoked.state == "revoked" and revoked.kind == "additional"
    assert revoked.organisation == OTHER_ORGANISATIONS[0]
    crl = x509.load_pem_x509_crl((ca_dir(portal) / ISSUING_CRL).read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None


@pytest.mark.parametrize(
    ("case", "reason"),
    [("foreign", "untrusted_certificate"), ("other_holder", "certificate_mismatch"),
     ("other_serial", "certificate_mismatch"), ("garbage", "bad_certificate")],
)
def test_a_certificate_that_is_not_the_portals_is_refused(
    portal: RunningPortal, case: str, reason: str
) -> None:
    with PortalClient(portal.url, kiosk_id="test-kiosk") as client:
        client.card_certificates(EVA.card_number)
        der = {
            "foreign": lambda: unrecorded_certificate(portal, foreign=True),
            "other_holder": lambda: unrecorded_certificate(portal, "hugo"),
            "other_serial": lambda: unrecorded_certificate(portal),
            "garbage": lambda: b"\x30\x03\x02\x01\x00",
        }[case]()
        serial = "abc123" if case in ("other_serial", "garbage") else format(
            x509.load_der_x509_certificate(der).serial_number, "x")
        with pytest.raises(PortalRejected) as refused:
            client.revoke_certificate(EVA.card_number, serial, ADMIN.hsa_id, "removed",
                                      str(uuid.uuid4()), der)
        assert refused.value.reason == reason
        assert client.card_certificates(EVA.card_number) == []  # nothing taken on record
