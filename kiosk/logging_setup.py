"""Structured logs: one key=value (or JSON) line per record on stderr, which journald keeps.

Under systemd (JOURNAL_STREAM set) each line starts with a ``<N>`` syslog priority prefix
that journald turns into the entry's PRIORITY; the unit's SyslogIdentifier= names the
source. Fields whose name mentions a PIN, PUK, password, token or secret are replaced by
"[redacted]"; in the message and every other text field, runs of 4 to 8 digits standing
alone (a PIN, a PUK) and numbers of 10 or more digits, whatever separates their groups
(a personnummer YYMMDD-NNNN, YYYYMMDDNNNN or YYMMDD+NNNN, a card number as printed,
9752 2100 0000 0001), are masked, so none can reach the journal even by mistake.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

SECRET_FIELD = re.compile(r"pin|puk|password|passwd|token|secret|credential", re.IGNORECASE)
LONE_DIGITS = re.compile(r"(?<![\w-])\d{4,8}(?![\w-])")
LONG_NUMBER = re.compile(r"(?<!\w)(?<!\d\.)\d(?: ?[-+]? ?\d){9,}(?!\w|\.\d)")
"""10 or more digits, groups separated by a space, '-' or '+' (personnummer, card number)."""
REDACTED = "[redacted]"
STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
SYSLOG_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def redact_text(text: str) -> str:
    """``text`` with personnummer- and card-number-shaped numbers and lone 4-8 digit runs
    (PIN-shaped) masked."""
    return LONE_DIGITS.sub(REDACTED, LONG_NUMBER.sub(REDACTED, text))


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's message and extra fields, secrets redacted."""
    fields: dict[str, Any] = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": redact_text(record.getMessage()),
    }
    for key, value in vars(record).items():
        if key in STANDARD_ATTRS or key.startswith("_"):
            continue
        if SECRET_FIELD.search(key):
            fields[key] = REDACTED
        elif isinstance(value, str):
            fields[key] = redact_text(value)
        else:
            fields[key] = value
    if record.exc_info and record.exc_info[0] is not None:
        fields["exc_type"] = record.exc_info[0].__name__
    return fields


def _kv_value(value: Any) -> str:
    text = str(value)
    if text == "" or re.search(r'[\s"=]', text):
        return json.dumps(text, ensure_ascii=False)
    return text


class StructuredFormatter(logging.Formatter):
    """key=value or JSON lines, with a syslog priority prefix when journald listens."""

    def __init__(self, json_lines: bool = False, priority_prefix: bool = False) -> None:
        super().__init__()
        self.json_lines = json_lines
        self.priority_prefix = priority_prefix

    def format(self, record: logging.LogRecord) -> str:
        """One line for ``record``."""
        fields = record_fields(record)
        if self.json_lines:
            line = json.dumps(fields, ensure_ascii=False, default=str)
        else:
            line = " ".join(f"{k}={_kv_value(v)}" for k, v in fields.items())
        if self.priority_prefix:
            line = f"<{SYSLOG_PRIORITY.get(record.levelno, 6)}>{line}"
        return line


def setup_logging(
    level: int = logging.INFO,
    json_lines: bool | None = None,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every log record to stderr as one structured line; returns the handler."""
    under_journald = bool(os.environ.get("JOURNAL_STREAM"))
    if json_lines is None:
        json_lines = os.environ.get("KIOSK_LOG_FORMAT", "") == "json"
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(StructuredFormatter(json_lines, priority_prefix=under_journald))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_kiosk_structured", False)]:
        root.removeHandler(old)
    handler._kiosk_structured = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return handler
