"""The holder's PIN policy: every rule, its order, its switch, and that the PIN never leaks."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.errors import PinRuleViolation
from kiosk.i18n import LANGUAGES, catalog, describe_error, translate
from kiosk.identity.personnummer import parse_personnummer
from kiosk.rules.pin import (
    PIN_RULES,
    birth_date_forms,
    broken_pin_rules,
    ensure_pin_allowed,
    is_digit_run,
    is_repeated_block,
    pin_rule_key,
)
from kiosk.settings import PinPolicySettings

ON = date(2026, 11, 25)
POLICY = PinPolicySettings()
HOLDER = parse_personnummer("199003152387", ON)  # born 1990-03-15
COORDINATION = parse_personnummer("199108613457", ON)  # born 1991-08-01, day written 61
PHONE = "070-862 41 95"


def broken(pin: str, **kwargs: object) -> list[str]:
    return broken_pin_rules(pin, kwargs.pop("policy", POLICY), **kwargs)  # type: ignore[arg-type]


def test_rule_ids_and_order() -> None:
    assert PIN_RULES == (
        "length", "digits", "repeated", "sequence", "birth_date", "personnummer_tail",
        "phone_tail", "deny_list",
    )


@pytest.mark.parametrize("pin", ["583920", "740291", "302718"])
def test_a_good_pin_breaks_no_rule(pin: str) -> None:
    assert broken(pin, personnummer=HOLDER, phone=PHONE) == []
    ensure_pin_allowed(pin, POLICY, HOLDER, PHONE)


@pytest.mark.parametrize("pin", ["", "58392", "5839201", "58392012"])
def test_length(pin: str) -> None:
    assert broken(pin)[0] == "length"


@pytest.mark.parametrize("pin", ["58392a", "5839 0", "58-392", "５８３９２０"])
def test_digits(pin: str) -> None:
    assert "digits" in broken(pin)


def test_length_and_digits_stop_the_other_rules() -> None:
    assert broken("1111a") == ["length", "digits"]
    assert broken("11111") == ["length"]


@pytest.mark.parametrize("pin", ["000000", "999999", "121212", "909090", "123123", "582582"])
def test_repeated(pin: str) -> None:
    assert "repeated" in broken(pin)
    assert is_repeated_block(pin)


@pytest.mark.parametrize("pin", ["112233", "583920", "121213", "122121"])
def test_not_repeated(pin: str) -> None:
    assert not is_repeated_block(pin)


@pytest.mark.parametrize(
    "pin", ["012345", "123456", "456789", "987654", "543210", "890123", "901234", "210987"]
)
def test_sequence_including_wrapped_runs(pin: str) -> None:
    assert broken(pin) == ["sequence"]


@pytest.mark.parametrize("pin", ["135791", "123457", "124578", "013579"])
def test_not_a_sequence(pin: str) -> None:
    assert not is_digit_run(pin)


@pytest.mark.parametrize(
    "pin", ["900315", "901503", "031590", "039015", "150390", "159003", "199003", "031990"]
)
def test_birth_date_in_every_documented_form(pin: str) -> None:
    assert "birth_date" in broken(pin, personnummer=HOLDER)
    assert "birth_date" not in broken(pin)  # without a holder there is no birth date


def test_birth_date_forms_are_exactly_the_documented_eight() -> None:
    assert birth_date_forms(HOLDER) == {
        "900315", "901503", "031590", "039015", "150390", "159003", "199003", "031990",
    }


def test_coordination_number_uses_the_real_birth_date() -> None:
    assert "birth_date" in broken("910801", personnummer=COORDINATION)
    assert "birth_date" in broken("010891", personnummer=COORDINATION)


@pytest.mark.parametrize("pin", ["152387", "031523", "003152", "199003"])
def test_personnummer_digits(pin: str) -> None:
    assert "personnummer_tail" in broken(pin, personnummer=HOLDER)


def test_coordination_number_as_written_is_refused() -> None:
    assert "personnummer_tail" in broken("910861", personnummer=COORDINATION)
    assert "personnummer_tail" in broken("613457", personnummer=COORDINATION)


@pytest.mark.parametrize("phone", ["070-862 41 95", "+46708624195", "0708624195"])
def test_phone_tail(phone: str) -> None:
    assert broken("624195", phone=phone) == ["phone_tail"]


def test_other_digits_of_the_phone_number_are_allowed() -> None:
    assert broken("708624", phone=PHONE) == []


def test_a_short_phone_number_has_no_tail() -> None:
    assert broken("624195", phone="4195") == []


@pytest.mark.parametrize("pin", POLICY.deny_list)
def test_deny_list(pin: str) -> None:
    assert "deny_list" in broken(pin)


def test_deny_list_is_configurable() -> None:
    policy = dataclasses.replace(POLICY, deny_list=("583920",))
    assert broken("583920", policy=policy) == ["deny_list"]
    assert broken("159753", policy=policy) == []


def test_every_broken_rule_is_reported_in_order() -> None:
    pin = "900315"
    policy = dataclasses.replace(POLICY, deny_list=(pin,))
    assert broken(pin, policy=policy, personnummer=HOLDER) == [
        "birth_date", "personnummer_tail", "deny_list",
    ]


@pytest.mark.parametrize(
    ("switch", "pin", "rule"),
    [
        ("reject_repeated", "777777", "repeated"),
        ("reject_sequences", "345678", "sequence"),
        ("reject_birth_date", "150390", "birth_date"),
        ("reject_personnummer_tail", "152387", "personnummer_tail"),
        ("reject_phone_tail", "624195", "phone_tail"),
    ],
)
def test_each_rule_can_be_switched_off(switch: str, pin: str, rule: str) -> None:
    assert rule in broken(pin, personnummer=HOLDER, phone=PHONE)
    policy = dataclasses.replace(POLICY, **{switch: False})
    assert rule not in broken(pin, policy=policy, personnummer=HOLDER, phone=PHONE)


def test_other_lengths_follow_the_policy() -> None:
    policy = dataclasses.replace(POLICY, length=8)
    assert broken("58392017", policy=policy) == []
    assert broken("583920", policy=policy) == ["length"]


def test_ensure_raises_the_first_rule_without_the_pin() -> None:
    pin = "150390"
    with pytest.raises(PinRuleViolation) as caught:
        ensure_pin_allowed(pin, POLICY, HOLDER, PHONE)
    error = caught.value
    assert error.rule == "birth_date"
    assert error.data["broken"] == ("birth_date",)
    shown = str(error) + repr(error.data) + error.detail + repr(error.args)
    assert pin not in shown
    for lang in LANGUAGES:
        message, next_step = describe_error(error, lang)
        assert pin not in message + next_step


@given(st.text(alphabet="0123456789", min_size=6, max_size=6))
def test_no_rule_message_or_error_ever_contains_the_pin(pin: str) -> None:
    rules = broken_pin_rules(pin, POLICY, HOLDER, PHONE)
    assert set(rules) <= set(PIN_RULES)
    assert rules == [r for r in PIN_RULES if r in rules]
    try:
        ensure_pin_allowed(pin, POLICY, HOLDER, PHONE)
    except PinRuleViolation as error:
        assert error.rule == rules[0]
        assert pin not in str(error) + repr(error.data)
    else:
        assert rules == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_rule_has_a_translated_explanation(lang: str) -> None:
    for rule in PIN_RULES:
        key = pin_rule_key(rule)
        assert key in catalog(lang)
        assert translate(key, lang, length=6) != key
    assert translate("pin.rule.length", lang, length=6).count("6") == 1
    assert translate("pin.rule.sequence", "sv").startswith("Koden får inte vara en talföljd")
