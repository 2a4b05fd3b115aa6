"""Every error has a translated message and next step in every language."""

from __future__ import annotations

import inspect

import pytest

from kiosk import errors
from kiosk.i18n import LANGUAGES, catalog, describe_error


def error_classes() -> list[type[errors.KioskError]]:
    return [
        c
        for _, c in inspect.getmembers(errors, inspect.isclass)
        if issubclass(c, errors.KioskError)
    ]


def test_every_language_has_the_same_keys() -> None:
    assert set(catalog("sv")) == set(catalog("en"))


@pytest.mark.parametrize("cls", error_classes(), ids=lambda c: c.__name__)
def test_every_error_class_is_in_the_table(cls: type[errors.KioskError]) -> None:
    assert cls.code in errors.ERROR_TABLE


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_table_entry_is_translated(lang: str) -> None:
    keys = catalog(lang)
    for code, entry in errors.ERROR_TABLE.items():
        assert entry.message in keys, (code, entry.message)
        assert entry.next_step in keys, (code, entry.next_step)


def test_describe_error_fills_parameters() -> None:
    message, next_step = describe_error(errors.WrongPin(tries_left=2), "en")
    assert message == "Wrong PIN."
    assert next_step == "Try again. Tries left: 2."


def test_unknown_exception_is_an_internal_error() -> None:
    message, _ = describe_error(RuntimeError("boom"), "sv")
    assert message == "Något gick fel i kiosken."
