"""Documents laid out as real issuers print them, read from camera frames end to end:
a Belgian eID's 12-digit number (ICAO long document number) and a `C1` document code."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hardware.scan.synth import Degradation, place, render_mrz_document
from kiosk.document.consensus import MrzConsensus
from kiosk.identity.mrz import MrzResult, build_mrz
from tests.unit.identity.test_mrz_issuers import belgian_eid

ON = date(2026, 1, 1)
HELD = Degradation(angle=2.0, blur=0.5, noise=2.0, jpeg_quality=85)


def read_until_accepted(reader: Any, lines: tuple[str, ...]) -> MrzResult | None:
    document = render_mrz_document(lines, 16.0, seed=3)
    consensus = MrzConsensus(on=ON)
    for seed in range(8):
        reading = reader.read(place(document, look=HELD, seed=seed))
        if reading is not None:
            result = consensus.offer(reading.lines, reading.uncertain)
            if result is not None:
                return result
    return None


def test_a_belgian_eid_with_a_long_number_is_read(mrz_reader: Any, tessdata: Path) -> None:
    result = read_until_accepted(mrz_reader, belgian_eid())
    assert result is not None
    assert result.document_number == "592123456789" and result.issuing_state == "BEL"


@pytest.mark.parametrize("code", ["C1", "IR"])
def test_a_document_code_with_a_second_character_is_read_as_printed(
    mrz_reader: Any, tessdata: Path, code: str
) -> None:
    lines = build_mrz("TD1", document_number="D23145890", document_code=code,
                      issuing_state="UTO", nationality="UTO", birth_date=date(1974, 8, 12),
                      expiry_date=date(2032, 4, 15), surname="Eriksson", given_names="Anna")
    result = read_until_accepted(mrz_reader, lines)
    assert result is not None and result.document_code == code
