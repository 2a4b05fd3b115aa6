"""The PIN change visit on real parts: the demo kiosk's services (audited runner, outbox,
the reference portal over TLS), Eva's card as a SoftHSM2 token, and the card seen through
the emulated reader in pcscd (vpcd) or the memory reader. The card checks the current PIN
before a new one is asked for; the write still copes with a PIN changed meanwhile and with
the card pulled out."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from composition.cli.demo import describe_step, sign_in_admin
from hardware.emulator.pcscd import PcscdProcess
from kiosk.demo_cast import DEMO_ACTIVE_PIN, demo_admins, demo_holder
from kiosk.errors import WrongPin
from kiosk.ports import CardEventKind
from kiosk.settings import HardwareSettings
from kiosk.visit.change_pin import ChangePinFlow
from kiosk.visit.effects import VerifyPin
from kiosk.visit.events import CardInserted, Continue, Event, PinDigit, PinSubmit
from kiosk.visit.runner import run_scripted
from tests.integration.card.conftest import Office

pytestmark = [pytest.mark.softhsm, pytest.mark.portal, pytest.mark.slow]
TODAY = date.today()
EVA = demo_holder("eva", TODAY)
WRONG_PIN = "111222"
NEW_PIN = "480159"
OTHER_PIN = "730264"
RECEIPT = b"a signature after the visit"


def typed(pin: str) -> list[Event]:
    return [*(PinDigit(d) for d in pin), PinSubmit()]


def change_pin(
    services: Any, pins: list[str], after_verify: Callable[[], None] | None = None
) -> list[dict[str, Any]]:
    """Sign in, insert Eva's card (seen by the reader), run a PIN change typing ``pins``
    one after the other; the transcript's lines (kioskctl demo visit's, never a PIN)."""
    admin = sign_in_admin(services, demo_admins(TODAY)[0])
    while services.reader.wait_for_change(0.3) is not None:
        pass
    services.deck.insert(EVA.card_number)
    event = services.reader.wait_for_change(5)
    while event is not None and event.kind is not CardEventKind.INSERTED:
        event = services.reader.wait_for_change(5)
    assert event is not None, "the reader never saw the card"
    runner = services.effect_runner()
    if after_verify is not None:
        runner.after[VerifyPin] = after_verify
    flow = ChangePinFlow(admin, services.settings, str(uuid.uuid4()))
    lines: list[dict[str, Any]] = []
    script: list[Event] = [CardInserted(event.reader), Continue()]
    for pin in pins:
        script.extend(typed(pin))
    run_scripted(flow, script, runner, lambda e, step: lines.append(describe_step(e, step)))
    return lines


def signs_with(services: Any, pin: str) -> bool:
    """Whether Eva's card takes ``pin`` (a receipt signature; the tries are reset by it)."""
    services.deck.insert(EVA.card_number)
    try:
        return len(services.tokens.open().sign_receipt(pin, RECEIPT)) > 0
    except WrongPin:
        return False


def audited(services: Any) -> list[tuple[str, dict[str, Any]]]:
    """The audit log's (action, details), in order."""
    return [(entry.action, entry.details) for entry in services.audit.entries()]


@pytest.fixture(params=["emulated", "memory"])
def hardware(request: pytest.FixtureRequest) -> HardwareSettings:
    """The card in pcscd's vpcd reader (as a PC/SC card), or in the memory reader."""
    if request.param == "memory":
        return HardwareSettings()
    pcscd: PcscdProcess = request.getfixturevalue("pcscd")
    return replace(HardwareSettings(), reader="emulated", reader_name="Kiosk vpcd 00 00",
                   vpcd_port=pcscd.port)


def test_a_wrong_current_pin_is_refused_by_the_card_before_a_new_one_is_asked(
    office: Office, hardware: HardwareSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    services = office.services(hardware)
    try:
        lines = change_pin(services, [WRONG_PIN, DEMO_ACTIVE_PIN, NEW_PIN, NEW_PIN])
        checked = [line for line in lines if line.get("effect") == "verify_pin"]
        assert [c.get("error") for c in checked] == ["wrong_pin", None]
        refused = checked[0]
        assert refused["view"] == "pin_current" and refused["error_message"] == "error.wrong_pin"
        assert refused["error_params"]["tries_left"] == 2  # the demo card counts its tries
        # nothing before the refusal asked for a new PIN, nor tried to write one
        before = lines[: lines.index(refused)]
        assert not any(line["view"] in ("pin_choose", "pin_confirm") for line in before)
        assert [line.get("effect") for line in lines].count("change_pin") == 1
        assert lines[-1]["view"] == "done" and lines[-1]["message"] == "visit.done.change_pin"
        assert signs_with(services, NEW_PIN) and not signs_with(services, DEMO_ACTIVE_PIN)
        checks = [details for action, details in audited(services) if action == "verify_pin"]
        assert checks == [{"outcome": "failed", "error": "wrong_pin"}, {"outcome": "done"}]
        shown = repr(lines) + repr(audited(services)) + caplog.text
        assert not any(pin in shown for pin in (WRONG_PIN, DEMO_ACTIVE_PIN, NEW_PIN))
    finally:
        services.close()


def test_a_pin_changed_between_the_check_and_the_write_is_refused_unchanged(
    office: Office,
) -> None:
    services = office.services()
    changed: list[bool] = []

    def elsewhere() -> None:  # once, right after the card took the current PIN
        if not changed:
            changed.append(True)
            services.tokens.open().change_pin(DEMO_ACTIVE_PIN, OTHER_PIN)

    try:
        lines = change_pin(
            services, [DEMO_ACTIVE_PIN, NEW_PIN, NEW_PIN, OTHER_PIN, NEW_PIN, NEW_PIN], elsewhere
        )
        written = [line for line in lines if line.get("effect") == "change_pin"]
        assert [w.get("error") for w in written] == ["wrong_pin", None]
        assert written[0]["view"] == "pin_current"
        assert written[0]["error_message"] == "error.wrong_pin.at_write"  # unchanged
        assert lines[-1]["view"] == "done"
        assert signs_with(services, NEW_PIN) and not signs_with(services, OTHER_PIN)
    finally:
        services.close()


def test_a_card_pulled_during_the_write_ends_with_what_to_try(office: Office) -> None:
    services = office.services()
    try:
        services.deck.set_fault("remove_mid_write")
        lines = change_pin(services, [DEMO_ACTIVE_PIN, NEW_PIN, NEW_PIN])
        assert lines[-1]["view"] == "error"
        assert lines[-1]["message"] == "visit.ended.change_pin.writing"
        assert lines[-1]["error_message"] == "error.card_removed"
        assert signs_with(services, DEMO_ACTIVE_PIN)  # pulled before the write: unchanged
    finally:
        services.close()
