"""Card fixtures: one private pcscd with the vpcd reader per session, SoftHSM2 tokens per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hardware.emulator import VpcdEmulator
from hardware.emulator.pcscd import PcscdProcess, vpcd_driver
from hardware.pcsc import PcscReader
from kiosk.ports import CardEvent, CardEventKind
from kiosk.settings import HardwareSettings
from tests.conftest import IN_CI, require_tool


@pytest.fixture(scope="package")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PcscdProcess]:
    """pcscd in the foreground with only the vpcd reader; stopped after the card tests.

    Package scope rather than session scope: pcscd is machine-wide, so it is held only
    while the card tests run.
    """
    require_tool("pcscd", "PC/SC daemon")
    if vpcd_driver() is None:
        message = "the vsmartcard-vpcd driver is not installed"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    process = PcscdProcess(work_dir=tmp_path_factory.mktemp("pcscd"))
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def emulator(pcscd: PcscdProcess) -> Iterator[VpcdEmulator]:
    """The card emulator on the vpcd reader; the card is removed after the test."""
    emu = VpcdEmulator(port=pcscd.port)
    try:
        yield emu
    finally:
        emu.close()


@pytest.fixture
def reader(pcscd: PcscdProcess) -> Iterator[PcscReader]:
    """A PcscReader on the first vpcd reader slot, with the default ATR table."""
    settings = HardwareSettings(reader_name="Kiosk vpcd 00 00")
    pcsc = PcscReader.from_settings(settings)
    drain(pcsc)
    try:
        yield pcsc
    finally:
        pcsc.close()


def drain(reader: PcscReader, quiet_s: float = 0.3) -> list[CardEvent]:
    """Collect events until the reader stays quiet for ``quiet_s``."""
    events = []
    while (event := reader.wait_for_change(quiet_s)) is not None:
        events.append(event)
    return events


def wait_for(reader: PcscReader, kind: CardEventKind, timeout: float = 5.0) -> list[CardEvent]:
    """Events up to and including the first of ``kind``; fails the test on timeout."""
    events: list[CardEvent] = []
    while True:
        event = reader.wait_for_change(timeout)
        assert event is not None, f"no {kind} event within {timeout}s; saw {events}"
        events.append(event)
        if event.kind == kind:
            return events


# --- SoftHSM2 tokens ---------------------------------------------------------------------

from dataclasses import dataclass  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

from hardware.pkcs11 import Pkcs11Module, Pkcs11Token, Pkcs11TokenProvider  # noqa: E402
from hardware.pkcs11.module import find_softhsm_module  # noqa: E402
from hardware.sim.democa import DemoCA, PersonCredentials  # noqa: E402
from hardware.sim.softhsm import (  # noqa: E402
    init_token,
    random_pin,
    store_credentials,
    token_label,
    write_softhsm_conf,
)
from kiosk.model import TrustLevel  # noqa: E402
from kiosk.settings import DEFAULT_POLICY_LEVELS  # noqa: E402

CARD_NUMBER = "9752210000000001"
SO_PIN = "SO-00000001"


@dataclass
class SoftHsm:
    """A per-test SoftHSM2 token directory and the module pointed at it."""

    conf: Path
    module: Pkcs11Module


@dataclass(frozen=True)
class DemoPki:
    """The demo CA and one person's credentials, made once per session."""

    ca: DemoCA
    person: PersonCredentials


@pytest.fixture(scope="session")
def demo_pki() -> DemoPki:
    """A demo CA and Anna's card credentials (RSA keys are made once per session)."""
    ca = DemoCA.create(date.today())
    person = ca.issue_person(
        "Anna Maria",
        "Andersson",
        "SE2321000016-A1B2",
        "199003152387",
        TrustLevel.LOA3,
        date.today(),
    )
    return DemoPki(ca, person)


@pytest.fixture
def softhsm(tmp_path: Path) -> SoftHsm:
    """SoftHSM2 with an empty token directory of this test's own."""
    require_tool("softhsm2-util", "SoftHSM2")
    path = find_softhsm_module()
    if path is None:
        message = "libsofthsm2.so is not installed"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    conf = write_softhsm_conf(tmp_path / "softhsm")
    return SoftHsm(conf, Pkcs11Module.load(path, conf))


def provider_for(
    softhsm: SoftHsm,
    pki: DemoPki | None = None,
    profile: str = "init_pin",
    card_number: str = CARD_NUMBER,
) -> Pkcs11TokenProvider:
    """A provider that finds the token by the card number the reader would report."""
    softhsm.module.reinitialize()  # see the tokens created since the module was loaded
    return Pkcs11TokenProvider(
        softhsm.module,
        card_number_of=lambda _reader: card_number,
        profile=profile,
        policy_levels=DEFAULT_POLICY_LEVELS,
        trust_anchors=[pki.ca.root_der] if pki else [],
        labels_carry_number=True,
    )


@pytest.fixture
def card_token(softhsm: SoftHsm, demo_pki: DemoPki) -> Pkcs11Token:
    """A card token holding Anna's keys and certificates, its user PIN not known to anyone."""
    label = token_label(CARD_NUMBER)
    provisioning_pin = random_pin()
    init_token(softhsm.conf, label, SO_PIN, provisioning_pin)
    softhsm.module.reinitialize()
    store_credentials(softhsm.module, label, provisioning_pin, demo_pki.person)
    return provider_for(softhsm, demo_pki).open()


# --- a two-PIN card: SoftHSM2 has one user PIN per token, so two tokens -------------------

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa  # noqa: E402

from hardware.sim.softhsm import signature_token_label  # noqa: E402

AUTH_PIN = "482915"
SIGN_PIN = "730284"
SIGN_SO = "SO-SIGN-0001"
TEST_DATA = b"Underskrift: provsignatur fran kiosken."


@pytest.fixture
def two_pin_card(card_token: Pkcs11Token, softhsm: SoftHsm, demo_pki: DemoPki) -> Pkcs11Token:
    """Anna's card with its first PIN set, plus a signature-PIN token with no key yet."""
    card_token.set_initial_pin(SO_PIN, AUTH_PIN)
    init_token(softhsm.conf, signature_token_label(CARD_NUMBER), SIGN_SO, random_pin())
    token = provider_for(softhsm, demo_pki).open()
    token.set_signature_pin(SIGN_SO, SIGN_PIN)
    return token


def verify(cert_der: bytes, signature: bytes, data: bytes) -> None:
    """A test signature (PKCS#1 v1.5 or ECDSA, SHA-256) verifies with the certificate."""
    public_key = x509.load_der_x509_certificate(cert_der).public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))


# --- a card office: the reference portal over TLS and the demo kiosk's services ----------

from dataclasses import replace  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

from kiosk.settings import PortalSettings, Settings  # noqa: E402

if TYPE_CHECKING:  # the portal and the composition load only for the tests that use them
    from portal.devpki import DevPki
    from portal.server import RunningPortal


@dataclass
class Office:
    """The reference portal (seeded with the demo cast) and a kiosk state directory."""

    portal: RunningPortal
    pki: DevPki
    state: Path

    def services(self, hardware: HardwareSettings | None = None) -> Any:
        """The demo kiosk's services on this portal (``hardware``: other simulated devices)."""
        from composition.wiring import build_services

        settings = Settings()
        settings = replace(settings, portal=PortalSettings(
            url=self.portal.url, ca_file=str(self.pki.ca_cert),
            client_cert=str(self.pki.client_cert), client_key=str(self.pki.client_key),
        ))
        if hardware is not None:
            settings = replace(settings, hardware=hardware)
        return build_services(settings, self.state, demo=True, portal_url=self.portal.url,
                              with_camera=False)


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    """A card office for one test: the portal's database and the kiosk's state its own."""
    from hardware.sim.democa import trust_files
    from portal.devpki import generate_dev_pki
    from portal.server import start_in_thread

    require_tool("softhsm2-util", "the simulated card's token")
    pki = generate_dev_pki(tmp_path / "tls")
    state = tmp_path / "kiosk"
    running = start_in_thread(
        tmp_path / "portal" / "portal.db", tls_dir=pki.directory, seed_demo=True,
        today=date.today(), receipt_trust=trust_files(state / "democa"),
        ca_dir=state / "democa",
    )
    yield Office(running, pki, state)
    running.stop()
