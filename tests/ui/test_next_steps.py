"""Wrong next steps fixed (issue 12.7) on the manual document form."""

from __future__ import annotations

from datetime import date

import pytest

from kiosk.errors import InvalidInput, MissingInput
from screens.views.document_manual import typed_evidence

pytestmark = pytest.mark.ui


@pytest.mark.parametrize(("doc_type", "expiry", "field"), [
    ("", "2030-01-01", "doc_type"), ("passport", "", "expiry"), ("passport", "  ", "expiry"),
])
def test_an_empty_field_is_empty_not_unreadable(doc_type: str, expiry: str, field: str) -> None:
    with pytest.raises(MissingInput) as empty:
        typed_evidence(doc_type, "", expiry, "", date.today())
    assert empty.value.code == "missing_input" and empty.value.data["field"] == field


def test_a_date_that_cannot_be_read_is_still_said_so() -> None:
    with pytest.raises(InvalidInput) as bad:
        typed_evidence("passport", "", "31/12/2030", "", date.today())
    assert bad.value.code == "invalid_input"
