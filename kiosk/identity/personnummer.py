"""Swedish personal identity numbers (personnummer) and coordination numbers.

Forms accepted: ``YYMMDD-NNNC``, ``YYMMDD+NNNC``, ``YYMMDDNNNC``, ``YYYYMMDD-NNNC`` and
``YYYYMMDDNNNC`` (blanks around the number are ignored; a blank inside it is refused, the
separator is ``-`` or ``+``). ``C`` is the Luhn check digit over the ten digits
``YYMMDDNNN``; the birth number ``NNN`` is never ``000``.

A coordination number (samordningsnummer) adds 60 to the day. Skatteverket issues them
also when the birth date is not fully known: the month is then ``00``, and an unknown day
is written ``60`` (00 + 60). ``birth_date`` is then the latest date the holder can have
been born on (so an age computed from it is never too high) and ``month_known`` /
``day_known`` say which parts are real.

Century inference follows Folkbokföringslagen 18 §: from the calendar year a person turns
100 the separator is ``+``. So for a ten-digit number read on date ``on``, ``-`` (or no
separator) means born in one of the 100 years up to and including ``on.year``, and ``+``
means the century before that. A birth date after ``on`` is refused (check ``date``).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from kiosk.errors import InvalidInput
from kiosk.identity.luhn import luhn_check_digit

COORDINATION_DAY_OFFSET = 60
_ALLOWED = re.compile(r"[0-9+\-]*")
# Hyphen look-alikes that word processors and web forms put in pasted numbers.
DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-",
                        "\u2014": "-", "\u2212": "-"})


@dataclass(frozen=True)
class Personnummer:
    """A checked personnummer or samordningsnummer; ``normalised`` is YYYYMMDDNNNC."""

    normalised: str
    birth_date: date
    is_coordination: bool
    month_known: bool = True
    day_known: bool = True

    def may_be_born_on(self, day: date) -> bool:
        """Whether ``day`` fits the birth date as far as the number knows it."""
        born = self.birth_date
        return (day.year == born.year
                and (not self.month_known or day.month == born.month)
                and (not self.day_known or day.day == born.day))

    @property
    def sex(self) -> str:
        """Legal sex from the third digit of the birth number: odd "M", even "F"."""
        return "M" if int(self.normalised[10]) % 2 else "F"

    @property
    def birth_number(self) -> str:
        """The three digits NNN after the date."""
        return self.normalised[8:11]

    @property
    def check_digit(self) -> int:
        """The Luhn check digit C."""
        return int(self.normalised[11])

    def age_on(self, day: date) -> int:
        """Completed years on ``day`` (a 29 February birthday counts from 1 March)."""
        born = self.birth_date
        before_birthday = (day.month, day.day) < (born.month, born.day)
        return day.year - born.year - int(before_birthday)

    def masked(self) -> str:
        """The date part with the last four digits hidden, e.g. 19900315-****, for logs/UI."""
        return f"{self.normalised[:8]}-****"

    def format10(self, on: date | None = None) -> str:
        """YYMMDD-NNNC, with ``+`` from the calendar year the holder turns 100."""
        on = on or date.today()
        separator = "+" if on.year - self.birth_date.year >= 100 else "-"
        return f"{self.normalised[2:8]}{separator}{self.normalised[8:]}"

    def format12(self) -> str:
        """YYYYMMDD-NNNC."""
        return f"{self.normalised[:8]}-{self.normalised[8:]}"

    def __str__(self) -> str:
        # Masked so that a number slipping into a log line or message stays minimised.
        return self.masked()

    def __repr__(self) -> str:
        return f"Personnummer({self.masked()})"


def _invalid(check: str, detail: str, **data: object) -> InvalidInput:
    return InvalidInput(detail, field="personnummer", check=check, **data)


def _split(text: str) -> tuple[str, str]:
    """(digits, separator) from the raw text; separator is "" when there is none."""
    compact = text.strip().translate(DASHES)
    if not compact:
        raise _invalid("length", "personnummer is empty", length=0)
    if not _ALLOWED.fullmatch(compact):
        raise _invalid("characters", "personnummer may hold only digits, '-' and '+'")
    separators = [c for c in compact if c in "+-"]
    digits = compact.replace("-", "").replace("+", "")
    if len(digits) not in (10, 12):
        raise _invalid("length", "personnummer must have 10 or 12 digits", length=len(digits))
    if len(separators) > 1:
        raise _invalid("separator", "personnummer has more than one separator")
    separator = separators[0] if separators else ""
    if separator and compact.index(separator) != len(compact) - 5:
        raise _invalid("separator", "the separator must stand before the last four digits")
    return digits, separator


def _century_year(two_digits: int, separator: str, on: date) -> int:
    year = on.year - (on.year - two_digits) % 100
    return year - 100 if separator == "+" else year


def parse_personnummer(text: str, on: date | None = None) -> Personnummer:
    """Parse and check a personnummer; InvalidInput's ``check`` names the failed check."""
    on = on or date.today()
    digits, separator = _split(text)
    if len(digits) == 12:
        year = int(digits[:4])
        if separator == "+" and on.year - year < 100:
            raise _invalid(
                "separator", "'+' is only used from the year the holder turns 100"
            )
    else:
        year = _century_year(int(digits[:2]), separator, on)
    month, written_day = int(digits[-8:-6]), int(digits[-6:-4])
    is_coordination = written_day >= COORDINATION_DAY_OFFSET
    day = written_day - COORDINATION_DAY_OFFSET if is_coordination else written_day
    earliest, latest = _birth_range(year, month, day, is_coordination)
    if earliest > on:
        raise _invalid("date", "the birth date lies in the future", future=True)
    if digits[-4:-1] == "000":
        raise _invalid("serial", "the birth number 000 is never issued")
    ten = digits[-10:]
    expected = luhn_check_digit(ten[:9])
    if expected != int(ten[9]):
        raise _invalid("luhn", "the check digit does not match")
    return Personnummer(f"{year:04d}{digits[-8:]}", min(latest, on), is_coordination,
                        month_known=month != 0, day_known=day != 0)


def _birth_range(year: int, month: int, day: int, coordination: bool) -> tuple[date, date]:
    """The earliest and latest birth date the date part allows.

    Month 00 and day 00 (written 60) mean "not known" and exist only in coordination
    numbers; anything else must be a real date.
    """
    not_a_date = _invalid("date", "the date part is not a real date", coordination=coordination)
    if (month == 0 or day == 0) and not coordination:
        raise not_a_date
    if month > 12 or day > 31:
        raise not_a_date
    months = range(1, 13) if month == 0 else range(month, month + 1)
    possible = []
    for candidate in months:
        last = calendar.monthrange(year, candidate)[1]
        days = range(1, last + 1) if day == 0 else range(day, day + 1) if day <= last else ()
        possible += [date(year, candidate, d) for d in (days[0], days[-1])] if days else []
    if not possible:
        raise not_a_date
    return min(possible), max(possible)


def is_valid_personnummer(text: str, on: date | None = None) -> bool:
    """Whether ``text`` parses as a personnummer."""
    try:
        parse_personnummer(text, on)
    except InvalidInput:
        return False
    return True
