"""`kioskctl doctor` shows which reader takes whose card (hardware.admin_reader/holder_reader)."""

from __future__ import annotations

from dataclasses import replace

from composition.cli.doctor import FAIL, OK, WARN, Check, check_reader_roles
from kiosk.settings import Settings

READERS = [Check("reader", OK, "", facts={"reader": "Identiv uTrust 3700 F [CCID] 00 00"}),
           Check("reader", OK, "", facts={"reader": "OMNIKEY 3121 [CCID] 01 00"})]


def two(admin: str, holder: str = "") -> Settings:
    s = Settings()
    return replace(s, hardware=replace(s.hardware, admin_reader=admin, holder_reader=holder))


def test_one_reader_names_the_idle_lock() -> None:
    (check,) = check_reader_roles(Settings(), READERS)
    assert check.status == OK and check.facts == {"mode": "single_reader", "idle_lock_s": 180}


def test_two_readers_name_each_role() -> None:
    (check,) = check_reader_roles(two("OMNIKEY"), READERS)
    assert check.status == OK
    assert check.facts["admin"] == ["OMNIKEY 3121 [CCID] 01 00"]
    assert check.facts["holder"] == ["Identiv uTrust 3700 F [CCID] 00 00"]


def test_an_admin_reader_that_matches_nothing_or_no_holder_reader_fails() -> None:
    assert check_reader_roles(two("Gemalto"), READERS)[0].status == FAIL
    assert check_reader_roles(two("OMNIKEY", "Gemalto"), READERS)[0].status == FAIL
    assert check_reader_roles(two("CCID"), READERS)[0].status == FAIL  # both match
    assert check_reader_roles(two("OMNIKEY"), [])[0].status == WARN
