"""The demo cast: the people and cards that `kiosk --demo`, the reference portal's seed,
the simulated card and the sample documents all agree on.

Every date is relative to the day the demo runs, so the deadlines always make sense.
Personnummer are invented (valid Luhn check digits, not real people).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from kiosk.model import CardKind, CardStatus, DocumentType, TrustLevel
from kiosk.settings import Settings


@dataclass(frozen=True)
class DemoAdmin:
    """An ID administrator of the demo office."""

    name: str
    hsa_id: str
    personnummer: str
    card_number: str
    pin: str  # the administrator's own demo card PIN (demo only)
    training_valid_until: date


@dataclass(frozen=True)
class DemoHolder:
    """A card holder, their card and the ID document they bring."""

    key: str
    given_names: str
    surname: str
    personnummer: str  # 12 digits, YYYYMMDDNNNC
    hsa_id: str
    card_number: str
    card_status: CardStatus
    card_kind: CardKind
    issuer: str
    trust_level: TrustLevel
    manufactured: date
    document: DocumentType
    document_number: str
    document_expiry: date
    phone: str
    note: str  # what this card shows in the demo
    # the card's certificates (kiosk --demo, kioskctl demo visit): every holder card has two
    # PINs (authentication and signature: two SoftHSM2 tokens, hardware.sim.softhsm)
    signature_certificate: bool = True  # False: a new-style card without one (underskrift)
    additional_organisation: str | None = None  # a tilläggscertifikat from this organisation

    @property
    def name(self) -> str:
        """Given names and surname."""
        return f"{self.given_names} {self.surname}"


# The office id, as in settings kiosk.card_office (the packaged default), so that the
# demo administrators are authorised at a kiosk running on the packaged defaults.
DEMO_OFFICE = "demo-office"
DEMO_KIOSK_ID = "demo-kiosk-1"


def demo_identity(settings: Settings) -> Settings:
    """The settings as the demo runs them: the demo kiosk at the demo cast's card office.

    The demo portal knows every loopback caller as the demo kiosk and the demo
    administrators work at the demo office; a kiosk's own identity from its site file made
    every statement it signed in the demo a "statement_mismatch".
    """
    identity = replace(settings.kiosk, kiosk_id=DEMO_KIOSK_ID, card_office=DEMO_OFFICE)
    return replace(settings, kiosk=identity)
HSA_PREFIX = "SE2321000016-"
# The PIN of Eva's card, which is Aktiv (demo only: the card change/check visits use it).
DEMO_ACTIVE_PIN = "462951"
# The signature PIN (underskriftskod) of every Aktiv demo card that has a signature
# certificate (demo only); other cards' signature tokens carry a PIN nobody knows.
DEMO_SIGNATURE_PIN = "715938"
# The organisation in the subject of the demo cards' own certificates (kiosk.pki's default)
# and the other organisations a card may carry one additional certificate from.
HOME_ORGANISATION = "Region Demo"
OTHER_ORGANISATIONS = ("Region Norrland (demo)", "Region Skåne (demo)")


def demo_so_pin(card_number: str) -> str:
    """The SO credential (C_InitPIN) of a demo card's token; the portal seed hands it out."""
    return "SO-" + card_number[-8:]


def demo_admins(today: date) -> tuple[DemoAdmin, ...]:
    """One administrator with current training, one whose training has lapsed."""
    return (
        DemoAdmin(
            "Karin Kortsson",
            HSA_PREFIX + "ADM1",
            "198802041130",
            "9752210000000100",
            "246813",
            today + timedelta(days=200),
        ),
        DemoAdmin(
            "Lars Lapsén",
            HSA_PREFIX + "ADM2",
            "197511307725",
            "9752210000000101",
            "135792",
            today - timedelta(days=10),
        ),
    )


def demo_holders(today: date) -> tuple[DemoHolder, ...]:
    """Cards in each status and kind the visits need."""
    fresh = today - timedelta(days=20)
    return (
        DemoHolder(
            "anna", "Anna Maria", "Andersson", "199003152387", HSA_PREFIX + "A1B2",
            "9752210000000001", CardStatus.SENT, CardKind.ORDINARY, "SITHS",
            TrustLevel.LOA3, fresh, DocumentType.PASSPORT, "11234567",
            today + timedelta(days=900), "0701234567", "ordinary card ready to activate",
        ),
        DemoHolder(
            "bertil", "Bertil", "Berg", "198507224510", HSA_PREFIX + "B3C4",
            "9752210000000002", CardStatus.SENT, CardKind.ORDINARY, "SITHS",
            TrustLevel.LOA3, fresh, DocumentType.NATIONAL_ID, "17654321",
            today + timedelta(days=400), "0709876543", "activation with a national ID card",
        ),
        DemoHolder(
            "cecilia", "Cecilia", "Carlsson", "200206113698", HSA_PREFIX + "C5D6",
            "9752210000000003", CardStatus.SENT, CardKind.RESERVE, "SITHS",
            TrustLevel.LOA3, fresh, DocumentType.PASSPORT, "11122334",
            today + timedelta(days=700), "0705550101", "reserve card: must be refused",
        ),
        DemoHolder(
            "david", "David", "Dahl", "199509176260", HSA_PREFIX + "D7E8",
            "9752210000000004", CardStatus.SENT, CardKind.ORDINARY, "SITHS",
            TrustLevel.LOA3, today - timedelta(days=120), DocumentType.PASSPORT, "19988776",
            today + timedelta(days=300), "0705550102", "manufactured over 3 months ago",
        ),
        DemoHolder(
            "eva", "Eva", "Ek", "194601012349", HSA_PREFIX + "E9F0",
            "9752210000000005", CardStatus.ACTIVE, CardKind.ORDINARY, "SITHS",
            TrustLevel.LOA3, today - timedelta(days=400), DocumentType.DRIVING_LICENCE,
            "EE5566778", today + timedelta(days=1000), "0705550103",
            "active card: PIN change, card check, block, unlock",
        ),
        DemoHolder(
            "farid", "Farid", "Fors", "199108613457", HSA_PREFIX + "F1G2",
            "9752210000000006", CardStatus.SENT, CardKind.ORDINARY, "SITHS",
            TrustLevel.LOA2, fresh, DocumentType.PASSPORT, "13344556",
            today - timedelta(days=5), "0705550104",
            "samordningsnummer, LoA2; his passport has expired",
        ),
        DemoHolder(
            "hugo", "Hugo", "Holm", "197804142318", HSA_PREFIX + "H3J4",
            "9752210000000007", CardStatus.ACTIVE, CardKind.ORDINARY, "SITHS",
            TrustLevel.LOA3, today - timedelta(days=5 * 365 - 60), DocumentType.PASSPORT,
            "HH2233445", today + timedelta(days=800), "0705550105",
            "active card whose certificates end in 60 days: the card check warns; renewal",
        ),
        DemoHolder(
            "ingrid", "Ingrid", "Isaksson", "198209235285", HSA_PREFIX + "I5K6",
            "9752210000000008", CardStatus.ACTIVE, CardKind.ORDINARY, "SITHS",
            TrustLevel.LOA3, today - timedelta(days=200), DocumentType.PASSPORT,
            "II4455667", today + timedelta(days=1200), "0705550106",
            "active card without a signature certificate: the signature-certificate visit",
            signature_certificate=False,
        ),
        DemoHolder(
            "jonas", "Jonas", "Jakobsson", "199004127412", HSA_PREFIX + "J7L8",
            "9752210000000009", CardStatus.ACTIVE, CardKind.ORDINARY, "SITHS",
            TrustLevel.LOA3, today - timedelta(days=300), DocumentType.PASSPORT,
            "JJ5566778", today + timedelta(days=1500), "0705550107",
            "active card with an additional certificate (Region Norrland): replace or remove",
            additional_organisation=OTHER_ORGANISATIONS[0],
        ),
    )


def demo_holder(key: str, today: date) -> DemoHolder:
    """One holder of the demo cast by key."""
    for holder in demo_holders(today):
        if holder.key == key:
            return holder
    raise KeyError(key)
