"""Card eligibility: which cards a visit may work on, and the activation deadlines.

Refusal reasons (``CARD_RULES``), each with a translated text and next step in
kiosk/locale/*/rules.json under ``rules.card.<reason>`` and ``rules.card.<reason>.next``:

- ``foreign_issuer``: the ATR or the portal record names an issuer that is not SITHS.
- ``unknown_card``: the ATR matches no known card.
- ``card_number_mismatch``: the number the card exposes differs from the record's.
- ``reserve_card``: reserve cards are never activated at a card office.
- ``not_sent`` / ``already_active`` / ``blocked``: activation needs status Skickad.
- ``not_active``: unlock and PIN change need status Aktiv.
- ``card_expired``: the card's 5-year validity has ended (unlock, PIN change).
- ``activation_window_passed``: more than 3 calendar months since manufacture.
- ``completion_window_passed``: activation started more than 5 days ago.
- ``signature_certificate_present``: the card has a signature certificate already.
- ``no_signature_pin``: the card has no signature PIN of its own (one PIN only).
- ``nothing_to_renew``: no certificate on the card ends within 3 months.
- ``key_work_on_pin_pad``: key pairs are made with PINs typed on the kiosk's screen.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

from kiosk.errors import CardNotEligible
from kiosk.model import CardClass, CardIdentity, CardKind, CardRecord, CardStatus, VisitKind
from kiosk.settings import CardRulesSettings

CARD_RULES: tuple[str, ...] = (
    "foreign_issuer",
    "unknown_card",
    "card_number_mismatch",
    "reserve_card",
    "not_sent",
    "already_active",
    "blocked",
    "not_active",
    "card_expired",
    "activation_window_passed",
    "completion_window_passed",
    "signature_certificate_present",
    "no_signature_pin",
    "nothing_to_renew",
    "key_work_on_pin_pad",
)

# Which statuses each visit accepts (DOMAIN: block a lost card at once, whatever it is doing).
ACCEPTED_STATUSES: dict[VisitKind, frozenset[CardStatus]] = {
    VisitKind.ACTIVATION: frozenset({CardStatus.SENT}),
    VisitKind.UNLOCK: frozenset({CardStatus.ACTIVE}),
    VisitKind.CHANGE_PIN: frozenset({CardStatus.ACTIVE}),
    VisitKind.BLOCK: frozenset({CardStatus.SENT, CardStatus.ACTIVE}),
    VisitKind.CARD_CHECK: frozenset(CardStatus),
    VisitKind.PIN_LETTER: frozenset({CardStatus.ACTIVE}),  # codes exist only once active
    VisitKind.SIGNATURE_CERTIFICATE: frozenset({CardStatus.ACTIVE}),
    VisitKind.RENEW_CERTIFICATES: frozenset({CardStatus.ACTIVE}),
    VisitKind.ADDITIONAL_CERTIFICATE: frozenset({CardStatus.ACTIVE}),
}


def card_rule_key(rule: str) -> str:
    """The translation key explaining a card refusal ``rule``."""
    return f"rules.card.{rule}"


def add_months(day: date, months: int) -> date:
    """``day`` moved by calendar months, clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


CERTIFICATE_WARNING_MONTHS = 3
"""Holders are told about their certificates' end this long before it (DOMAIN.md)."""


def certificate_expires_soon(not_after: datetime, now: datetime) -> bool:
    """Whether a certificate still valid at ``now`` ends within CERTIFICATE_WARNING_MONTHS."""
    return now <= not_after and not_after.date() <= add_months(
        now.date(), CERTIFICATE_WARNING_MONTHS
    )


def last_activation_day(manufactured: date, settings: CardRulesSettings) -> date:
    """The last day activation may start: manufacture plus the window, on the calendar."""
    return add_months(manufactured, settings.activation_window_months)


def completion_due(started: datetime, settings: CardRulesSettings) -> datetime:
    """When an activation started at ``started`` must be complete."""
    return started + timedelta(days=settings.completion_window_days)


def valid_until(manufactured: date, settings: CardRulesSettings) -> date:
    """The last day of a card's validity: manufacture plus the validity years."""
    return add_months(manufactured, 12 * settings.card_validity_years)


def activation_deadline(record: CardRecord, settings: CardRulesSettings) -> date:
    """The last day activation of this card may start (``last_activation_day``)."""
    return last_activation_day(record.manufactured, settings)


def completion_deadline(record: CardRecord, settings: CardRulesSettings) -> datetime | None:
    """When a started activation must be complete; None if activation has not started."""
    if record.activation_started is None:
        return None
    return completion_due(record.activation_started, settings)


def hours_left(deadline: datetime | date, now: datetime) -> float:
    """Hours from ``now`` to ``deadline`` (a date means the end of that day); negative if past."""
    if not isinstance(deadline, datetime):
        deadline = datetime.combine(deadline + timedelta(days=1), datetime.min.time(), now.tzinfo)
    return (deadline - now).total_seconds() / 3600


def next_deadline(record: CardRecord, now: datetime, settings: CardRulesSettings) -> datetime:
    """The earliest deadline binding an inactive card: completion if started, else activation."""
    candidates: list[datetime] = []
    finish = completion_deadline(record, settings)
    if finish is not None:
        candidates.append(finish)
    last_day = activation_deadline(record, settings)
    candidates.append(
        datetime.combine(last_day + timedelta(days=1), datetime.min.time(), now.tzinfo)
    )
    return min(candidates)


def deadline_alert(record: CardRecord, now: datetime, settings: CardRulesSettings) -> bool:
    """Whether an inactive card is within ``deadline_alert_hours`` of a deadline."""
    if record.status is not CardStatus.SENT:
        return False
    left = hours_left(next_deadline(record, now, settings), now)
    return 0 <= left <= settings.deadline_alert_hours


def identity_refusal(identity: CardIdentity) -> CardNotEligible | None:
    """Refusal decided by the reader alone (before the record is fetched), or None."""
    if identity.card_class is CardClass.FOREIGN:
        return CardNotEligible("foreign_issuer", issuer=identity.issuer or "")
    if identity.card_class is not CardClass.SITHS:
        return CardNotEligible("unknown_card", atr=identity.atr.hex())
    return None


def _status_refusal(record: CardRecord, kind: VisitKind) -> str | None:
    if record.status in ACCEPTED_STATUSES[kind]:
        return None
    if record.status is CardStatus.BLOCKED:
        return "blocked"
    if kind is VisitKind.ACTIVATION:
        return "already_active" if record.status is CardStatus.ACTIVE else "not_sent"
    return "not_active"


def _activation_refusal(
    record: CardRecord, now: datetime, settings: CardRulesSettings
) -> CardNotEligible | None:
    if record.kind is CardKind.RESERVE:
        return CardNotEligible("reserve_card", card_number=record.card_number)
    status_rule = _status_refusal(record, VisitKind.ACTIVATION)
    if status_rule is not None:
        return CardNotEligible(status_rule, card_number=record.card_number)
    finish = completion_deadline(record, settings)
    if finish is not None:
        if now > finish:
            return CardNotEligible(
                "completion_window_passed",
                card_number=record.card_number,
                deadline=finish.isoformat(timespec="minutes"),
                days=settings.completion_window_days,
            )
        return None  # an activation under way may be completed inside its own window
    last_day = activation_deadline(record, settings)
    if now.date() > last_day:
        return CardNotEligible(
            "activation_window_passed",
            card_number=record.card_number,
            deadline=last_day.isoformat(),
            months=settings.activation_window_months,
        )
    return None


def card_refusal(
    identity: CardIdentity | None,
    record: CardRecord,
    now: datetime,
    settings: CardRulesSettings,
    kind: VisitKind = VisitKind.ACTIVATION,
) -> CardNotEligible | None:
    """Why ``kind`` may not work on this card, or None; ``identity`` is None for a typed number."""
    if identity is not None:
        refused = identity_refusal(identity)
        if refused is not None:
            return refused
        if identity.card_number and identity.card_number != record.card_number:
            return CardNotEligible(
                "card_number_mismatch",
                card_number=record.card_number,
                on_card=identity.card_number,
            )
    if record.issuer not in settings.accepted_issuers:
        return CardNotEligible("foreign_issuer", issuer=record.issuer)
    if kind is VisitKind.ACTIVATION:
        return _activation_refusal(record, now, settings)
    status_rule = _status_refusal(record, kind)
    if status_rule is not None:
        return CardNotEligible(status_rule, card_number=record.card_number)
    needs_valid_card = kind in (
        VisitKind.UNLOCK, VisitKind.CHANGE_PIN, VisitKind.PIN_LETTER,
        VisitKind.SIGNATURE_CERTIFICATE, VisitKind.RENEW_CERTIFICATES,
        VisitKind.ADDITIONAL_CERTIFICATE,
    )
    if needs_valid_card and record.valid_until is not None and now.date() > record.valid_until:
        return CardNotEligible(
            "card_expired",
            card_number=record.card_number,
            valid_until=record.valid_until.isoformat(),
        )
    return None


def ensure_card_eligible(
    identity: CardIdentity | None,
    record: CardRecord,
    now: datetime,
    settings: CardRulesSettings,
    kind: VisitKind = VisitKind.ACTIVATION,
) -> None:
    """Raise CardNotEligible(rule=reason) if ``kind`` may not work on this card."""
    refused = card_refusal(identity, record, now, settings, kind)
    if refused is not None:
        raise refused
