"""Every (stage, event) transition of every visit, table-driven, with a coverage check."""

from __future__ import annotations

from typing import Any

import pytest

from kiosk.errors import NothingRead
from kiosk.model import VisitKind
from kiosk.visit.admin_session import VISIT_FLOWS
from kiosk.visit.contract import ViewName
from kiosk.visit.stages import Stage
from tests.unit.visit.drive import happy_script, visit
from tests.unit.visit.rig import SETTINGS, admin_auth, evidence_of, holder

A, U, C, K, B, L, S, R, D = (
    VisitKind.ACTIVATION, VisitKind.UNLOCK, VisitKind.CHANGE_PIN, VisitKind.CARD_CHECK,
    VisitKind.BLOCK, VisitKind.PIN_LETTER, VisitKind.SIGNATURE_CERTIFICATE,
    VisitKind.RENEW_CERTIFICATES, VisitKind.ADDITIONAL_CERTIFICATE,
)
NORRLAND = {"choice": "Region Norrland (demo)"}
ANNA_DOC = {"evidence": evidence_of(holder("anna"))}
EVA_DOC = {"evidence": evidence_of(holder("eva"))}

# (visit, happy-path prefix length, extra inputs, event, data, view after, effects asked for)
ROWS: list[tuple[VisitKind, int, list[Any], str, dict[str, Any], ViewName, list[str]]] = [
    (A, 0, [], "card_inserted", {"reader": "r"}, ViewName.WORKING, ["identify_card"]),
    (A, 0, ["no_number"], "card_number_typed", {"card_number": holder("anna").card_number},
     ViewName.WORKING, ["fetch_record"]),
    (A, 1, [], "continue", {}, ViewName.DOCUMENT_CHECK, []),
    (A, 2, [], "document_scanned", ANNA_DOC, ViewName.DOCUMENT_CONFIRM, []),
    (A, 2, [], "document_typed", ANNA_DOC, ViewName.DOCUMENT_CONFIRM, []),
    (A, 2, [], "scan_failed", {"error": NothingRead()}, ViewName.DOCUMENT_CHECK, []),
    (A, 2, [], "document_manual", {}, ViewName.DOCUMENT_MANUAL, []),
    (A, 2, [("document_manual", {})], "document_typed", ANNA_DOC, ViewName.DOCUMENT_CONFIRM, []),
    (A, 2, [("document_manual", {})], "document_scan", {}, ViewName.DOCUMENT_CHECK, []),
    (A, 3, [], "document_confirmed", {}, ViewName.WORKING, ["start_activation"]),
    (A, 3, [], "document_scan", {}, ViewName.DOCUMENT_CHECK, []),
    (A, 10, [], "pin_submit", {}, ViewName.PIN_CONFIRM, []),
    (A, 17, [], "pin_submit", {}, ViewName.WRITING_PIN, ["write_pin"]),
    (A, 24, [], "pin_submit", {}, ViewName.WORKING, ["sign_receipt"]),
    (A, 18, [("card_removed", {})], "card_inserted", {}, ViewName.WORKING, ["identify_card"]),
    (U, 0, [], "card_inserted", {}, ViewName.WORKING, ["identify_card"]),
    (U, 0, ["no_number"], "card_number_typed", {"card_number": holder("eva").card_number},
     ViewName.WORKING, ["fetch_record"]),
    (U, 1, [], "continue", {}, ViewName.DOCUMENT_CHECK, []),
    (U, 2, [], "document_scanned", EVA_DOC, ViewName.DOCUMENT_CONFIRM, []),
    (U, 2, [], "document_typed", EVA_DOC, ViewName.DOCUMENT_CONFIRM, []),
    (U, 2, [], "scan_failed", {}, ViewName.DOCUMENT_CHECK, []),
    (U, 2, [], "document_manual", {}, ViewName.DOCUMENT_MANUAL, []),
    (U, 2, [("document_manual", {})], "document_typed", EVA_DOC, ViewName.DOCUMENT_CONFIRM, []),
    (U, 2, [("document_manual", {})], "document_scan", {}, ViewName.DOCUMENT_CHECK, []),
    (U, 3, [], "document_confirmed", {}, ViewName.WORKING, ["start_unlock"]),
    (U, 3, [], "document_scan", {}, ViewName.DOCUMENT_CHECK, []),
    (U, 10, [], "pin_submit", {}, ViewName.PIN_CONFIRM, []),
    (U, 17, [], "pin_submit", {}, ViewName.WRITING_PIN, ["unlock_pin"]),
    (C, 0, [], "card_inserted", {}, ViewName.WORKING, ["identify_card"]),
    (C, 0, ["no_number"], "card_number_typed", {"card_number": holder("eva").card_number},
     ViewName.WORKING, ["fetch_record"]),
    (C, 1, [], "continue", {}, ViewName.PIN_CURRENT, []),
    (C, 8, [], "pin_submit", {}, ViewName.WORKING, ["verify_pin"]),  # checked on the card
    (C, 15, [], "pin_submit", {}, ViewName.PIN_CONFIRM, []),
    (C, 22, [], "pin_submit", {}, ViewName.WRITING_PIN, ["change_pin"]),
    (K, 0, [], "card_inserted", {}, ViewName.WORKING, ["identify_card"]),
    (K, 1, [], "retry", {}, ViewName.CARD_INFO, []),
    (K, 1, [], "home", {}, ViewName.CARD_INFO, []),
    (K, 1, [], "done", {}, ViewName.CARD_INFO, []),
    (B, 0, [], "card_inserted", {}, ViewName.WORKING, ["identify_card"]),
    (B, 0, [], "card_number_typed", {"card_number": holder("eva").card_number},
     ViewName.WORKING, ["fetch_record"]),
    (B, 1, [], "continue", {}, ViewName.BLOCK_REASON, []),
    (B, 2, [], "block_reason", {"reason": "lost"}, ViewName.BLOCK_CONFIRM, []),
    (B, 3, [], "confirm", {}, ViewName.WORKING, ["block_card"]),
    (B, 3, [], "back", {}, ViewName.BLOCK_REASON, []),
    (L, 0, [], "card_inserted", {}, ViewName.WORKING, ["identify_card"]),
    (L, 0, ["no_number"], "card_number_typed", {"card_number": holder("eva").card_number},
     ViewName.WORKING, ["fetch_record"]),
    (L, 1, [], "continue", {}, ViewName.DOCUMENT_CHECK, []),
    (L, 2, [], "document_scanned", EVA_DOC, ViewName.DOCUMENT_CONFIRM, []),
    (L, 2, [], "document_typed", EVA_DOC, ViewName.DOCUMENT_CONFIRM, []),
    (L, 2, [], "scan_failed", {}, ViewName.DOCUMENT_CHECK, []),
    (L, 2, [], "document_manual", {}, ViewName.DOCUMENT_MANUAL, []),
    (L, 2, [("document_manual", {})], "document_typed", EVA_DOC, ViewName.DOCUMENT_CONFIRM, []),
    (L, 2, [("document_manual", {})], "document_scan", {}, ViewName.DOCUMENT_CHECK, []),
    (L, 3, [], "document_confirmed", {}, ViewName.WORKING, ["record_result"]),
    (L, 3, [], "document_scan", {}, ViewName.DOCUMENT_CHECK, []),
    (S, 0, [], "card_inserted", {}, ViewName.WORKING, ["identify_card"]),
    (S, 0, ["no_number"], "card_number_typed", {"card_number": holder("eva").card_number},
     ViewName.WORKING, ["fetch_record"]),
    (S, 1, [], "continue", {}, ViewName.DOCUMENT_CHECK, []),
    (S, 2, [], "document_scanned", EVA_DOC, ViewName.DOCUMENT_CONFIRM, []),
    (S, 2, [], "document_typed", EVA_DOC, ViewName.DOCUMENT_CONFIRM, []),
    (S, 2, [], "scan_failed", {}, ViewName.DOCUMENT_CHECK, []),
    (S, 2, [], "document_manual", {}, ViewName.DOCUMENT_MANUAL, []),
    (S, 2, [("document_manual", {})], "document_typed", EVA_DOC, ViewName.DOCUMENT_CONFIRM, []),
    (S, 2, [("document_manual", {})], "document_scan", {}, ViewName.DOCUMENT_CHECK, []),
    (S, 3, [], "document_confirmed", {}, ViewName.WORKING, ["start_unlock"]),
    (S, 3, [], "document_scan", {}, ViewName.DOCUMENT_CHECK, []),
    (S, 10, [], "pin_submit", {}, ViewName.WORKING, ["test_signature"]),  # logging in
    (S, 17, [], "pin_submit", {}, ViewName.PIN_CONFIRM, []),
    (S, 24, [], "pin_submit", {}, ViewName.WORKING, ["begin_card_work"]),
    (R, 0, [], "card_inserted", {}, ViewName.WORKING, ["identify_card"]),
    (R, 0, ["no_number"], "card_number_typed", {"card_number": holder("eva").card_number},
     ViewName.WORKING, ["fetch_record"]),
    (R, 1, [], "continue", {}, ViewName.PIN_CURRENT, []),
    (R, 8, [], "pin_submit", {}, ViewName.WORKING, ["test_signature"]),
    (R, 15, [], "pin_submit", {}, ViewName.WORKING, ["begin_card_work"]),
    (D, 0, [], "card_inserted", {}, ViewName.WORKING, ["identify_card"]),
    (D, 0, ["no_number"], "card_number_typed", {"card_number": holder("eva").card_number},
     ViewName.WORKING, ["fetch_record"]),
    (D, 1, [], "continue", {}, ViewName.DOCUMENT_CHECK, []),
    (D, 2, [], "document_scanned", EVA_DOC, ViewName.DOCUMENT_CONFIRM, []),
    (D, 2, [], "document_typed", EVA_DOC, ViewName.DOCUMENT_CONFIRM, []),
    (D, 2, [], "scan_failed", {}, ViewName.DOCUMENT_CHECK, []),
    (D, 2, [], "document_manual", {}, ViewName.DOCUMENT_MANUAL, []),
    (D, 2, [("document_manual", {})], "document_typed", EVA_DOC, ViewName.DOCUMENT_CONFIRM, []),
    (D, 2, [("document_manual", {})], "document_scan", {}, ViewName.DOCUMENT_CHECK, []),
    (D, 3, [], "document_confirmed", {}, ViewName.CHOOSE, []),  # the organisation
    (D, 3, [], "document_scan", {}, ViewName.DOCUMENT_CHECK, []),
    (D, 4, [], "chosen", NORRLAND, ViewName.PIN_CURRENT, []),
    (D, 4, ["with_additional"], "chosen", {"choice": "replace"}, ViewName.CHOOSE, []),
    (D, 11, [], "pin_submit", {}, ViewName.WORKING, ["test_signature"]),  # logging in
]

COVERED: dict[VisitKind, set[tuple[Stage, str]]] = {kind: set() for kind in VisitKind}


def drive_to(kind: VisitKind, prefix: int, extra: list[Any]) -> Any:
    d = visit(kind)
    script = happy_script(kind, d.rig)
    if "with_additional" in extra:  # the card carries an additional certificate already
        d.rig.add_additional(holder("eva"), "Region Skåne (demo)")
        extra = [e for e in extra if e != "with_additional"]
    if "no_number" in extra:
        inserted = d.rig.reader.card
        assert inserted is not None
        d.rig.put(inserted.card_number, number_on_chip=False)
        d.inputs(script[:1])
        extra = [e for e in extra if e != "no_number"]
    d.inputs(script[:prefix] + extra)
    return d


@pytest.mark.parametrize(
    ("kind", "prefix", "extra", "event", "data", "view", "effects"),
    ROWS,
    ids=[f"{r[0].value}-{r[1]}-{r[3]}" for r in ROWS],
)
def test_transition(
    kind: VisitKind,
    prefix: int,
    extra: list[Any],
    event: str,
    data: dict[str, Any],
    view: ViewName,
    effects: list[str],
) -> None:
    d = drive_to(kind, prefix, extra)
    stage = d.flow.stage
    step = d.send(event, hold=True, **data)
    COVERED[kind].add((stage, event))
    assert step.view.name is view, step.view
    assert [e.kind for e in step.effects] == effects


@pytest.mark.parametrize("kind", list(VisitKind))
def test_every_transition_of_the_table_has_a_row(kind: VisitKind) -> None:
    flow = VISIT_FLOWS[kind](admin_auth(), SETTINGS, "cover")
    declared = {(stage, event.kind) for stage, event in flow.transitions().routes()}
    rows = set()
    for row in ROWS:
        if row[0] is kind:
            d = drive_to(kind, row[1], row[2])
            rows.add((d.flow.stage, row[3]))
    assert declared <= rows, sorted(declared - rows)


@pytest.mark.parametrize("kind", list(VisitKind))
def test_unexpected_events_change_nothing(kind: VisitKind) -> None:
    d = visit(kind)
    script = happy_script(kind, d.rig)
    for cut in range(len(script)):
        d = visit(kind)
        happy_script(kind, d.rig)
        d.inputs(script[:cut])
        if d.step.finished:
            break
        before = (d.flow.stage, d.view)
        for stray in ("teleport", "confirm" if kind is not B else "document_scanned"):
            routes = d.flow.transitions().routes()
            if (d.flow.stage, stray) in {(stage, e.kind) for stage, e in routes}:
                continue
            data = {"evidence": evidence_of(holder("eva"))} if stray == "document_scanned" else {}
            step = d.send(stray, **data)
            assert step.effects == () and not step.finished
            assert (d.flow.stage, step.view.name) == (before[0], before[1].name)
