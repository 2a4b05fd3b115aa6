"""`kioskctl doctor`: where PINs are typed, from the reader's and the module's own answers."""

from __future__ import annotations

import dataclasses

import pytest

from composition.cli.doctor import OK, WARN, Check, check_pin_pad
from kiosk.i18n import translate
from kiosk.settings import HardwareSettings, Settings


def settings(use_pad: bool = True) -> Settings:
    hardware = dataclasses.replace(HardwareSettings(), use_reader_pin_pad=use_pad)
    return dataclasses.replace(Settings(), hardware=hardware)


def reader(pin_pad: bool) -> list[Check]:
    return [Check("reader", OK, "r", facts={"reader": "R 00", "pin_pad": pin_pad})]


def tokens(*pads: bool) -> list[Check]:
    rows = [{"label": f"t{i}", "initialised": True, "pin_pad": p} for i, p in enumerate(pads)]
    return [Check("pkcs11", OK, "m", facts={"tokens": rows})]


def test_nothing_to_say_without_a_pad_anywhere() -> None:
    assert check_pin_pad(settings(), reader(False), tokens(False)) == []


def test_a_pad_the_module_uses_is_ok() -> None:
    [check] = check_pin_pad(settings(), reader(True), tokens(True))
    assert (check.status, check.fix) == (OK, "")


def test_a_pad_the_module_ignores_is_a_warning_with_a_fix() -> None:
    [check] = check_pin_pad(settings(), reader(True), tokens(False))
    assert (check.status, check.fix) == (WARN, "doctor.fix.pin_pad_unused")


def test_a_pad_turned_off_in_the_settings_is_a_warning_with_a_fix() -> None:
    [check] = check_pin_pad(settings(use_pad=False), reader(True), tokens(True))
    assert (check.status, check.fix) == (WARN, "doctor.fix.pin_pad_off")


def test_a_pad_reader_without_a_card_says_what_to_do() -> None:
    [check] = check_pin_pad(settings(), reader(True), [Check("pkcs11", OK, "m", facts={})])
    assert check.status == OK and "insert a card" in check.detail


@pytest.mark.parametrize("lang", ["sv", "en"])
@pytest.mark.parametrize("key", ["doctor.fix.pin_pad_unused", "doctor.fix.pin_pad_off"])
def test_the_fixes_are_translated(lang: str, key: str) -> None:
    assert translate(key, lang) != key
