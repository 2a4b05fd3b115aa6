"""The card record as a visit shows it: the portal's facts, deadlines, masked personnummer."""

from __future__ import annotations

from datetime import date, datetime

from kiosk.errors import InvalidInput
from kiosk.identity.personnummer import Personnummer, parse_personnummer
from kiosk.model import CardRecord, CardStatus
from kiosk.rules.card import (
    activation_deadline,
    completion_deadline,
    deadline_alert,
    hours_left,
    next_deadline,
)
from kiosk.settings import CardRulesSettings
from kiosk.visit.contract import Param


def holder_personnummer(record: CardRecord | None, today: date) -> Personnummer | None:
    """The holder's parsed personnummer from the record, if it parses."""
    if record is None:
        return None
    try:
        return parse_personnummer(record.personnummer, on=today)
    except InvalidInput:
        return None


def record_params(
    record: CardRecord | None, card_number: str | None, now: datetime, rules: CardRulesSettings
) -> dict[str, Param]:
    """The card record's facts for the screen (personnummer masked)."""
    if record is None:
        return {"card_number": card_number}
    holder = holder_personnummer(record, now.date())
    # status and its deadlines first: on the 7" panel the rows past the seventh scroll
    params: dict[str, Param] = {
        "card_number": record.card_number,
        "holder_name": record.holder_name,
        "personnummer": holder.masked() if holder else None,
        "hsa_id": record.hsa_id,
        "status": record.status.value,
    }
    if record.status is CardStatus.SENT:
        deadline = next_deadline(record, now, rules)
        params["hours_left"] = round(hours_left(deadline, now))
        params["deadline_alert"] = deadline_alert(record, now, rules)
    if record.status is not CardStatus.ACTIVE:  # an active card's are met and long past
        finish = completion_deadline(record, rules)
        params["completion_deadline"] = finish.isoformat(timespec="minutes") if finish else None
        params["activation_deadline"] = activation_deadline(record, rules).isoformat()
    params |= {
        "kind": record.kind.value,
        "issuer": record.issuer,
        "trust_level": int(record.trust_level),
        "manufactured": record.manufactured.isoformat(),
        "valid_until": record.valid_until.isoformat() if record.valid_until else None,
    }
    return params


def deadline_params(deadline: datetime | None) -> dict[str, Param]:
    """The completion deadline of a started activation, for explanations."""
    return {"deadline": deadline.isoformat(timespec="minutes")} if deadline else {}
