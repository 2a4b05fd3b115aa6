"""`kioskctl demo visit` tells the truth about where the document's facts came from."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from composition.cli.demo import activation_script, document_evidence
from kiosk import demo_cast
from kiosk.model import Provenance
from kiosk.visit.events import DocumentScanned, DocumentTyped


def test_facts_copied_from_the_cast_are_typed_not_scanned() -> None:
    evidence = document_evidence(demo_cast.demo_holder("anna", date(2026, 12, 5)))
    assert evidence.how and set(evidence.how.values()) == {Provenance.TYPED}
    events = activation_script("reader", evidence, "123456")
    assert any(isinstance(e, DocumentTyped) for e in events)
    assert not any(isinstance(e, DocumentScanned) for e in events)


def test_a_sample_that_scanned_is_sent_as_scanned() -> None:
    typed = document_evidence(demo_cast.demo_holder("anna", date(2026, 12, 5)))
    scanned = replace(typed, how=dict.fromkeys(typed.how, Provenance.SCANNED))
    events = activation_script("reader", scanned, "123456")
    assert any(isinstance(e, DocumentScanned) for e in events)
