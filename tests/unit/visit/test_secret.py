"""Secrets and the PIN buffer: wipeable, never printed, never pickled."""

from __future__ import annotations

import pickle

import pytest

from kiosk.visit.effects import WritePin
from kiosk.visit.secret import PinBuffer, Secret


def test_secret_hides_its_value_in_repr_str_and_effects() -> None:
    secret = Secret("480159")
    assert "480159" not in repr(secret) and "480159" not in str(secret)
    assert "480159" not in repr(WritePin("reader", Secret("CRED-1"), secret))
    assert f"{secret}" == "Secret(<6 hidden>)"
    assert secret.reveal() == "480159"


def test_wipe_empties_and_copies_are_independent() -> None:
    secret = Secret("480159")
    copy = secret.copy()
    secret.wipe()
    assert len(secret) == 0 and not secret and secret.reveal() == ""
    assert copy.reveal() == "480159"
    assert copy.same_as(Secret("480159")) and not copy.same_as(secret)


def test_secrets_compare_by_identity_and_cannot_be_pickled() -> None:
    assert Secret("1") != Secret("1")
    with pytest.raises(TypeError):
        pickle.dumps(Secret("480159"))


def test_pin_buffer_takes_single_ascii_digits_up_to_its_length() -> None:
    buffer = PinBuffer(6)
    accepted = [buffer.add(d) for d in ["1", 2, "x", "", "12", None, True, 3.0, "٣", "3", "4"]]
    assert accepted == [True, True, False, False, False, False, False, False, False, True, True]
    assert buffer.reveal() == "1234"
    for digit in "567":
        buffer.add(digit)
    assert buffer.reveal() == "123456" and len(buffer) == 6
    buffer.back()
    assert buffer.reveal() == "12345"
    buffer.clear()
    assert len(buffer) == 0
    buffer.back()  # on empty: nothing happens
    assert len(buffer) == 0
