"""Evidence from an accepted MRZ, a driving-licence QR, or typed entry (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from kiosk.document.evidence import (
    document_type_of,
    evidence_from_mrz,
    typed_evidence,
    with_typed_personnummer,
)
from kiosk.document.licence import (
    LicenceFields,
    evidence_from_licence,
    is_licence_payload,
    licence_payload,
    parse_licence,
)
from kiosk.errors import InvalidInput
from kiosk.identity.mrz import build_mrz, parse_mrz
from kiosk.model import DocumentType, Provenance

ON = date(2026, 1, 1)


def passport(issuing_state: str = "SWE", optional: str = "9003152387") -> tuple[str, ...]:
    return build_mrz(
        "TD3", document_number="81234567", birth_date=date(1990, 3, 15),
        expiry_date=date(2031, 5, 2), surname="Andersson", given_names="Anna Maria", sex="F",
        issuing_state=issuing_state, nationality=issuing_state, optional_data=(optional,),
    )


def id_card() -> tuple[str, ...]:
    return build_mrz(
        "TD1", document_number="87654321", birth_date=date(1985, 7, 22),
        expiry_date=date(2030, 1, 31), surname="Berg", given_names="Bertil", sex="M",
        optional_data=("8507224510", ""),
    )


def test_swedish_passport_mrz_becomes_scanned_passport_evidence() -> None:
    evidence = evidence_from_mrz(parse_mrz(passport(), ON))
    assert evidence.doc_type is DocumentType.PASSPORT
    assert evidence.swedish is True
    assert evidence.expiry == date(2031, 5, 2)
    assert evidence.birth_date == date(1990, 3, 15)
    assert evidence.personnummer == "199003152387"
    assert evidence.document_number == "81234567"
    assert set(evidence.how) == {"doc_type", "expiry", "birth_date", "personnummer",
                                 "document_number"}
    assert set(evidence.how.values()) == {Provenance.SCANNED}
    assert not evidence.photo_confirmed and not evidence.age_confirmed


def test_swedish_id_card_mrz_becomes_national_id_with_personnummer() -> None:
    evidence = evidence_from_mrz(parse_mrz(id_card(), ON))
    assert evidence.doc_type is DocumentType.NATIONAL_ID
    assert evidence.personnummer == "198507224510"
    assert evidence.birth_date == date(1985, 7, 22)


def test_foreign_passport_is_not_swedish_and_has_no_personnummer_fact() -> None:
    evidence = evidence_from_mrz(parse_mrz(passport("NOR", ""), ON))
    assert evidence.doc_type is DocumentType.PASSPORT
    assert evidence.swedish is False
    assert evidence.personnummer is None
    assert "personnummer" not in evidence.how


@pytest.mark.parametrize(
    ("code", "state", "expected"),
    [("P", "SWE", DocumentType.PASSPORT), ("PN", "NOR", DocumentType.PASSPORT),
     ("I", "SWE", DocumentType.NATIONAL_ID), ("ID", "SWE", DocumentType.NATIONAL_ID),
     ("I", "FIN", DocumentType.OTHER), ("V", "SWE", DocumentType.OTHER)],
)
def test_document_type_follows_code_and_issuing_state(
    code: str, state: str, expected: DocumentType
) -> None:
    assert document_type_of(code, state) is expected


def test_mrz_with_failed_check_digit_is_no_evidence() -> None:
    lines = list(passport())
    lines[1] = lines[1][:9] + str((int(lines[1][9]) + 1) % 10) + lines[1][10:]
    result = parse_mrz(lines, ON)
    assert not result.valid
    with pytest.raises(InvalidInput) as caught:
        evidence_from_mrz(result)
    assert caught.value.data["check"] == "check_digits"


def test_typed_evidence_records_every_fact_as_typed() -> None:
    evidence = typed_evidence(DocumentType.DRIVING_LICENCE, date(2030, 6, 1),
                              "19460101-2349", "EE5566778", on=ON)
    assert evidence.personnummer == "194601012349"
    assert evidence.birth_date == date(1946, 1, 1)
    assert set(evidence.how.values()) == {Provenance.TYPED}
    assert set(evidence.how) == {"doc_type", "expiry", "birth_date", "personnummer",
                                 "document_number"}


def test_typed_evidence_refuses_a_bad_personnummer() -> None:
    with pytest.raises(InvalidInput):
        typed_evidence(DocumentType.PASSPORT, date(2030, 6, 1), "19460101-2340", on=ON)


def test_scanned_foreign_passport_completed_with_typed_personnummer() -> None:
    scanned = evidence_from_mrz(parse_mrz(passport("NOR", ""), ON))
    completed = with_typed_personnummer(scanned, "199003152387", ON)
    assert completed.personnummer == "199003152387"
    assert completed.how["personnummer"] is Provenance.TYPED
    assert completed.how["expiry"] is Provenance.SCANNED
    other = replace(scanned, birth_date=date(1991, 1, 1))
    with pytest.raises(InvalidInput):
        with_typed_personnummer(other, "199003152387", ON)


def test_a_coordination_number_with_an_unknown_month_fits_the_documents_birth_date() -> None:
    from kiosk.identity.luhn import luhn_check_digit

    scanned = evidence_from_mrz(parse_mrz(passport("NOR", ""), ON))  # born 1990-03-15
    nine = "900075123"  # month 00 (not known), day 15 + 60
    number = f"19{nine}{luhn_check_digit(nine)}"
    completed = with_typed_personnummer(scanned, number, ON)
    assert completed.personnummer == number
    with pytest.raises(InvalidInput):
        with_typed_personnummer(scanned, "19900076" + number[8:11] + str(
            luhn_check_digit("900076123")), ON)  # day 16: another day


def test_the_name_read_comes_with_the_evidence() -> None:
    assert evidence_from_mrz(parse_mrz(passport(), ON)).name == "ANDERSSON, ANNA MARIA"


def test_licence_payload_round_trips_and_becomes_scanned_evidence() -> None:
    fields = LicenceFields("194601012349", "EE5566778", date(2036, 12, 31), "EK", "EVA")
    text = licence_payload(fields)
    assert is_licence_payload(text)
    assert parse_licence(text, ON) == fields
    evidence = evidence_from_licence(text, ON)
    assert evidence.doc_type is DocumentType.DRIVING_LICENCE
    assert evidence.personnummer == "194601012349"
    assert evidence.birth_date == date(1946, 1, 1)
    assert evidence.expiry == date(2036, 12, 31)
    assert set(evidence.how.values()) == {Provenance.SCANNED}


@pytest.mark.parametrize(
    ("text", "check"),
    [("HELLO", "tag"), ("SE-DL1;PNR=194601012349;DOC=X", "fields"),
     ("SE-DL1;PNR=194601012349;DOC=X;EXP=20361340", "date"),
     # strptime alone read "203611" as 2036-01-01, and "2036111" as a day it chose
     ("SE-DL1;PNR=194601012349;DOC=X;EXP=203611", "date"),
     ("SE-DL1;PNR=194601012349;DOC=X;EXP=2036111", "date"),
     ("SE-DL1;PNR=194601012349;DOC=X;EXP=00000000", "date"),
     ("SE-DL1;PNR=194601012349;DOC=X;EXP=99999999", "date"),
     ("SE-DL1;PNR=194601012349;DOC=\x1b[2J\u202e;EXP=20361231", "document_number"),
     ("SE-DL1;PNR=194601012349;DOC=" + "9" * 2000 + ";EXP=20361231", "document_number"),
     ("SE-DL1;PNR=194601012349;DOC=X;EXP=20361231;NAME=\u202eKE,AVE", "name"),
     ("SE-DL1;PNR=194601012349;DOC=X;EXP=20361231;NAME=EK<BEL>,EVA", "name"),
     ("SE-DL1;PNR=194601012349;DOC=X;EXP=20361231;NAME=EK,EVA\u200f", "name"),
     ("SE-DL1;PNR=194601012349;DOC=X;EXP=20361231;NAME=" + "A" * 5000 + "," + "B" * 5000,
      "name")],
)
def test_bad_licence_payloads_are_refused_with_the_reason(text: str, check: str) -> None:
    assert not is_licence_payload("HELLO")
    with pytest.raises(InvalidInput) as caught:
        parse_licence(text, ON)
    assert caught.value.data["check"] == check


def test_a_licence_name_with_letters_of_any_alphabet_is_read() -> None:
    fields = parse_licence(
        "SE-DL1;PNR=194601012349;DOC=EE5566778;EXP=20361231;NAME=Öberg-D'Ängé,Åsa Zoë", ON)
    assert (fields.surname, fields.given_names) == ("Öberg-D'Ängé", "Åsa Zoë")


def test_licence_with_bad_personnummer_is_refused() -> None:
    with pytest.raises(InvalidInput):
        parse_licence("SE-DL1;PNR=194601012340;DOC=X;EXP=20361231", ON)
