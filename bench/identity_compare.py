"""Compare kiosk.identity with python-stdnum (personnummer) and the PyPI `mrz` package.

Prints agreement on a generated set, where and why the answers differ, and time per call
(`--json`: the same figures as one JSON object, with the run's parameters).
`mrz` (GPLv3) is only a yardstick here, not a dependency: `.venv/bin/pip install mrz`.

Run: .venv/bin/python bench/identity_compare.py [--count N] [--seed S] [--json] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Any

from stdnum import luhn as stdnum_luhn
from stdnum.exceptions import ValidationError
from stdnum.se import personnummer as stdnum_pnr

from kiosk.errors import InvalidInput
from kiosk.identity.mrz import DIGIT_TO_LETTER, build_mrz, parse_mrz, position_kinds, repair_mrz
from kiosk.identity.personnummer import parse_personnummer

TODAY = date.today()
Say = Callable[[str], None]


def per_call_us(function: Callable[[Any], object], items: list[Any]) -> float:
    """Mean microseconds per call over ``items``."""
    start = time.perf_counter()
    for item in items:
        try:
            function(item)
        except Exception:  # noqa: S110 -- timing only; answers are compared elsewhere
            pass
    return (time.perf_counter() - start) / max(1, len(items)) * 1e6


# --- personnummer -----------------------------------------------------------------------


def ten_digits(born: date, birth_number: int, coordination: bool) -> str:
    day = born.day + (60 if coordination else 0)
    payload = f"{born:%y%m}{day:02d}{birth_number:03d}"
    return payload + stdnum_luhn.calc_check_digit(payload)


def personnummer_cases(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """(category, text) pairs: valid ones of several kinds and typical mistakes."""
    cases: list[tuple[str, str]] = []
    for _ in range(count):
        born = TODAY - timedelta(days=rng.randint(0, 99 * 365))
        ten = ten_digits(born, rng.randint(0, 999), coordination=False)
        kind = rng.choice(
            ["valid10", "valid12", "coordination", "centenarian", "digit_typo", "swap",
             "bad_date", "letter_o", "born_later_this_year"]
        )
        if kind == "valid10":
            text = f"{ten[:6]}-{ten[6:]}"
        elif kind == "valid12":
            text = f"{born.year}{ten[2:]}"
        elif kind == "coordination":
            coord = ten_digits(born, rng.randint(0, 999), coordination=True)
            text = f"{coord[:6]}-{coord[6:]}"
        elif kind == "centenarian":
            old = born.replace(year=TODAY.year - rng.randint(100, 105)) if (
                born.month, born.day) != (2, 29) else date(TODAY.year - 104, 3, 1)
            t = ten_digits(old, rng.randint(0, 999), coordination=False)
            text = f"{t[:6]}+{t[6:]}"
        elif kind == "digit_typo":
            i = rng.randrange(10)
            new = str((int(ten[i]) + rng.randint(1, 9)) % 10)
            t = ten[:i] + new + ten[i + 1 :]
            text = f"{t[:6]}-{t[6:]}"
        elif kind == "swap":
            i = rng.randrange(9)
            t = ten[:i] + ten[i + 1] + ten[i] + ten[i + 2 :]
            text = f"{t[:6]}-{t[6:]}"
        elif kind == "bad_date":
            payload = f"{born:%y}{rng.choice(['13', '00', '02'])}{rng.choice(['30', '31', '00'])}"
            payload += f"{rng.randint(0, 999):03d}"
            t = payload + stdnum_luhn.calc_check_digit(payload)
            text = f"{t[:6]}-{t[6:]}"
        elif kind == "letter_o":
            text = f"{ten[:6]}-{ten[6:]}".replace("0", "O", 1)  # unchanged if it has no 0
        else:
            later = TODAY + timedelta(days=rng.randint(1, 30))
            if later.year != TODAY.year:
                later = TODAY
            t = ten_digits(later, rng.randint(0, 999), coordination=False)
            text = f"{t[:6]}-{t[6:]}"
        cases.append((kind, text))
    return cases


def ours_pnr(text: str) -> tuple[bool, str, date | None]:
    try:
        number = parse_personnummer(text, TODAY)
    except InvalidInput as error:
        return False, str(error.data["check"]), None
    return True, "ok", number.birth_date


def stdnum_answer(text: str) -> tuple[bool, str, date | None]:
    try:
        stdnum_pnr.validate(text)
        return True, "ok", stdnum_pnr.get_birth_date(text)
    except ValidationError as error:
        return False, type(error).__name__, None


def compare_personnummer(rng: random.Random, count: int, say: Say) -> dict[str, Any]:
    cases = personnummer_cases(rng, count)
    agree = Counter[str]()
    total = Counter[str]()
    ours_valid = Counter[str]()
    theirs_valid = Counter[str]()
    same_birth = 0
    both_valid = 0
    detail = Counter[tuple[str, str]]()
    for kind, text in cases:
        ours, theirs = ours_pnr(text), stdnum_answer(text)
        total[kind] += 1
        agree[kind] += ours[0] == theirs[0]
        ours_valid[kind] += ours[0]
        theirs_valid[kind] += theirs[0]
        if ours[0] and theirs[0]:
            both_valid += 1
            same_birth += ours[2] == theirs[2]
        if not ours[0] and not theirs[0]:
            detail[(ours[1], theirs[1])] += 1
    say(f"personnummer: {count} generated numbers, reference date {TODAY}")
    say(f"  {'category':<22}{'n':>6}{'agree':>8}{'ours ok':>9}{'stdnum ok':>11}")
    for kind in sorted(total):
        say(
            f"  {kind:<22}{total[kind]:>6}{agree[kind] / total[kind]:>8.1%}"
            f"{ours_valid[kind]:>9}{theirs_valid[kind]:>11}"
        )
    overall = sum(agree.values()) / max(1, sum(total.values()))
    say(f"  overall validity agreement: {overall:.1%}")
    say(f"  same birth date where both accept: {same_birth}/{both_valid}")
    say("  error detail where both reject (ours check -> stdnum exception):")
    for (mine, theirs), n in detail.most_common():
        say(f"    {mine:<12} -> {theirs:<18} {n}")
    texts = [text for _, text in cases]
    ours_us, stdnum_us = per_call_us(ours_pnr, texts), per_call_us(stdnum_answer, texts)
    say(f"  time per call: ours {ours_us:.1f} us, stdnum {stdnum_us:.1f} us")
    return {
        "count": count, "reference_date": TODAY.isoformat(),
        "categories": {kind: {"n": total[kind],
                              "agree_pct": round(100 * agree[kind] / total[kind], 2),
                              "ours_ok": ours_valid[kind], "stdnum_ok": theirs_valid[kind]}
                       for kind in sorted(total)},
        "overall_agreement_pct": round(100 * overall, 2),
        "same_birth_date": same_birth, "both_accept": both_valid,
        "both_reject_detail": [{"ours_check": mine, "stdnum_exception": theirs, "n": n}
                               for (mine, theirs), n in detail.most_common()],
        "ours_per_call_us": round(ours_us, 2), "stdnum_per_call_us": round(stdnum_us, 2),
    }


# --- MRZ ----------------------------------------------------------------------------------


STATES = ["SWE", "NOR", "FIN", "DNK", "D", "GBR", "UTO"]  # Germany is "D" in an MRZ
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ALNUM = LETTERS + "0123456789"


def random_mrz(rng: random.Random) -> tuple[str, ...]:
    fmt = rng.choice(["TD1", "TD2", "TD3"])
    born = TODAY - timedelta(days=rng.randint(18 * 365, 90 * 365))
    state = rng.choice(STATES)
    optional: list[str] = []
    if state == "SWE" and fmt != "TD2":  # TD2's 7-character optional field cannot hold it
        optional.append(ten_digits(born, rng.randint(0, 999), coordination=False))
    return build_mrz(
        fmt,  # type: ignore[arg-type]
        document_number="".join(rng.choice(ALNUM) for _ in range(rng.randint(6, 9))),
        birth_date=born,
        expiry_date=TODAY + timedelta(days=rng.randint(-400, 3650)),
        surname="".join(rng.choice(LETTERS) for _ in range(rng.randint(2, 12))),
        given_names="".join(rng.choice(LETTERS) for _ in range(rng.randint(2, 8))),
        sex=rng.choice("MF"),
        issuing_state=state,
        nationality=state,
        optional_data=optional,
    )


def their_checker(lines: Iterable[str]) -> bool:
    from mrz.checker.td1 import TD1CodeChecker
    from mrz.checker.td2 import TD2CodeChecker
    from mrz.checker.td3 import TD3CodeChecker

    lines = tuple(lines)
    checker = {30: TD1CodeChecker, 36: TD2CodeChecker, 44: TD3CodeChecker}[len(lines[0])]
    try:
        return bool(checker("\n".join(lines)))
    except Exception:
        return False


def ours_mrz(lines: Iterable[str]) -> bool:
    try:
        return parse_mrz(tuple(lines), TODAY).valid
    except InvalidInput:
        return False


def confuse(rng: random.Random, lines: tuple[str, ...], kinds: set[str]) -> tuple[str, ...]:
    """Apply 1-3 OCR confusions at positions of the given kinds."""
    fmt = {30: "TD1", 36: "TD2", 44: "TD3"}[len(lines[0])]
    kind_map = position_kinds(fmt)  # type: ignore[arg-type]
    letter_to_digit = {v: k for k, v in DIGIT_TO_LETTER.items()}
    spots = [
        (r, c, DIGIT_TO_LETTER[ch] if ch in DIGIT_TO_LETTER else letter_to_digit.get(ch, ch))
        for r, line in enumerate(lines)
        for c, ch in enumerate(line)
        if kind_map[r][c] in kinds
        and (ch in DIGIT_TO_LETTER if kind_map[r][c] != "alpha" else ch in letter_to_digit)
    ]
    rows = [list(line) for line in lines]
    for r, c, new in rng.sample(spots, k=min(len(spots), rng.randint(1, 3))):
        rows[r][c] = new
    return tuple("".join(row) for row in rows)


def compare_mrz(rng: random.Random, count: int, say: Say) -> dict[str, Any]:
    try:
        import mrz  # noqa: F401
    except ImportError:
        say("mrz: the PyPI `mrz` package is not installed; skipped")
        return {"skipped": "the PyPI `mrz` package is not installed"}
    figures: dict[str, Any] = {"count": count, "reference_date": TODAY.isoformat()}
    valid = [random_mrz(rng) for _ in range(count)]
    bad_digit = []
    for lines in valid:
        row = len(lines) - 1 if len(lines) == 2 else 1
        col = len(lines[row]) - 1
        wrong = str((int(lines[row][col]) + rng.randint(1, 9)) % 10)
        bad_digit.append((*lines[:row], lines[row][:col] + wrong, *lines[row + 1 :]))
    say(f"\nMRZ: {count} generated TD1/TD2/TD3 zones (build_mrz), reference date {TODAY}")
    for key, label, sample, expected in (
        ("valid", "valid", valid, True),
        ("composite_digit_changed", "composite digit changed", bad_digit, False),
    ):
        ours = sum(ours_mrz(lines) == expected for lines in sample)
        theirs = sum(their_checker(lines) == expected for lines in sample)
        agree = sum(ours_mrz(lines) == their_checker(lines) for lines in sample)
        say(f"  {label:<26} ours right {ours / count:.1%}  mrz right {theirs / count:.1%}"
            f"  agreement {agree / count:.1%}")
        figures[key] = {"ours_right_pct": round(100 * ours / count, 2),
                        "mrz_right_pct": round(100 * theirs / count, 2),
                        "agreement_pct": round(100 * agree / count, 2)}
    swedish = [
        lines for lines in valid
        if parse_mrz(lines, TODAY).issuing_state == "SWE" and len(lines[0]) != 36
    ]
    with_pnr = sum(parse_mrz(lines, TODAY).personnummer is not None for lines in swedish)
    say(f"  Swedish TD1/TD3 zones with the personnummer parsed out: {with_pnr}/{len(swedish)}"
        " (mrz: not offered)")
    figures["swedish_with_personnummer"] = with_pnr
    figures["swedish_td1_td3"] = len(swedish)
    for key, label, kinds in (
        ("confusions_numeric_alpha", "numeric/alpha positions", {"numeric", "alpha"}),
        ("confusions_alnum", "document number/optional data", {"alnum"}),
    ):
        repaired = refused = wrong = invisible = theirs_ok = 0
        pairs = [(lines, confuse(rng, lines, kinds)) for lines in valid]
        pairs = [(lines, read) for lines, read in pairs if read != lines]
        for lines, read in pairs:
            theirs_ok += their_checker(read)
            try:
                repair = repair_mrz(read, TODAY)
            except InvalidInput:
                repair = None
            if repair is None:
                refused += 1
            elif repair.lines == lines:
                repaired += 1
            elif not repair.changes:
                invisible += 1  # the misreading passes every check digit as it is
            else:
                wrong += 1
        n = max(1, len(pairs))
        say(f"  1-3 OCR confusions at {label} ({len(pairs)} misread zones):")
        say(f"    repaired {repaired / n:.1%}, refused {refused / n:.1%}, "
            f"wrong repair {wrong / n:.1%}, invisible to check digits {invisible / n:.1%}; "
            f"mrz accepts the misreading {theirs_ok / n:.1%}")
        figures[key] = {
            "misread_zones": len(pairs), "repaired_pct": round(100 * repaired / n, 2),
            "refused_pct": round(100 * refused / n, 2),
            "wrong_repair_pct": round(100 * wrong / n, 2),
            "invisible_pct": round(100 * invisible / n, 2),
            "mrz_accepts_misreading_pct": round(100 * theirs_ok / n, 2),
        }
    ours_us, theirs_us = per_call_us(ours_mrz, valid), per_call_us(their_checker, valid)
    say(f"  time per call: ours parse {ours_us:.1f} us, mrz check {theirs_us:.1f} us")
    broken = [confuse(rng, lines, {"alnum"}) for lines in valid[: min(count, 300)]]
    repair_us = per_call_us(lambda lines: repair_mrz(lines, TODAY), broken)
    say(f"  time per repair (alphanumeric confusions): {repair_us:.0f} us")
    figures["ours_parse_per_call_us"] = round(ours_us, 2)
    figures["mrz_check_per_call_us"] = round(theirs_us, 2)
    figures["repair_per_call_us"] = round(repair_us, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=9303)
    parser.add_argument("--smoke", action="store_true",
                        help="a few iterations only: proves the bench still runs (tests)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.smoke:
        args.count = 50
    say: Say = (lambda _line: None) if args.json else print
    rng = random.Random(args.seed)
    figures: dict[str, Any] = {"count": args.count, "seed": args.seed, "smoke": args.smoke}
    figures["personnummer"] = compare_personnummer(rng, args.count, say)
    figures["mrz"] = compare_mrz(rng, max(1, args.count // 5), say)
    if args.json:
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
