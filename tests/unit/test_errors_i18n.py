"""Every error has a translated message and next step in every language."""

from __future__ import annotations

import inspect

import pytest

from kiosk import errors
from kiosk.i18n import LANGUAGES, catalog, describe_error
from kiosk.visit.errorview import error_view


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


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("tries", [None, 1, 2])
def test_a_wrong_pin_tells_the_tries_only_when_the_token_reports_them(
    lang: str, tries: int | None
) -> None:
    """Real cards flag only the final try, SoftHSM2 nothing: never "Tries left: None"."""
    error = errors.WrongPin(tries_left=tries)
    _, next_step = describe_error(error, lang)
    assert "None" not in next_step and "{" not in next_step
    assert (str(tries) in next_step) is (tries == 2)
    assert errors.next_step_key(error) in catalog(lang)
    assert error_view(error).next_step == errors.next_step_key(error)


def test_unknown_exception_is_an_internal_error() -> None:
    message, _ = describe_error(RuntimeError("boom"), "sv")
    assert message == "Något gick fel i kiosken."
