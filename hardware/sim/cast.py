"""The simulated cards: the demo cast of kiosk.demo_cast, plus one foreign card."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hardware.atr import atr_from_pattern
from kiosk.demo_cast import (
    DEMO_ACTIVE_PIN,
    DEMO_SIGNATURE_PIN,
    demo_admins,
    demo_holders,
    demo_so_pin,
)
from kiosk.model import CardStatus, TrustLevel
from kiosk.settings import DEFAULT_ATR_TABLE

SITHS_GEN3_ATR = atr_from_pattern(DEFAULT_ATR_TABLE[0].pattern)
SITHS_GEN2_ATR = atr_from_pattern(DEFAULT_ATR_TABLE[1].pattern)
TELIA_ATR = atr_from_pattern(DEFAULT_ATR_TABLE[2].pattern, fill=0x11)
FOREIGN_CARD = "telia-e-leg"


@dataclass(frozen=True)
class CardOwner:
    """Whose certificates a simulated card carries."""

    given_names: str
    surname: str
    hsa_id: str
    personnummer: str
    trust_level: TrustLevel
    valid_from: date


@dataclass(frozen=True)
class SimCard:
    """One card of the demo deck: what the reader sees and what its token holds.

    ``pin`` is the cast's user PIN (admins, the Aktiv card); None means the holder has
    not chosen one yet. ``owner`` is None for a card with no SITHS token (foreign).
    A ``two_pins`` card has a second token for its signature PIN (``signature_pin``, None:
    not chosen by the holder) holding the signature key and certificate, if it has one;
    an ``additional_organisation`` card carries one additional certificate from it.
    A card without ``number_on_chip`` has its number printed on its back only: the
    administrator types it.
    """

    key: str
    card_number: str
    atr: bytes
    owner: CardOwner | None
    pin: str | None = None
    two_pins: bool = False
    signature_pin: str | None = None
    signature_certificate: bool = True
    additional_organisation: str | None = None
    number_on_chip: bool = True

    @property
    def so_pin(self) -> str:
        """The SO credential the portal hands out for this card."""
        return demo_so_pin(self.card_number)

    @property
    def readable_number(self) -> str | None:
        """The card number the card exposes to the reader (foreign cards expose none, nor
        does a card whose number is only printed on its back)."""
        return self.card_number if self.owner is not None and self.number_on_chip else None


def demo_cards(today: date) -> tuple[SimCard, ...]:
    """Every simulated card: the administrators', the holders' and one Telia card."""
    cards: list[SimCard] = []
    for admin in demo_admins(today):
        given, _, surname = admin.name.partition(" ")
        owner = CardOwner(
            given, surname, admin.hsa_id, admin.personnummer, TrustLevel.LOA3, today.replace(day=1)
        )
        cards.append(
            SimCard(f"admin:{admin.hsa_id}", admin.card_number, SITHS_GEN3_ATR, owner, admin.pin)
        )
    for holder in demo_holders(today):
        owner = CardOwner(
            holder.given_names,
            holder.surname,
            holder.hsa_id,
            holder.personnummer,
            holder.trust_level,
            holder.manufactured,
        )
        active = holder.card_status is CardStatus.ACTIVE
        atr = SITHS_GEN2_ATR if active else SITHS_GEN3_ATR
        cards.append(
            SimCard(
                holder.key,
                holder.card_number,
                atr,
                owner,
                DEMO_ACTIVE_PIN if active else None,
                two_pins=True,
                signature_pin=(
                    DEMO_SIGNATURE_PIN if active and holder.signature_certificate else None
                ),
                signature_certificate=holder.signature_certificate,
                additional_organisation=holder.additional_organisation,
            )
        )
    cards.append(SimCard(FOREIGN_CARD, FOREIGN_CARD, TELIA_ATR, None))
    return tuple(cards)
