"""The card work the certificate visits commit before touching a card: one open work per
card and kind (a second visit gets the first's), notes kept durably across a reopen,
shown in the status, ended by the visit's recorded result (only that kind's), no secret."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from hardware.sim.clock import ManualClock
from kiosk.devicekey import load_or_create
from kiosk.model import CardWork, VisitKind
from kiosk.outbox import Outbox
from tests.unit.outbox.helpers import T0, activation_result

CARD = "9752210000000007"


def open_box(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path, load_or_create(tmp_path), ManualClock(T0), alert_hours=24)


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Outbox]:
    outbox = open_box(tmp_path)
    yield outbox
    outbox.close()


def work(work_id: str, kind: str = "renew_certificates") -> CardWork:
    return CardWork(work_id, kind, CARD, "SE-ADM1", T0, {"jobs": "[]"})


def test_a_second_visit_gets_the_open_work_and_its_notes_survive_a_reopen(
    box: Outbox, tmp_path: Path
) -> None:
    assert box.find_card_work(CARD, "renew_certificates") is None
    assert box.begin_card_work(work("first")).work_id == "first"
    box.note_card_work("first", "issued:first:issue:s", "QUJD")
    assert box.begin_card_work(work("second")).work_id == "first"  # continued, not new
    box.close()
    again = open_box(tmp_path)  # a restarted kiosk
    try:
        found = again.find_card_work(CARD, "renew_certificates")
        assert found is not None and found.notes["issued:first:issue:s"] == "QUJD"
        assert [w.work_id for w in again.status().card_work] == ["first"]
        assert again.status().as_json()["card_work"][0]["kind"] == "renew_certificates"
        # another kind of work on the same card is its own
        assert again.begin_card_work(work("other", "signature_certificate")).work_id == "other"
    finally:
        again.close()


def test_the_recorded_result_ends_only_its_kind_of_work(box: Outbox) -> None:
    box.begin_card_work(work("renewal"))
    box.begin_card_work(work("signature", "signature_certificate"))
    result = replace(activation_result(1, CARD), kind=VisitKind.RENEW_CERTIFICATES)
    box.record(result)
    assert [w.work_id for w in box.open_card_work()] == ["signature"]
    box.end_card_work("signature")
    assert box.open_card_work() == []


def test_card_work_keeps_no_secret(box: Outbox) -> None:
    box.begin_card_work(work("w"))
    with pytest.raises(ValueError):
        box.note_card_work("w", "signature_pin", "123456")
