"""Scripted walks through the visits, by real taps on real widgets (autopilot, tour, tests).

Each function is a generator for ``Driver.run``: it yields conditions and taps between
them. ``shoot(name)`` yields the conditions of a screenshot when a folder is set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from datetime import date
from pathlib import Path

from kivy.clock import Clock

from kiosk.demo_cast import (
    DEMO_ACTIVE_PIN,
    DEMO_SIGNATURE_PIN,
    OTHER_ORGANISATIONS,
    DemoHolder,
    demo_admins,
    demo_holder,
)
from kiosk.visit.contract import View, ViewName
from screens.driver import Condition, Driver, tap
from screens.effect_gate import EffectGate
from screens.scanning import demo_document

Steps = Generator[Condition, None, None]

GOOD_PIN = "914273"
RULE_BREAKING_PIN = "345678"  # a run of digits: the PIN policy refuses it
TOUR_SIGNATURE_PIN = "736185"  # the signature PIN Ingrid chooses (passes the PIN rules)
WRONG_CURRENT_PIN = DEMO_ACTIVE_PIN[:3] + "000"  # Eva's first three digits, then wrong ones
KEY_HIGHLIGHT_S = 0.1  # Kivy keeps a released button drawn "down" for min_state_time
SCAN_WAIT_S = 20.0  # how long the walk lets the camera scan before typing the document
BUTTON_WAIT_S = 5.0  # how long a walk waits for a button to appear before it fails


class Walk:
    """A driver, an effect gate and an optional screenshot folder, with numbered shots."""

    def __init__(self, driver: Driver, gate: EffectGate | None, out: Path | None,
                 today: date | None = None) -> None:
        self.driver = driver
        self.gate = gate
        self.out = out
        self.today = today or date.today()
        self.count = 0
        self.names: list[str] = []
        self.problems: list[str] = []  # overlapping or clipped texts found when photographing

    def shoot(self, name: str) -> Generator[Condition, None, None]:
        """Photograph the screen as ``NN-name.png`` once a pressed key has faded."""
        self.count += 1
        self.names.append(name)
        if self.out is None:
            return
        yield self.driver.pause(KEY_HIGHLIGHT_S)
        for pair in self.driver.overlapping_texts():
            self.problems.append(f"{name}: {pair[0]!r} overlaps {pair[1]!r}")
        for text in self.driver.clipped_texts():
            self.problems.append(f"{name}: {text!r} does not fit its box")
        for text in self.driver.broken_words():
            self.problems.append(f"{name}: {text} mid-word")
        yield self.driver.shot(self.out / f"{self.count:02d}-{name}.png")

    def wait(self, name: ViewName, check: Callable[[View], bool] | None = None) -> Condition:
        """Until ``name`` is on screen and idle."""
        return self.driver.until_view(name, check)

    def hold(self) -> None:
        """Hold effects back (to photograph the progress screen they show)."""
        if self.gate is not None:
            self.gate.hold()

    def release(self) -> None:
        """Let effects run."""
        if self.gate is not None:
            self.gate.release()

    def progress(self, name: ViewName, shot: str, larger: bool = False) -> Steps:
        """With effects held: wait for the progress view, photograph it (and with larger
        text if ``larger``), release."""
        yield self.driver.until(lambda: _showing(self.driver, name))
        yield from self.shoot(shot)
        if larger:
            yield from larger_text_shot(self, f"{shot}-larger-text")
        self.release()

    def larger(self) -> bool:
        """Whether the holder's screens are photographed with larger text too: on the 7"
        panel only (where it matters most), a few shots, not a second tour."""
        return self.out is not None and bool(getattr(self.driver.app, "compact", False))

    def act(self, action: str) -> Condition:
        """Tap the button for ``action`` once the screen shows it, as a person would.

        (A view can be on screen a frame before its action bar is laid out, more so on a
        loaded machine.) LookupError if it has not appeared within ``BUTTON_WAIT_S``.
        """
        give_up = time.monotonic() + BUTTON_WAIT_S
        tapped_at: list[int] = []

        def tapped() -> bool:
            if tapped_at:
                return Clock.frames > tapped_at[0]
            try:
                button = self.driver.button(action)
            except LookupError:
                if time.monotonic() > give_up:
                    raise
                return False
            tap(button)
            tapped_at.append(Clock.frames)
            return False

        return tapped


def _showing(driver: Driver, name: ViewName) -> bool:
    view = driver.view()
    return view is not None and view.name is name


# --- sign-in --------------------------------------------------------------------------


def sign_in(walk: Walk, shots: bool = True, admin_index: int = 0) -> Steps:
    """Insert the administrator's card, type the PIN, reach HOME."""
    d = walk.driver
    admin = demo_admins(walk.today)[admin_index]
    yield walk.wait(ViewName.ADMIN_SIGN_IN)
    if shots:
        yield from walk.shoot("admin-sign-in")
    yield d.insert_card(admin.card_number)
    yield walk.wait(ViewName.ADMIN_SIGN_IN, lambda v: v.params.get("stage") == "pin")
    yield from d.type_pin(admin.pin[:3], submit=False)
    if shots:
        yield from walk.shoot("admin-pin")
    walk.hold()
    yield from d.type_pin(admin.pin[3:])
    if shots:
        yield from walk.progress(ViewName.WORKING, "signing-in")
    walk.release()
    yield walk.wait(ViewName.HOME)
    yield d.remove_card()
    if shots:
        yield from walk.shoot("home")


def choose(walk: Walk, visit: str) -> Steps:
    """From HOME, start ``visit``."""
    yield walk.wait(ViewName.HOME)
    yield walk.act(f"visit:{visit}")
    yield walk.wait(ViewName.INSERT_CARD)


def back_home(walk: Walk) -> Steps:
    """From a visit's last screen to HOME."""
    yield walk.act("home")
    yield walk.wait(ViewName.HOME)


# --- activation ---------------------------------------------------------------------


def type_document(walk: Walk, holder: DemoHolder) -> Steps:
    """Manual entry of the holder's document, typed by touch on the on-screen keyboards.

    What the camera reads is held back until the form is up: for a holder the demo has no
    document of, the demo camera shows someone else's, and a read landing before the tap
    took the visit on to the document's confirmation (a loaded machine, test_visits_by_touch).
    """
    scan = walk.driver.app.scan
    scan.hold = True
    yield walk.act("document_manual")
    yield walk.wait(ViewName.DOCUMENT_MANUAL)
    scan.release()  # the camera is off on the form; a read held meanwhile is not for it
    yield from fill_document_form(walk, holder)


def fill_document_form(walk: Walk, holder: DemoHolder) -> Steps:
    """On the manual form: tap the document type and type the three fields by touch
    (letters for the document number, the numeric keyboard for the date and personnummer)."""
    d = walk.driver
    screen = d.screen()
    tap(next(b for b in screen.ids.types.children if b.doc_type == holder.document.value))
    yield d.frames(1)
    yield from d.type_text(screen.ids.number, holder.document_number)
    yield from d.type_text(screen.ids.expiry, holder.document_expiry.isoformat())
    yield from d.type_text(screen.ids.pnr, holder.personnummer)


def keyboard_shots(walk: Walk, holder: DemoHolder) -> Steps:
    """Photograph both keyboards open on the manual form, then close them again."""
    d = walk.driver
    screen = d.screen()
    keyboard = d.app.keyboard
    for field, text, name in ((screen.ids.number, "AB", "keyboard-letters"),
                              (screen.ids.pnr, holder.personnummer[:4], "keyboard-numeric")):
        tap(field)
        yield d.until(lambda: bool(keyboard.shown))
        for char in text:
            tap(keyboard.keys()[char])
            yield d.frames(1)
        yield from walk.shoot(name)
        tap(keyboard.keys()["done"])
        yield d.until(lambda: not keyboard.shown)
        field.text = ""


def document(walk: Walk, holder: DemoHolder, shots: bool) -> Steps:
    """The document check: the live camera scan (of a holder the demo has a document of),
    else manual entry; ends at DOCUMENT_CONFIRM.

    The scan's results are held while the check and the manual form are photographed.
    """
    d = walk.driver
    scan = d.app.scan
    scan.hold = True
    yield walk.wait(ViewName.DOCUMENT_CHECK)
    preview = d.screen().ids.preview
    yield d.until(lambda: preview.frames_shown > 0 or d.waited() > 5)
    if shots:
        yield from walk.shoot("document-check")
        yield walk.act("document_manual")
        yield walk.wait(ViewName.DOCUMENT_MANUAL)
        screen = d.screen()
        tap(next(b for b in screen.ids.types.children if b.doc_type == holder.document.value))
        yield d.frames(1)
        yield from walk.shoot("document-manual")
        yield from keyboard_shots(walk, holder)
        yield walk.act("document_scan")
        yield walk.wait(ViewName.DOCUMENT_CHECK)
    scan.release()
    if demo_document(holder.key) is not None:  # else the camera shows no document of theirs
        yield d.until(lambda: _showing(d, ViewName.DOCUMENT_CONFIRM) or d.waited() > SCAN_WAIT_S)
    if not _showing(d, ViewName.DOCUMENT_CONFIRM):
        yield from type_document(walk, holder)
        yield walk.act("submit_document")
    yield walk.wait(ViewName.DOCUMENT_CONFIRM)
    if shots:
        yield from walk.shoot("document-confirm")


def to_card_record(walk: Walk, visit: str, holder: DemoHolder) -> Steps:
    """From HOME: ``visit`` chosen and the holder's card in the reader, its record shown."""
    yield from choose(walk, visit)
    yield walk.driver.insert_card(holder.card_number)
    yield walk.wait(ViewName.CARD_RECORD)


def identity_checked(walk: Walk, visit: str, holder: DemoHolder) -> Steps:
    """Choose ``visit``, insert the holder's card, accept the record, check the document."""
    yield from to_card_record(walk, visit, holder)
    yield walk.act("continue")
    yield from document(walk, holder, shots=False)
    yield walk.act("document_confirmed")


def hand_over(walk: Walk, to: str, shot: str | None = None) -> Steps:
    """The screen changes hands: the cover for ``to`` ("holder", "admin") comes up (photographed
    as ``shot``, on the 7" panel with larger text too), and the person receiving the screen
    taps "it is me – continue"."""
    d = walk.driver
    guide = d.app.guide
    yield d.until(lambda: guide.up and guide.cover.kind == to)
    yield d.frames(2)
    if shot:
        yield from walk.shoot(shot)
        if walk.larger():
            yield from larger_text_shot(walk, f"{shot}-larger-text")
    tap(guide.cover.ids.go)
    yield d.until(lambda: not guide.up)


def help_shot(walk: Walk, name: str) -> Steps:
    """The top bar's help on this screen, photographed, then back to the screen."""
    d = walk.driver
    guide = d.app.guide
    tap(d.app.root.ids.help)
    yield d.until(lambda: guide.up and guide.cover.kind == "help")
    yield d.frames(2)
    yield from walk.shoot(name)
    tap(guide.cover.ids.go)
    yield d.until(lambda: not guide.up)


def sign_receipt(walk: Walk, pin: str, shots: bool) -> Steps:
    """The holder reads the receipt, taps "I accept – sign" and signs with ``pin``."""
    d = walk.driver
    yield walk.wait(ViewName.SIGN_RECEIPT)
    if shots:
        yield from walk.shoot("receipt")
        if walk.larger():
            yield from larger_text_shot(walk, "receipt-larger-text")
    yield walk.act("accept_receipt")
    yield d.until(lambda: not d.screen().reading)
    if shots:
        yield from walk.shoot("sign-receipt")
        if walk.larger():
            yield from larger_text_shot(walk, "sign-receipt-larger-text")
    yield from d.type_pin(pin)


def larger_text_shot(walk: Walk, name: str) -> Steps:
    """The holder's larger-text, high-contrast mode on this screen, then off again."""
    d = walk.driver
    tap(d.app.root.ids.large_text)
    yield d.until(lambda: bool(d.app.large_text))
    yield d.frames(3)
    yield from walk.shoot(name)
    tap(d.app.root.ids.large_text)
    yield d.until(lambda: not d.app.large_text)
    yield d.frames(2)


def activation(walk: Walk, holder_key: str = "anna", shots: bool = True,
               mistakes: bool = True) -> Steps:
    """The whole activation visit from HOME to DONE."""
    d = walk.driver
    holder = demo_holder(holder_key, walk.today)
    yield from choose(walk, "activation")
    if shots:
        yield from walk.shoot("insert-card")
    walk.hold()
    yield d.insert_card(holder.card_number)
    if shots:
        yield from walk.progress(ViewName.WORKING, "reading-card")
    walk.release()
    yield walk.wait(ViewName.CARD_RECORD)
    if shots:
        yield from walk.shoot("card-record")
        if walk.larger():
            yield from larger_text_shot(walk, "card-record-larger-text")
        yield from help_shot(walk, "help")
    yield walk.act("continue")
    yield from document(walk, holder, shots)
    yield walk.act("document_confirmed")
    yield walk.wait(ViewName.PIN_CHOOSE)
    yield from hand_over(walk, "holder", "hand-to-holder" if shots else None)
    if mistakes:
        yield from d.type_pin(RULE_BREAKING_PIN)
        yield walk.wait(ViewName.PIN_CHOOSE, lambda v: v.error is not None)
        if shots:
            yield from walk.shoot("pin-rule-broken")
            if walk.larger():
                yield from larger_text_shot(walk, "pin-rule-broken-larger-text")
    yield from d.type_pin(GOOD_PIN[:2], submit=False)
    if shots:
        yield from walk.shoot("pin-choose")
        yield from larger_text_shot(walk, "pin-choose-larger-text")
    yield from d.type_pin(GOOD_PIN[2:])
    yield walk.wait(ViewName.PIN_CONFIRM)
    if mistakes:
        yield from d.type_pin(GOOD_PIN[:5] + "0")
        yield walk.wait(ViewName.PIN_CHOOSE, lambda v: v.error is not None)
        if shots:
            yield from walk.shoot("pin-mismatch")
        yield from d.type_pin(GOOD_PIN)
        yield walk.wait(ViewName.PIN_CONFIRM)
    yield from d.type_pin(GOOD_PIN[:4], submit=False)
    if shots:
        yield from walk.shoot("pin-confirm")
        if walk.larger():
            yield from larger_text_shot(walk, "pin-confirm-larger-text")
    walk.hold()
    yield from d.type_pin(GOOD_PIN[4:])
    if shots:
        yield from walk.progress(ViewName.WRITING_PIN, "writing-pin", walk.larger())
    walk.release()
    yield from sign_receipt(walk, GOOD_PIN, shots)
    yield walk.wait(ViewName.DONE)
    yield from hand_over(walk, "admin", "hand-to-admin" if shots else None)
    if shots:
        yield from walk.shoot("done")
        if walk.larger():  # the holder's larger text stays on until HOME
            yield from larger_text_shot(walk, "done-larger-text")
    yield d.remove_card()
    yield from back_home(walk)


# --- the other visits ---------------------------------------------------------------


def refused_card(walk: Walk) -> Steps:
    """A reserve card: refused on the card record screen."""
    d = walk.driver
    yield from choose(walk, "activation")
    yield d.insert_card(demo_holder("cecilia", walk.today).card_number)
    yield walk.wait(ViewName.CARD_RECORD, lambda v: v.error is not None)
    yield from walk.shoot("card-refused")
    yield d.remove_card()
    yield from back_home(walk)


def card_check(walk: Walk, holder_key: str = "eva", shot: str = "card-info",
               message: str = "visit.card_info.summary") -> Steps:
    """Card check of an active card (Hugo's: its certificates end within 3 months, the
    check warns)."""
    d = walk.driver
    yield from choose(walk, "card_check")
    yield d.insert_card(demo_holder(holder_key, walk.today).card_number)
    yield walk.wait(ViewName.CARD_INFO, lambda v: v.message == message)
    yield from walk.shoot(shot)
    yield d.remove_card()
    yield walk.act("done")
    # ended (Hugo's check also offers his renewal, one tap away)
    yield walk.wait(ViewName.CARD_INFO, lambda v: v.actions[-1:] == ("home",))
    yield from back_home(walk)


def to_current_pin(walk: Walk, holder_key: str = "eva") -> Steps:
    """From HOME: a PIN change on the holder's card, its record accepted, the screen handed
    to the holder on the current-PIN screen."""
    yield from to_card_record(walk, "change_pin", demo_holder(holder_key, walk.today))
    yield walk.act("continue")
    yield walk.wait(ViewName.PIN_CURRENT)
    yield from hand_over(walk, "holder")


def change_pin_cancelled(walk: Walk) -> Steps:
    """PIN change: the current-PIN screen; a wrong current PIN, refused by the card before
    a new one is asked; then cancel (the ended screen explains)."""
    d = walk.driver
    yield from to_current_pin(walk)
    yield from d.type_pin(DEMO_ACTIVE_PIN[:3], submit=False)
    yield from walk.shoot("pin-current")
    if walk.larger():
        yield from larger_text_shot(walk, "pin-current-larger-text")
    yield from d.type_pin(WRONG_CURRENT_PIN[3:])  # one try of three, reset by the next visit
    yield walk.wait(ViewName.PIN_CURRENT, lambda v: v.error is not None)
    yield from walk.shoot("pin-current-wrong")
    yield walk.act("cancel")
    yield walk.wait(ViewName.ERROR)
    yield from hand_over(walk, "admin")
    yield from walk.shoot("visit-cancelled")
    if walk.larger():
        yield from larger_text_shot(walk, "visit-cancelled-larger-text")
    yield d.remove_card()
    yield from back_home(walk)


def change_pin(walk: Walk, old_pin: str, new_pin: str, holder_key: str = "eva") -> Steps:
    """A whole PIN change visit (current PIN, new PIN twice, write), from HOME to HOME."""
    d = walk.driver
    yield from to_current_pin(walk, holder_key)
    yield from d.type_pin(old_pin)
    yield walk.wait(ViewName.PIN_CHOOSE)
    yield from d.type_pin(new_pin)
    yield walk.wait(ViewName.PIN_CONFIRM)
    yield from d.type_pin(new_pin)
    yield walk.wait(ViewName.DONE)
    yield from hand_over(walk, "admin")
    yield d.remove_card()
    yield from back_home(walk)


def pin_letter(walk: Walk) -> Steps:
    """Order a PIN/PUK letter for an active card: record, ID document, ordered."""
    d = walk.driver
    holder = demo_holder("eva", walk.today)
    yield from identity_checked(walk, "pin_letter", holder)
    yield walk.wait(ViewName.DONE)
    yield from walk.shoot("pin-letter-done")
    yield d.remove_card()
    yield from back_home(walk)


def additional_certificate(walk: Walk) -> Steps:
    """Jonas's card has an additional certificate: a second is refused; it is replaced by
    one from another organisation (made on the card, issued, tested, the old one removed)."""
    d = walk.driver
    holder = demo_holder("jonas", walk.today)
    yield from identity_checked(walk, "additional_certificate", holder)
    yield walk.wait(ViewName.CHOOSE, lambda v: v.message == "visit.additional.present")
    yield from walk.shoot("additional-present")
    yield walk.act("replace")
    yield walk.wait(ViewName.CHOOSE, lambda v: v.message == "visit.additional.choose_organisation")
    yield from walk.shoot("additional-organisation")
    yield walk.act(OTHER_ORGANISATIONS[1])
    yield walk.wait(ViewName.PIN_CURRENT)
    yield from hand_over(walk, "holder")
    yield from d.type_pin(DEMO_ACTIVE_PIN)
    yield walk.wait(ViewName.DONE)
    yield from hand_over(walk, "admin")
    yield from walk.shoot("additional-done")
    yield d.remove_card()
    yield from back_home(walk)


def signature_certificate(walk: Walk) -> Steps:
    """A signature certificate for Ingrid's card: ID check, her authentication PIN, a new
    signature PIN twice, then key pair, issuance, install and test signature on the card."""
    d = walk.driver
    holder = demo_holder("ingrid", walk.today)
    yield from identity_checked(walk, "signature_certificate", holder)
    yield walk.wait(ViewName.PIN_CURRENT)
    yield from hand_over(walk, "holder")
    yield from d.type_pin(DEMO_ACTIVE_PIN)
    yield walk.wait(ViewName.PIN_CHOOSE)
    yield from d.type_pin(TOUR_SIGNATURE_PIN[:2], submit=False)
    yield from walk.shoot("signature-pin-choose")
    yield from d.type_pin(TOUR_SIGNATURE_PIN[2:])
    yield walk.wait(ViewName.PIN_CONFIRM)
    yield from d.type_pin(TOUR_SIGNATURE_PIN)
    yield walk.wait(ViewName.DONE)
    yield from hand_over(walk, "admin")
    yield from walk.shoot("signature-certificate-done")
    yield d.remove_card()
    yield from back_home(walk)


def renew_certificates(walk: Walk) -> Steps:
    """Renew Hugo's certificates, which end within 3 months: his two PINs, then new key
    pairs and certificates; the old ones go only after the new ones' test signatures."""
    d = walk.driver
    yield from to_card_record(walk, "renew_certificates", demo_holder("hugo", walk.today))
    yield walk.act("continue")
    yield walk.wait(ViewName.PIN_CURRENT)
    yield from hand_over(walk, "holder")
    yield from d.type_pin(DEMO_ACTIVE_PIN)
    yield walk.wait(ViewName.PIN_CURRENT, lambda v: v.message == "visit.pin.pin_signature")
    yield from d.type_pin(DEMO_SIGNATURE_PIN[:3], submit=False)
    yield from walk.shoot("renew-signature-pin")
    yield from d.type_pin(DEMO_SIGNATURE_PIN[3:])
    yield walk.wait(ViewName.DONE)
    yield from hand_over(walk, "admin")
    yield from walk.shoot("renew-certificates-done")
    yield d.remove_card()
    yield from back_home(walk)


def card_removed(walk: Walk) -> Steps:
    """The card is taken out during the document check: the visit ends and says so."""
    d = walk.driver
    yield from to_card_record(walk, "activation", demo_holder("bertil", walk.today))
    yield walk.act("continue")
    yield walk.wait(ViewName.DOCUMENT_CHECK)
    yield d.remove_card()
    yield walk.wait(ViewName.ERROR)
    yield from walk.shoot("card-removed")
    yield from back_home(walk)


def block(walk: Walk) -> Steps:
    """Block a card: reason, confirm, done."""
    d = walk.driver
    yield from choose(walk, "block")
    field = d.screen().ids.number  # a lost card's number is typed on the numeric keyboard
    keyboard = d.app.keyboard
    tap(field)
    yield d.until(lambda: bool(keyboard.shown))
    for digit in demo_holder("eva", walk.today).card_number[:6]:
        tap(keyboard.keys()[digit])
        yield d.frames(1)
    yield from walk.shoot("block-type-number")
    tap(keyboard.keys()["done"])
    yield d.until(lambda: not keyboard.shown)
    field.text = ""
    yield d.insert_card(demo_holder("eva", walk.today).card_number)
    yield walk.wait(ViewName.CARD_RECORD)
    yield walk.act("continue")
    yield walk.wait(ViewName.BLOCK_REASON)
    yield from walk.shoot("block-reason")
    tap(next(b for b in d.screen().ids.reasons.children if b.action == "lost"))
    yield d.frames(1)
    yield walk.wait(ViewName.BLOCK_CONFIRM)
    yield from walk.shoot("block-confirm")
    yield walk.act("confirm")
    yield walk.wait(ViewName.DONE)
    yield from walk.shoot("block-done")
    yield d.remove_card()
    yield from back_home(walk)


def idle_warning(walk: Walk) -> Steps:
    """The idle countdown over a visit screen (the idle clock is wound forward)."""
    d = walk.driver
    app = d.app
    yield from choose(walk, "activation")
    app.session.wind_idle_clock(app.settings.ui.idle_timeout_s - 9)
    yield d.until(lambda: app.idle_warning is not None and app.idle_warning.parent is not None)
    yield d.frames(3)
    yield from walk.shoot("idle-warning")
    tap(app.idle_warning.ids.stay)
    yield d.until(lambda: app.idle_warning.parent is None)
    yield walk.wait(ViewName.INSERT_CARD)
    yield walk.act("cancel")
    yield walk.wait(ViewName.ERROR)
    yield from back_home(walk)


def sign_out_and_fail(walk: Walk) -> Steps:
    """Sign out; a wrong administrator PIN; an administrator whose training has lapsed."""
    d = walk.driver
    yield walk.act("sign_out")
    yield walk.wait(ViewName.ADMIN_SIGN_IN)
    admin = demo_admins(walk.today)[0]
    yield d.insert_card(admin.card_number)
    yield walk.wait(ViewName.ADMIN_SIGN_IN, lambda v: v.params.get("stage") == "pin")
    yield from d.type_pin("000000")
    yield walk.wait(ViewName.ADMIN_SIGN_IN, lambda v: v.error is not None)
    yield from walk.shoot("admin-wrong-pin")
    yield d.remove_card()
    yield walk.wait(ViewName.ADMIN_SIGN_IN, lambda v: v.params.get("stage") == "insert")
    lapsed = demo_admins(walk.today)[1]
    yield d.insert_card(lapsed.card_number)
    yield walk.wait(ViewName.ADMIN_SIGN_IN, lambda v: v.params.get("stage") == "pin")
    yield from d.type_pin(lapsed.pin)
    yield walk.wait(ViewName.ADMIN_SIGN_IN, lambda v: v.error is not None)
    yield from walk.shoot("admin-not-authorised")
    yield d.remove_card()


def portal_down(walk: Walk) -> Steps:
    """The demo portal stops: the administrator's authorisation cannot be checked."""
    d = walk.driver
    running = getattr(d.app.services, "running_portal", None)
    if running is None:
        return
    running.stop()
    admin = demo_admins(walk.today)[0]
    yield d.insert_card(admin.card_number)
    yield walk.wait(ViewName.ADMIN_SIGN_IN, lambda v: v.params.get("stage") == "pin")
    yield from d.type_pin(admin.pin)
    yield walk.wait(ViewName.ADMIN_SIGN_IN, lambda v: v.error is not None)
    yield from walk.shoot("portal-unreachable")
    yield d.remove_card()


def certificate_tour(walk: Walk) -> Steps:
    """Only the certificate visits (a quicker walk of their screens)."""
    yield from sign_in(walk, shots=False)
    yield from signature_certificate(walk)
    yield from renew_certificates(walk)


def full_tour(walk: Walk) -> Steps:
    """Every screen of every visit, and the main error screens."""
    yield from sign_in(walk)
    yield from activation(walk)
    yield from refused_card(walk)
    yield from card_check(walk)
    yield from card_check(walk, "hugo", "card-info-expiring",  # before his renewal
                          "visit.card_info.certificates_ending")
    yield from change_pin_cancelled(walk)
    yield from pin_letter(walk)  # before the block: it needs Eva's card active
    yield from additional_certificate(walk)
    yield from signature_certificate(walk)
    yield from renew_certificates(walk)
    yield from block(walk)
    yield from card_removed(walk)
    yield from idle_warning(walk)
    yield from sign_out_and_fail(walk)
    yield from portal_down(walk)


# --- the card reader's own PIN pad (hardware.sim_pin_pad) -----------------------------


def reader_pad_sign_in(walk: Walk) -> Steps:
    """The administrator's PIN typed on the reader's keypad (the demo panel's)."""
    d = walk.driver
    admin = demo_admins(walk.today)[0]
    yield walk.wait(ViewName.ADMIN_SIGN_IN)
    yield d.insert_card(admin.card_number)
    yield d.until_view(ViewName.ADMIN_SIGN_IN, lambda v: bool(v.params.get("waiting")), idle=False)
    yield d.until(lambda: bool(d.app.demo_panel.pad_prompt))
    yield from walk.shoot("reader-pad-admin")
    yield from d.type_on_reader(admin.pin)
    yield walk.wait(ViewName.HOME)
    yield d.remove_card()


def reader_pad_activation(walk: Walk, holder_key: str = "anna") -> Steps:
    """Activation with every PIN on the reader's keypad, a mismatch on the way."""
    d = walk.driver
    holder = demo_holder(holder_key, walk.today)
    yield from identity_checked(walk, "activation", holder)
    yield d.until_view(ViewName.PIN_CHOOSE, lambda v: bool(v.params.get("waiting")), idle=False)
    yield from hand_over(walk, "holder")
    yield d.until(lambda: bool(d.app.demo_panel.pad_prompt))
    yield from walk.shoot("reader-pad-choose")
    yield from d.type_on_reader(GOOD_PIN)
    yield from d.type_on_reader(GOOD_PIN[:5] + "0")
    yield walk.wait(ViewName.PIN_CHOOSE, lambda v: v.error is not None)
    yield from walk.shoot("reader-pad-mismatch")
    yield walk.act("pad_start")
    yield from d.type_on_reader(GOOD_PIN)
    yield from d.type_on_reader(GOOD_PIN)
    yield d.until_view(ViewName.SIGN_RECEIPT, lambda v: bool(v.params.get("waiting")), idle=False)
    yield walk.act("accept_receipt")  # read, then typed on the reader (already asking)
    yield d.until(lambda: not d.screen().reading)
    yield from walk.shoot("reader-pad-sign")
    yield from d.type_on_reader(GOOD_PIN)
    # This message only once the portal has the card Aktiv (not queued, not refused).
    yield walk.wait(ViewName.DONE, lambda v: v.message == "visit.done.activation")
    yield from hand_over(walk, "admin")
    yield from walk.shoot("reader-pad-done")
    yield d.remove_card()
    yield from back_home(walk)


def reader_pad_change_pin(walk: Walk, holder_key: str = "eva") -> Steps:
    """PIN change on the reader's keypad: the card checks the current PIN first (a wrong
    one is told and typed again there), then the reader asks it once more and the new one
    twice."""
    d = walk.driver
    yield from to_card_record(walk, "change_pin", demo_holder(holder_key, walk.today))
    yield walk.act("continue")
    yield d.until_view(ViewName.PIN_CURRENT, lambda v: bool(v.params.get("waiting")), idle=False)
    yield from hand_over(walk, "holder")
    yield d.until(lambda: bool(d.app.demo_panel.pad_prompt))
    yield from walk.shoot("reader-pad-current")
    yield from d.type_on_reader(WRONG_CURRENT_PIN)
    yield walk.wait(ViewName.PIN_CURRENT, lambda v: v.error is not None)
    yield from walk.shoot("reader-pad-current-wrong")
    yield walk.act("pad_start")
    yield from d.type_on_reader(DEMO_ACTIVE_PIN)
    yield d.until_view(ViewName.PIN_CHOOSE, lambda v: bool(v.params.get("waiting")), idle=False)
    yield d.until(lambda: bool(d.app.demo_panel.pad_prompt))
    yield from walk.shoot("reader-pad-change")
    for pin in (DEMO_ACTIVE_PIN, GOOD_PIN, GOOD_PIN):  # old, new, new
        yield from d.type_on_reader(pin)
    yield walk.wait(ViewName.DONE, lambda v: v.message == "visit.done.change_pin")
    yield from hand_over(walk, "admin")
    yield d.remove_card()
    yield from back_home(walk)


def reader_pad_tour(walk: Walk) -> Steps:
    """The screens that differ when the reader has its own PIN pad."""
    yield from reader_pad_sign_in(walk)
    yield from reader_pad_activation(walk)
    yield from reader_pad_change_pin(walk)


def demo_visit(walk: Walk) -> Steps:
    """The autopilot: sign in and activate Anna's card, with screenshots."""
    yield from sign_in(walk)
    yield from activation(walk, mistakes=False)
