"""ICAO 9303 machine-readable zones: TD1 (3x30), TD2 (2x36) and TD3 (2x44).

``parse_mrz`` turns MRZ lines into an ``MrzResult``. Unusable input (wrong line count or
length, characters outside A-Z 0-9 <, letters in a date, impossible dates) raises
``InvalidInput`` with ``check`` naming what failed. A check digit that does not match is
not an exception: it is a failed ``MrzCheck`` in the result, and ``result.valid`` is False.

Centuries: a birth date is never after ``on`` (default today); an expiry date is 20YY.

``repair_mrz`` fixes the usual OCR confusions by position (O->0 in a numeric field, 0->O in
an alphabetic one, either way in an alphanumeric one) and accepts a repair only when every
check digit then passes. ``build_mrz`` writes MRZ lines from field values (tests, sample
documents, rendered MRZ images).
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from kiosk.errors import InvalidInput
from kiosk.identity.personnummer import Personnummer, parse_personnummer

MrzFormat = Literal["TD1", "TD2", "TD3"]
FILLER = "<"
WEIGHTS = (7, 3, 1)
MRZ_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")
LAYOUTS: dict[MrzFormat, tuple[int, int]] = {"TD1": (3, 30), "TD2": (2, 36), "TD3": (2, 44)}
DOCUMENT_CODES: dict[MrzFormat, frozenset[str]] = {
    "TD1": frozenset("IAC"),
    "TD2": frozenset("IAC"),
    "TD3": frozenset("P"),
}
SWEDEN = "SWE"
STATE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ<")
# Document-number formats of issuers whose numbers we know, by (issuing state, first letter
# of the document code): a reading that breaks its issuer's format is no reading, because
# letter/digit swaps (0 read as O twice, 6 as G) can leave every check digit passing.
ISSUER_NUMBER_FORMATS: dict[tuple[str, str], str] = {
    (SWEDEN, "P"): "0123456789",  # Swedish passports: digits only
    (SWEDEN, "I"): "0123456789",  # Swedish national ID cards: digits only
}

# OCR confusions: the letter read where a digit belongs, and the reverse.
LETTER_TO_DIGIT: dict[str, str] = {
    "O": "0", "D": "0", "Q": "0", "I": "1", "L": "1", "B": "8", "S": "5", "Z": "2", "G": "6",
}
DIGIT_TO_LETTER: dict[str, str] = {"0": "O", "1": "I", "8": "B", "5": "S", "2": "Z", "6": "G"}
MAX_REPAIR_CANDIDATES = 4096


def check_digit(text: str) -> int:
    """The ICAO 9303 check digit of ``text`` (weights 7, 3, 1; A=10 ... Z=35; < = 0)."""
    total = 0
    for index, char in enumerate(text):
        total += _char_value(char) * WEIGHTS[index % 3]
    return total % 10


def _char_value(char: str) -> int:
    if char == FILLER:
        return 0
    if "0" <= char <= "9":
        return ord(char) - ord("0")
    if "A" <= char <= "Z":
        return ord(char) - ord("A") + 10
    raise ValueError(f"not an MRZ character: {char!r}")


@dataclass(frozen=True)
class MrzCheck:
    """One check digit: which field, the digit it should be, the character read."""

    name: str
    expected: int
    found: str
    ok: bool


@dataclass(frozen=True)
class MrzResult:
    """The fields of a parsed MRZ and the outcome of each of its check digits."""

    format: MrzFormat
    lines: tuple[str, ...]
    document_code: str
    issuing_state: str
    document_number: str
    nationality: str
    birth_date: date
    sex: str  # "M", "F" or "X" (unspecified)
    expiry_date: date
    surname: str
    given_names: str
    optional_data: tuple[str, ...]  # one field for TD2/TD3, two for TD1
    checks: tuple[MrzCheck, ...]
    personnummer: Personnummer | None = None

    @property
    def valid(self) -> bool:
        """Whether every check digit matches."""
        return all(check.ok for check in self.checks)

    @property
    def failed_checks(self) -> tuple[str, ...]:
        """Names of the check digits that do not match."""
        return tuple(check.name for check in self.checks if not check.ok)

    def is_expired(self, on: date) -> bool:
        """Whether the document's expiry date is before ``on``."""
        return self.expiry_date < on

    def document_fields(self, *, mask_personnummer: bool) -> dict[str, str | None]:
        """The document's fields as JSON-ready strings (personnummer masked if asked)."""
        pnr = self.personnummer
        return {
            "document_code": self.document_code,
            "issuing_state": self.issuing_state,
            "document_number": self.document_number,
            "nationality": self.nationality,
            "birth_date": self.birth_date.isoformat(),
            "sex": self.sex,
            "expiry_date": self.expiry_date.isoformat(),
            "surname": self.surname,
            "given_names": self.given_names,
            "personnummer": None if pnr is None else (
                pnr.masked() if mask_personnummer else pnr.normalised
            ),
        }


@dataclass(frozen=True)
class _Span:
    """A field's place in the MRZ: line, start, end (exclusive), and its character class."""

    line: int
    start: int
    end: int
    kind: Literal["numeric", "alpha", "alnum", "sex"]


@dataclass(frozen=True)
class _Layout:
    document_code: _Span
    issuing_state: _Span
    document_number: _Span
    document_number_check: _Span
    nationality: _Span
    birth_date: _Span
    birth_date_check: _Span
    sex: _Span
    expiry_date: _Span
    expiry_date_check: _Span
    name: _Span
    optional: tuple[_Span, ...]
    optional_check: _Span | None
    composite: tuple[_Span, ...]
    composite_check: _Span


def _s(line: int, start: int, end: int, kind: Literal["numeric", "alpha", "alnum", "sex"]) -> _Span:
    return _Span(line, start, end, kind)


_TD1 = _Layout(
    document_code=_s(0, 0, 2, "alpha"),
    issuing_state=_s(0, 2, 5, "alpha"),
    document_number=_s(0, 5, 14, "alnum"),
    document_number_check=_s(0, 14, 15, "numeric"),
    nationality=_s(1, 15, 18, "alpha"),
    birth_date=_s(1, 0, 6, "numeric"),
    birth_date_check=_s(1, 6, 7, "numeric"),
    sex=_s(1, 7, 8, "sex"),
    expiry_date=_s(1, 8, 14, "numeric"),
    expiry_date_check=_s(1, 14, 15, "numeric"),
    name=_s(2, 0, 30, "alpha"),
    optional=(_s(0, 15, 30, "alnum"), _s(1, 18, 29, "alnum")),
    optional_check=None,
    composite=(_s(0, 5, 30, "alnum"), _s(1, 0, 7, "alnum"), _s(1, 8, 15, "alnum"),
               _s(1, 18, 29, "alnum")),
    composite_check=_s(1, 29, 30, "numeric"),
)


def _two_line(width: int) -> _Layout:
    optional_end = width - 2 if width == 44 else width - 1
    return _Layout(
        document_code=_s(0, 0, 2, "alpha"),
        issuing_state=_s(0, 2, 5, "alpha"),
        document_number=_s(1, 0, 9, "alnum"),
        document_number_check=_s(1, 9, 10, "numeric"),
        nationality=_s(1, 10, 13, "alpha"),
        birth_date=_s(1, 13, 19, "numeric"),
        birth_date_check=_s(1, 19, 20, "numeric"),
        sex=_s(1, 20, 21, "sex"),
        expiry_date=_s(1, 21, 27, "numeric"),
        expiry_date_check=_s(1, 27, 28, "numeric"),
        name=_s(0, 5, width, "alpha"),
        optional=(_s(1, 28, optional_end, "alnum"),),
        optional_check=_s(1, width - 2, width - 1, "numeric") if width == 44 else None,
        composite=(_s(1, 0, 10, "alnum"), _s(1, 13, 20, "alnum"),
                   _s(1, 21, width - 1, "alnum")),
        composite_check=_s(1, width - 1, width, "numeric"),
    )


LAYOUT_OF: dict[MrzFormat, _Layout] = {"TD1": _TD1, "TD2": _two_line(36), "TD3": _two_line(44)}


def _invalid(check: str, detail: str, **data: object) -> InvalidInput:
    return InvalidInput(detail, field="mrz", check=check, **data)


def normalise_lines(lines: Sequence[str] | str) -> tuple[str, ...]:
    """MRZ lines upper-cased, with surrounding whitespace and blank lines removed."""
    raw = lines.splitlines() if isinstance(lines, str) else list(lines)
    cleaned = tuple("".join(line.split()).upper() for line in raw)
    cleaned = tuple(line for line in cleaned if line)
    if len(cleaned) == 1:
        # One run of text: split it if its length is exactly that of a known layout.
        for count, width in LAYOUTS.values():
            if len(cleaned[0]) == count * width:
                text = cleaned[0]
                return tuple(text[i : i + width] for i in range(0, len(text), width))
    return cleaned


def detect_format(lines: Sequence[str]) -> MrzFormat:
    """TD1, TD2 or TD3 from the line count and lengths; InvalidInput otherwise."""
    if len(lines) not in (2, 3):
        raise _invalid("lines", "an MRZ has two or three lines", lines=len(lines))
    lengths = tuple(len(line) for line in lines)
    for name, (count, width) in LAYOUTS.items():
        if len(lines) == count and all(length == width for length in lengths):
            return name
    raise _invalid(
        "line_length", "the MRZ lines do not have the length of TD1, TD2 or TD3",
        lengths=lengths,
    )


def _text(lines: Sequence[str], span: _Span) -> str:
    return lines[span.line][span.start : span.end]


def _field(lines: Sequence[str], span: _Span) -> str:
    return _text(lines, span).rstrip(FILLER).replace(FILLER, " ").strip()


def _date(
    lines: Sequence[str], span: _Span, name: str, on: date, *, expiry: bool
) -> date:
    digits = _text(lines, span)
    if not digits.isdigit():
        raise _invalid("characters", f"the {name} must be six digits", mrz_field=name)
    yy, mm, dd = int(digits[:2]), int(digits[2:4]), int(digits[4:])
    if expiry:
        year = 2000 + yy
    else:
        year = on.year - (on.year - yy) % 100
        if (year, mm, dd) > (on.year, on.month, on.day):
            year -= 100
    try:
        return date(year, mm, dd)
    except ValueError:
        raise _invalid("date", f"the {name} is not a real date", mrz_field=name) from None


def _check(lines: Sequence[str], name: str, data: Sequence[_Span], digit: _Span) -> MrzCheck:
    expected = check_digit("".join(_text(lines, span) for span in data))
    found = _text(lines, digit)
    ok = found.isdigit() and int(found) == expected
    if found == FILLER and name == "optional_data":
        # ICAO: an unused personal number may carry a filler as its check digit.
        ok = expected == 0 and set("".join(_text(lines, s) for s in data)) <= {FILLER}
    return MrzCheck(name, expected, found, ok)


def _names(field_text: str) -> tuple[str, str]:
    stripped = field_text.rstrip(FILLER)
    surname, _, given = stripped.partition(FILLER * 2)
    return surname.replace(FILLER, " ").strip(), given.replace(FILLER, " ").strip()


def _sex(lines: Sequence[str], span: _Span) -> str:
    char = _text(lines, span)
    if char in ("M", "F", "X"):
        return char
    if char == FILLER:
        return "X"
    raise _invalid("characters", "the sex field must be M, F, X or <", mrz_field="sex")


def _swedish_personnummer(
    optional_data: Sequence[str], birth_date: date, on: date
) -> Personnummer | None:
    """The personnummer a Swedish document carries in its optional data, if valid."""
    for text in optional_data:
        for token in text.split():
            candidates = [token] if len(token) in (10, 12) and token.isdigit() else []
            if len(token) == 10 and token.isdigit():
                # Take the century from the MRZ birth date when the dates agree.
                day = int(token[4:6])
                same_day = day in (birth_date.day, birth_date.day + 60)
                if token[:4] == f"{birth_date:%y%m}" and same_day:
                    candidates.insert(0, f"{birth_date.year // 100:02d}{token}")
            for candidate in candidates:
                try:
                    return parse_personnummer(candidate, on)
                except InvalidInput:
                    continue
    return None


def _long_document_number(text: Sequence[str], layout: _Layout) -> tuple[str, str] | None:
    """(continuation, check digit) when a TD1/TD2 document number runs into optional data.

    ICAO 9303 parts 5 and 6: a number longer than nine characters keeps nine in its field,
    puts '<' where the check digit would be, and continues at the start of the (first)
    optional data element, followed by its check digit and a filler.
    """
    if layout.optional_check is not None or _text(text, layout.document_number_check) != FILLER:
        return None
    if FILLER in _text(text, layout.document_number):
        return None
    continuation = _text(text, layout.optional[0]).split(FILLER, 1)[0]
    if len(continuation) < 2:
        return None
    return continuation[:-1], continuation[-1]


def _issuer_number_chars(text: Sequence[str], layout: _Layout) -> str | None:
    """The characters the issuer's document numbers may hold, if the issuer is known."""
    key = (_field(text, layout.issuing_state), _text(text, layout.document_code)[0])
    return ISSUER_NUMBER_FORMATS.get(key)


def _check_issuer_format(
    text: Sequence[str], layout: _Layout, long_number: tuple[str, str] | None
) -> None:
    allowed = _issuer_number_chars(text, layout)
    if allowed is None:
        return
    number = _field(text, layout.document_number) + (long_number[0] if long_number else "")
    if not number or not set(number) <= set(allowed):
        raise _invalid("document_number_format",
                       "the document number does not have its issuer's format",
                       mrz_field="document_number")


def _document_number_check(
    text: Sequence[str], layout: _Layout, long_number: tuple[str, str] | None
) -> MrzCheck:
    if long_number is None:
        return _check(text, "document_number", [layout.document_number],
                      layout.document_number_check)
    number = _text(text, layout.document_number) + long_number[0]
    expected = check_digit(number)
    found = long_number[1]
    return MrzCheck("document_number", expected, found, found == str(expected))


def parse_mrz(lines: Sequence[str] | str, on: date | None = None) -> MrzResult:
    """Parse MRZ lines; bad input raises InvalidInput, bad check digits fail in ``checks``."""
    on = on or date.today()
    text = normalise_lines(lines)
    mrz_format = detect_format(text)
    bad = sorted({c for line in text for c in line if c not in MRZ_ALPHABET})
    if bad:
        raise _invalid("characters", "the MRZ may hold only A-Z, 0-9 and <", count=len(bad))
    layout = LAYOUT_OF[mrz_format]
    code = _text(text, layout.document_code)
    if code[0] not in DOCUMENT_CODES[mrz_format]:
        raise _invalid(
            "document_code", f"a {mrz_format} MRZ cannot start with this code",
            format=mrz_format,
        )
    for name in ("issuing_state", "nationality"):
        if not set(_text(text, getattr(layout, name))) <= STATE_CHARS:
            raise _invalid("state_code", f"the {name} must be letters (a state code)",
                           mrz_field=name)
    birth_date = _date(text, layout.birth_date, "birth_date", on, expiry=False)
    expiry_date = _date(text, layout.expiry_date, "expiry_date", on, expiry=True)
    sex = _sex(text, layout.sex)
    long_number = _long_document_number(text, layout)
    _check_issuer_format(text, layout, long_number)
    checks = [
        _document_number_check(text, layout, long_number),
        _check(text, "birth_date", [layout.birth_date], layout.birth_date_check),
        _check(text, "expiry_date", [layout.expiry_date], layout.expiry_date_check),
    ]
    if layout.optional_check is not None:
        checks.append(_check(text, "optional_data", layout.optional, layout.optional_check))
    checks.append(_check(text, "composite", layout.composite, layout.composite_check))
    surname, given_names = _names(_text(text, layout.name))
    optional_data = tuple(_field(text, span) for span in layout.optional)
    document_number = _field(text, layout.document_number)
    if long_number is not None:
        document_number += long_number[0]
        first = _text(text, layout.optional[0])[len(long_number[0]) + 1 :]
        optional_data = (
            first.rstrip(FILLER).replace(FILLER, " ").strip(), *optional_data[1:]
        )
    issuing_state = _field(text, layout.issuing_state)
    personnummer = (
        _swedish_personnummer(optional_data, birth_date, on) if issuing_state == SWEDEN else None
    )
    return MrzResult(
        format=mrz_format,
        lines=text,
        document_code=code.rstrip(FILLER),
        issuing_state=issuing_state,
        document_number=document_number,
        nationality=_field(text, layout.nationality),
        birth_date=birth_date,
        sex=sex,
        expiry_date=expiry_date,
        surname=surname,
        given_names=given_names,
        optional_data=optional_data,
        checks=tuple(checks),
        personnummer=personnummer,
    )


# --- repair -------------------------------------------------------------------------


@dataclass(frozen=True)
class MrzChange:
    """One character a repair replaced: line and column (0-based), what was read, now."""

    line: int
    column: int
    read: str
    replaced_by: str


@dataclass(frozen=True)
class MrzRepair:
    """A repaired MRZ whose check digits all pass, and the changes that made it so."""

    lines: tuple[str, ...]
    changes: tuple[MrzChange, ...]
    result: MrzResult


def position_kinds(mrz_format: MrzFormat) -> list[list[str]]:
    """For every position of the layout: "numeric", "alpha", "alnum" or "sex"."""
    count, width = LAYOUTS[mrz_format]
    kinds = [["alnum"] * width for _ in range(count)]
    layout = LAYOUT_OF[mrz_format]
    spans: list[_Span] = [
        layout.document_code, layout.issuing_state, layout.document_number,
        layout.document_number_check, layout.nationality, layout.birth_date,
        layout.birth_date_check, layout.sex, layout.expiry_date, layout.expiry_date_check,
        layout.name, *layout.optional, layout.composite_check,
    ]
    if layout.optional_check is not None:
        spans.append(layout.optional_check)
    for span in spans:
        for column in range(span.start, span.end):
            kinds[span.line][column] = span.kind
    # ICAO 9303: the document code's second character is the issuer's choice: a letter
    # (ID, IR, AC), a digit (C1) or a filler.
    code = layout.document_code
    kinds[code.line][code.start + 1] = "alnum"
    return kinds


def _options(char: str, kind: str) -> list[str]:
    """What ``char`` may really be at a position of this kind, most likely first."""
    if char == FILLER or kind == "as_read":
        return [char]
    if kind == "numeric":
        return [LETTER_TO_DIGIT.get(char, char)]
    if kind in ("alpha", "sex"):
        return [DIGIT_TO_LETTER.get(char, char)]
    alternatives = [char]
    if char in LETTER_TO_DIGIT:
        alternatives.append(LETTER_TO_DIGIT[char])
    if char in DIGIT_TO_LETTER:
        alternatives.append(DIGIT_TO_LETTER[char])
    return alternatives


def _repair_kinds(text: Sequence[str], mrz_format: MrzFormat) -> list[list[str]]:
    """Position kinds for repair: the layout's, plus the Swedish personal number as numeric.

    Swedish documents carry the personnummer (10 or 12 digits) in the optional data; a
    letter there is an OCR confusion that no check digit may catch (6 and G weigh the same).
    An issuer whose document numbers are digits (ISSUER_NUMBER_FORMATS) makes the document
    number numeric too. The document code's second character is kept as read.
    """
    kinds = position_kinds(mrz_format)
    layout = LAYOUT_OF[mrz_format]
    code = layout.document_code
    kinds[code.line][code.start + 1] = "as_read"  # no check digit tells C1 from CI: keep it
    state = "".join(
        _options(char, "alpha")[0] for char in _text(text, layout.issuing_state)
    )
    first_letter = _options(_text(text, code)[0], "alpha")[0]
    allowed = ISSUER_NUMBER_FORMATS.get((state, first_letter))
    if allowed is not None and set(allowed) <= set("0123456789"):
        number = layout.document_number
        for column in range(number.start, number.end):
            kinds[number.line][column] = "numeric"
    if state != SWEDEN:
        return kinds
    for span in layout.optional:
        token = _text(text, span).rstrip(FILLER)
        digits = "".join(LETTER_TO_DIGIT.get(char, char) for char in token)
        if len(token) in (10, 12) and digits.isdigit():
            for column in range(span.start, span.start + len(token)):
                kinds[span.line][column] = "numeric"
    return kinds


def reading_kinds(lines: Sequence[str] | str) -> list[list[str]]:
    """The position kinds the repair applies to these lines (issuer formats and the
    Swedish personal number included), for a reader to classify each cell within."""
    text = normalise_lines(lines)
    return _repair_kinds(text, detect_format(text))


def _readings(lines: Sequence[str] | str) -> Iterator[tuple[tuple[str, ...], int]]:
    """(reading, number of alphanumeric positions flipped), fewest flips first."""
    text = normalise_lines(lines)
    mrz_format = detect_format(text)
    kinds = _repair_kinds(text, mrz_format)
    fixed = [
        [_options(char, kinds[row][col]) for col, char in enumerate(line)]
        for row, line in enumerate(text)
    ]
    base = ["".join(options[0] for options in row) for row in fixed]
    branches = [
        (row, col, options[1:])
        for row, line in enumerate(fixed)
        for col, options in enumerate(line)
        if len(options) > 1
    ]
    produced = 0
    for size in range(len(branches) + 1):
        for chosen in itertools.combinations(branches, size):
            for picks in itertools.product(*(options for _, _, options in chosen)):
                candidate = [list(line) for line in base]
                for (row, col, _), pick in zip(chosen, picks, strict=True):
                    candidate[row][col] = pick
                yield tuple("".join(line) for line in candidate), size
                produced += 1
                if produced >= MAX_REPAIR_CANDIDATES:
                    return


def repair_candidates(lines: Sequence[str] | str) -> Iterator[tuple[str, ...]]:
    """Readings of the MRZ with OCR confusions undone by position, fewest changes first.

    Numeric and alphabetic positions are fixed one way; alphanumeric positions (document
    number, optional data) branch. At most MAX_REPAIR_CANDIDATES readings are produced.
    """
    for reading, _ in _readings(lines):
        yield reading


def repair_mrz(lines: Sequence[str] | str, on: date | None = None) -> MrzRepair | None:
    """A reading whose check digits all pass, or None when there is none or it is not unique.

    Fixes at numeric and alphabetic positions are unambiguous and taken when the checks then
    pass. Letters and digits in alphanumeric fields (document number, optional data) may
    each be either, so a reading that flips some of them is taken only when no other
    passing reading flips as many or one more: a mod-10 check digit passes one wrong
    reading in ten, and a repair must not guess.
    Raises InvalidInput when the lines cannot be an MRZ at all (count or length wrong).
    """
    text = normalise_lines(lines)
    detect_format(text)
    best: tuple[tuple[str, ...], int, MrzResult] | None = None
    tried = 0
    for candidate, flips in _readings(text):
        tried += 1
        if best is not None and flips > best[1] + (1 if best[1] else 0):
            break
        try:
            result = parse_mrz(candidate, on)
        except InvalidInput:
            continue
        if not result.valid:
            continue
        if best is not None:
            return None  # another reading passes with about as few flips: do not guess
        best = (candidate, flips, result)
        if flips == 0:
            break
    else:
        if tried >= MAX_REPAIR_CANDIDATES and best is not None:
            return None  # the search stopped before rivals one flip away were all tried
    if best is None:
        return None
    candidate, _, result = best
    changes = tuple(
        MrzChange(row, col, text[row][col], candidate[row][col])
        for row in range(len(text))
        for col in range(len(text[row]))
        if text[row][col] != candidate[row][col]
    )
    return MrzRepair(candidate, changes, result)


# --- building -----------------------------------------------------------------------

_TRANSLITERATION = {"Å": "AA", "Ä": "AE", "Ö": "OE", "Ü": "UE", "Æ": "AE", "Ø": "OE",
                    "ß": "SS", "Þ": "TH"}


def mrz_name_text(name: str) -> str:
    """A name in MRZ characters: upper case, ICAO transliteration, '<' between words."""
    out: list[str] = []
    for char in name.upper():
        if char in _TRANSLITERATION:
            out.append(_TRANSLITERATION[char])
        elif "A" <= char <= "Z":
            out.append(char)
        elif char in " -'.,":
            out.append(FILLER if char in " -" else "")
        else:
            base = unicodedata.normalize("NFKD", char)[0]
            out.append(base if "A" <= base <= "Z" else FILLER)
    return "".join(out).strip(FILLER)


def _pad(text: str, width: int) -> str:
    if len(text) > width:
        raise ValueError(f"{text!r} is longer than its {width}-character field")
    return text + FILLER * (width - len(text))


def _mrz_chars(value: str) -> str:
    cleaned = value.upper().replace(" ", FILLER)
    if not set(cleaned) <= MRZ_ALPHABET:
        raise ValueError(f"{value!r} has characters an MRZ cannot hold")
    return cleaned


def _field_text(value: str, width: int) -> str:
    return _pad(_mrz_chars(value), width)


def build_mrz(
    mrz_format: MrzFormat,
    *,
    document_number: str,
    birth_date: date,
    expiry_date: date,
    surname: str,
    given_names: str = "",
    sex: str = "X",
    issuing_state: str = SWEDEN,
    nationality: str = SWEDEN,
    document_code: str = "",
    optional_data: Sequence[str] = (),
) -> tuple[str, ...]:
    """The MRZ lines, check digits included, for the given field values.

    ``document_code`` defaults to "P" for TD3 and "I" otherwise; ``sex`` other than M/F is
    written as '<'; names are transliterated (Å->AA, Ä->AE, Ö->OE) and cut to fit.
    """
    layout = LAYOUT_OF[mrz_format]
    count, width = LAYOUTS[mrz_format]
    rows = [[FILLER] * width for _ in range(count)]

    def put(span: _Span, text: str) -> None:
        rows[span.line][span.start : span.end] = list(_pad(text, span.end - span.start))

    code = document_code or ("P" if mrz_format == "TD3" else "I")
    put(layout.document_code, _field_text(code, 2))
    put(layout.issuing_state, _field_text(issuing_state, 3))
    long_number = len(document_number) > 9
    if long_number and layout.optional_check is not None:
        raise ValueError("a TD3 document number has at most 9 characters")
    put(layout.document_number, _field_text(document_number[:9], 9))
    put(layout.nationality, _field_text(nationality, 3))
    put(layout.birth_date, f"{birth_date:%y%m%d}")
    put(layout.expiry_date, f"{expiry_date:%y%m%d}")
    put(layout.sex, {"M": "M", "F": "F"}.get(sex, FILLER))
    name_width = layout.name.end - layout.name.start
    surname, given = mrz_name_text(surname), mrz_name_text(given_names)
    name = f"{surname}{FILLER * 2}{given}" if given else surname
    put(layout.name, name[:name_width])
    if len(optional_data) > len(layout.optional):
        raise ValueError(f"{mrz_format} has {len(layout.optional)} optional data field(s)")
    optional = list(optional_data)
    if long_number:
        number = _mrz_chars(document_number)
        continuation = f"{number[9:]}{check_digit(number)}{FILLER}"
        first = _mrz_chars(optional[0]).rstrip(FILLER) if optional else ""
        optional[:1] = [continuation + first]
    for span, value in zip(layout.optional, optional, strict=False):
        put(span, _field_text(value, span.end - span.start))
    lines = ["".join(row) for row in rows]
    digit_spans: list[tuple[list[_Span], _Span]] = [] if long_number else [
        ([layout.document_number], layout.document_number_check),
    ]
    digit_spans += [
        ([layout.birth_date], layout.birth_date_check),
        ([layout.expiry_date], layout.expiry_date_check),
    ]
    if layout.optional_check is not None:
        digit_spans.append((list(layout.optional), layout.optional_check))
    for data, digit in digit_spans:
        put(digit, str(check_digit("".join(_text(lines, span) for span in data))))
        lines = ["".join(row) for row in rows]
    put(layout.composite_check,
        str(check_digit("".join(_text(lines, span) for span in layout.composite))))
    return tuple("".join(row) for row in rows)
