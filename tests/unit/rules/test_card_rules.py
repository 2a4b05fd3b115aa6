"""Card eligibility per DOMAIN.md: reserve, issuer, status, 3-month and 5-day windows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from kiosk.errors import CardNotEligible
from kiosk.i18n import LANGUAGES, catalog, describe_error
from kiosk.model import (
    CardClass,
    CardIdentity,
    CardKind,
    CardRecord,
    CardStatus,
    TrustLevel,
    VisitKind,
)
from kiosk.rules.card import (
    CARD_RULES,
    activation_deadline,
    add_months,
    card_refusal,
    card_rule_key,
    completion_deadline,
    deadline_alert,
    ensure_card_eligible,
    hours_left,
)
from kiosk.settings import CardRulesSettings
from kiosk.visit.errorview import error_view

RULES = CardRulesSettings()
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def record(**changes: object) -> CardRecord:
    base = CardRecord(
        card_number="9752210000000001",
        status=CardStatus.SENT,
        kind=CardKind.ORDINARY,
        issuer="SITHS",
        holder_name="Anna Andersson",
        personnummer="199003152387",
        hsa_id="SE2321000016-A1B2",
        trust_level=TrustLevel.LOA3,
        manufactured=date(2026, 11, 1),
        valid_until=date(2031, 11, 1),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def identity(**changes: object) -> CardIdentity:
    base = CardIdentity("r0", b"\x3b", CardClass.SITHS, "gen2", "SITHS", "9752210000000001")
    return replace(base, **changes)  # type: ignore[arg-type]


def rule_of(refusal: CardNotEligible | None) -> str | None:
    return refusal.rule if refusal else None


@pytest.mark.parametrize(
    ("ident", "rec", "now", "kind", "expected"),
    [
        (identity(), record(), NOW, VisitKind.ACTIVATION, None),
        (identity(card_class=CardClass.FOREIGN, issuer="Telia"), record(), NOW,
         VisitKind.ACTIVATION, "foreign_issuer"),
        (identity(card_class=CardClass.UNKNOWN), record(), NOW, VisitKind.ACTIVATION,
         "unknown_card"),
        (identity(), record(issuer="Skatteverket"), NOW, VisitKind.ACTIVATION, "foreign_issuer"),
        (identity(card_number="9752210000000999"), record(), NOW, VisitKind.ACTIVATION,
         "card_number_mismatch"),
        (identity(card_number=None), record(), NOW, VisitKind.ACTIVATION, None),
        (None, record(), NOW, VisitKind.ACTIVATION, None),
        (identity(), record(kind=CardKind.RESERVE), NOW, VisitKind.ACTIVATION, "reserve_card"),
        (identity(), record(status=CardStatus.ACTIVE), NOW, VisitKind.ACTIVATION,
         "already_active"),
        (identity(), record(status=CardStatus.BLOCKED), NOW, VisitKind.ACTIVATION, "blocked"),
        (identity(), record(status=CardStatus.SENT), NOW, VisitKind.UNLOCK, "not_active"),
        (identity(), record(status=CardStatus.SENT), NOW, VisitKind.CHANGE_PIN, "not_active"),
        (identity(), record(status=CardStatus.ACTIVE), NOW, VisitKind.UNLOCK, None),
        (identity(), record(status=CardStatus.ACTIVE), NOW, VisitKind.CHANGE_PIN, None),
        (identity(), record(status=CardStatus.BLOCKED), NOW, VisitKind.UNLOCK, "blocked"),
        (identity(), record(status=CardStatus.SENT), NOW, VisitKind.BLOCK, None),
        (identity(), record(status=CardStatus.ACTIVE), NOW, VisitKind.BLOCK, None),
        (identity(), record(status=CardStatus.BLOCKED), NOW, VisitKind.BLOCK, "blocked"),
        (identity(), record(status=CardStatus.BLOCKED), NOW, VisitKind.CARD_CHECK, None),
        (identity(), record(kind=CardKind.RESERVE, status=CardStatus.ACTIVE), NOW,
         VisitKind.BLOCK, None),
        (identity(), record(status=CardStatus.ACTIVE, valid_until=date(2026, 11, 24)), NOW,
         VisitKind.CHANGE_PIN, "card_expired"),
        (identity(), record(status=CardStatus.ACTIVE, valid_until=date(2026, 11, 25)), NOW,
         VisitKind.CHANGE_PIN, None),
    ],
)
def test_card_refusal_table(
    ident: CardIdentity | None,
    rec: CardRecord,
    now: datetime,
    kind: VisitKind,
    expected: str | None,
) -> None:
    assert rule_of(card_refusal(ident, rec, now, RULES, kind)) == expected


def test_unknown_status_value_reads_not_sent() -> None:
    # A status outside Skickad/Aktiv/Spärrad (the portal may grow one) is refused distinctly.
    odd = record()
    object.__setattr__(odd, "status", "Beställd")
    assert rule_of(card_refusal(identity(), odd, NOW, RULES)) == "not_sent"


@pytest.mark.parametrize(
    ("manufactured", "today", "expected"),
    [
        # 3 calendar months, not 90 days: 30 Nov + 3 months = 28 Feb (2027 is no leap year).
        (date(2026, 11, 30), date(2027, 2, 28), None),
        (date(2026, 11, 30), date(2027, 3, 1), "activation_window_passed"),
        # 90 days after 1 Dec is 1 Mar, but the calendar window runs through 1 Mar too.
        (date(2026, 12, 1), date(2027, 3, 1), None),
        (date(2026, 12, 1), date(2027, 3, 2), "activation_window_passed"),
        # Into a leap February: 30 Nov 2027 + 3 months = 29 Feb 2028 (90 days: 28 Feb).
        (date(2027, 11, 30), date(2028, 2, 29), None),
        (date(2027, 11, 30), date(2028, 3, 1), "activation_window_passed"),
        (date(2026, 8, 25), date(2026, 11, 25), None),
        (date(2026, 8, 24), date(2026, 11, 25), "activation_window_passed"),
    ],
)
def test_activation_window_is_counted_on_the_calendar(
    manufactured: date, today: date, expected: str | None
) -> None:
    now = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=15)
    refusal = card_refusal(identity(), record(manufactured=manufactured), now, RULES)
    assert rule_of(refusal) == expected
    if refusal is not None:
        assert refusal.data["deadline"] == add_months(manufactured, 3).isoformat()


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (NOW - timedelta(days=5), None),  # exactly 5 days: still inside
        (NOW - timedelta(days=5, seconds=1), "completion_window_passed"),
        (NOW - timedelta(days=1), None),
    ],
)
def test_completion_window_of_five_days(start: datetime, expected: str | None) -> None:
    refusal = card_refusal(identity(), record(activation_started=start), NOW, RULES)
    assert rule_of(refusal) == expected


def test_started_activation_may_finish_after_the_three_month_window() -> None:
    # Started on the last allowed day, finished two days later: the 5-day window governs.
    manufactured = date(2026, 8, 23)
    started = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    rec = record(manufactured=manufactured, activation_started=started)
    assert card_refusal(identity(), rec, NOW, RULES) is None


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 11, 15), 3, date(2027, 2, 15)),
        (date(2026, 12, 31), 3, date(2027, 3, 31)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
    ],
)
def test_add_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


def test_deadline_helpers() -> None:
    rec = record(manufactured=date(2026, 9, 1))
    assert activation_deadline(rec, RULES) == date(2026, 12, 1)
    assert completion_deadline(rec, RULES) is None
    started = record(activation_started=NOW - timedelta(days=4, hours=12))
    finish = completion_deadline(started, RULES)
    assert finish == NOW + timedelta(hours=12)
    assert hours_left(finish, NOW) == pytest.approx(12.0)
    assert deadline_alert(started, NOW, RULES) is True
    assert deadline_alert(record(activation_started=NOW), NOW, RULES) is False
    assert deadline_alert(replace(started, status=CardStatus.ACTIVE), NOW, RULES) is False
    # A date deadline means the end of that day.
    assert hours_left(date(2026, 11, 25), NOW) == pytest.approx(14.0)
    assert hours_left(date(2026, 11, 24), NOW) < 0


def test_ensure_card_eligible_raises_with_the_rule() -> None:
    with pytest.raises(CardNotEligible) as caught:
        ensure_card_eligible(identity(), record(kind=CardKind.RESERVE), NOW, RULES)
    assert caught.value.rule == "reserve_card"
    ensure_card_eligible(identity(), record(), NOW, RULES)


@pytest.mark.parametrize("rule", CARD_RULES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_card_rule_has_its_own_text_and_next_step(rule: str, lang: str) -> None:
    keys = catalog(lang)
    assert card_rule_key(rule) in keys
    assert card_rule_key(rule) + ".next" in keys
    shown = error_view(CardNotEligible(rule))
    assert (shown.message, shown.next_step) == (card_rule_key(rule), card_rule_key(rule) + ".next")


def test_reasons_have_distinct_texts() -> None:
    texts = {catalog("sv")[card_rule_key(rule)] for rule in CARD_RULES}
    assert len(texts) == len(CARD_RULES)


def test_generic_describe_error_still_works_for_a_rule() -> None:
    message, _ = describe_error(CardNotEligible("reserve_card"), "en")
    assert message == "This card cannot be activated here."
