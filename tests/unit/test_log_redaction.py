"""Log redaction: no personnummer, card number, PIN or PUK reaches a log line, in any form."""

from __future__ import annotations

import io
import json
import logging

import pytest

from kiosk.logging_setup import REDACTED, StructuredFormatter, redact_text

SECRETS = [
    "199003152387",  # personnummer, 12 digits
    "19900315-2387",
    "900315-2387",  # 10 digits with separator
    "9003152387",
    "121212+1212",  # 100 years or older
    "19121212+1212",
    "900315 2387",
    "9752210000000001",  # card number
    "9752 2100 0000 0001",
    "9752-2100-0000-0001",
    "975221 0000000001",
    "123456",  # PIN
    "12345678",  # PUK
]


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize(
    "template",
    ["{}", "card {} read", "holder={}", "(pnr {})", "number: {}.", "'{}',", "x\n{}\ny"],
)
def test_a_personnummer_or_card_number_in_a_message_is_masked(template: str, secret: str) -> None:
    masked = redact_text(template.format(secret))
    digits = "".join(ch for ch in secret if ch.isdigit())
    assert digits not in "".join(ch for ch in masked if ch.isdigit())
    assert REDACTED in masked


@pytest.mark.parametrize(
    "kept",
    [
        "SE2321000016-A1B2",  # an HSA-id is not secret
        "2026-12-05T03:43:13",
        "http://127.0.0.1/api/v1",
        "10.255.255.1",
        "version 1.2.3",
        "took 12 ms",
        "192.168.100.200",
    ],
)
def test_ordinary_text_is_left_alone(kept: str) -> None:
    assert redact_text(kept) == kept


@pytest.mark.parametrize("json_lines", [False, True])
def test_extra_fields_are_masked_too(json_lines: bool) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(StructuredFormatter(json_lines=json_lines))
    log = logging.getLogger("test-redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("visit for %s", "19900315-2387",
                    extra={"card": "9752 2100 0000 0001", "holder": "199003152387"})
    finally:
        log.removeHandler(handler)
    line = stream.getvalue()
    for secret in ("2387", "0001", "199003152387", "9752"):
        assert secret not in line, line
    if json_lines:
        assert json.loads(line)["card"] == REDACTED
