"""build_demo_hardware: the simulated reader, deck and card tokens for `kiosk --demo`."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from hardware.certs import load_trust_anchors
from hardware.sim.cast import CardOwner, SimCard, demo_cards
from hardware.sim.deck import QuirkyToken, SimDeck, SimTokenProvider
from hardware.sim.democa import DemoCA, IssuedKey, PersonCredentials, load_pair
from hardware.sim.material import fingerprint, keep, restore, taking
from hardware.sim.memtoken import memory_token
from hardware.sim.pinpad import SimulatedPinPad
from hardware.sim.reader import MemoryReader
from kiosk.errors import ConfigError, KioskError, ReaderUnavailable, TokenError
from kiosk.pki import write_certificate, write_private_key
from kiosk.ports import CardDeck, CardReader, TokenProvider
from kiosk.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class DemoHardware:
    """The demo's reader, token provider and deck; ``close`` stops what they started."""

    reader: CardReader
    tokens: TokenProvider
    deck: CardDeck
    reader_backend: str
    token_backend: str
    trust_anchors: list[bytes]
    pin_pad: SimulatedPinPad | None = None  # the reader's own keypad (hardware.sim_pin_pad)
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Take the card out and stop the emulator, if one runs."""
        for closer in reversed(self._closers):
            try:
                closer()
            except KioskError as exc:
                log.warning("closing demo hardware: %s", exc.detail)
        self._closers.clear()


def _person_credentials(
    ca: DemoCA, card: SimCard, owner: CardOwner, directory: Path, issued: list[str] | None = None
) -> PersonCredentials:
    """The card's keys and certificates, issued once and kept under ``directory``; a card
    issued now is added to ``issued``."""
    folder = directory / card.card_number
    names = ("auth", "sign") + (("additional",) if card.additional_organisation else ())
    # the certificates name the owner and the issuing CA: if either changed they are stale
    stamp = fingerprint(
        [repr(owner), str(ca.issuing.cert.serial_number), str(card.card_number)]
        + ([card.additional_organisation] if card.additional_organisation else [])
    )
    stamp_file = folder / "issued-for"
    if (
        all((folder / f"{n}.pem").exists() and (folder / f"{n}-key.pem").exists() for n in names)
        and stamp_file.exists()
        and stamp_file.read_text() == stamp
    ):
        pairs = [_read_pair(folder, n) for n in names]
        extra = pairs[2] if len(pairs) > 2 else None
        return PersonCredentials(pairs[0], pairs[1], ca.issuing.cert, extra)
    creds = ca.issue_person(
        owner.given_names,
        owner.surname,
        owner.hsa_id,
        owner.personnummer,
        owner.trust_level,
        owner.valid_from,
        additional_organisation=card.additional_organisation,
    )
    folder.mkdir(parents=True, exist_ok=True)
    made = [creds.authentication, creds.signature]
    if creds.additional is not None:
        made.append(creds.additional)
    for name, pair in zip(names, made, strict=True):
        write_private_key(folder / f"{name}-key.pem", pair.key)
        write_certificate(folder / f"{name}.pem", pair.cert)
    stamp_file.write_text(stamp)
    if issued is not None:
        issued.append(card.card_number)
    return creds


def _read_pair(folder: Path, name: str) -> IssuedKey:
    return load_pair(folder / f"{name}-key.pem", folder / f"{name}.pem")


def build_demo_hardware(
    state_dir: Path, today: date, settings: Settings, material_dir: Path | None = None
) -> DemoHardware:
    """Simulated reader + deck of the demo cast + SoftHSM2 (or in-memory) card tokens.

    With ``material_dir`` the CA, the cast's keys and fresh SoftHSM2 tokens are copied from
    there when this state directory has none, and kept there when made (hardware.sim.material).
    """
    hw = settings.hardware
    cards = demo_cards(today)
    democa_dir = state_dir / "democa"

    def now() -> datetime:
        return datetime.now(UTC)

    with taking(material_dir):  # runs starting together make the material once
        restored = material_dir is not None and restore(material_dir / "democa", democa_dir)
        try:
            ca, people, made = _ca_and_people(democa_dir, today, cards)
        except ValueError as exc:  # a key or certificate cut short (the cache is a copy)
            if material_dir is None or not restored:
                raise
            log.warning("demo material %s is damaged (%s): made again", material_dir, exc)
            shutil.rmtree(democa_dir)
            shutil.rmtree(material_dir / "democa", ignore_errors=True)
            restored = False
            ca, people, made = _ca_and_people(democa_dir, today, cards)
        if material_dir is not None and (made or not restored):
            # a warm start (restored from the cache, nothing made) leaves the cache as it is
            _keep_current(democa_dir, material_dir / "democa")
        anchors = [ca.root_der, *load_trust_anchors(hw.trust_anchors)]
        open_inner, token_backend = _token_backend(
            state_dir, settings, cards, people, anchors, now, material_dir
        )
    closers: list[Callable[[], None]] = []
    reader: CardReader
    place: Callable[[SimCard | None], None]
    place_admin: Callable[[SimCard | None], None] | None = None
    if hw.reader == "memory":
        memory = MemoryReader(hw.atr_table, two_readers=bool(hw.admin_reader))
        reader, place, reader_backend = memory, memory.place, "memory"
        if hw.admin_reader:  # the administrator's card gets a reader of its own
            place_admin = memory.place_admin
    elif hw.reader == "emulated":
        reader, place, closer = _emulated_reader(settings)
        closers.append(closer)
        reader_backend = "emulated"
    else:
        raise ConfigError(
            f"hardware.reader {hw.reader!r} has no simulated cards; the demo uses "
            "'memory' or 'emulated'",
            path="hardware.reader",
        )
    pad = _reader_pin_pad(settings)
    if pad is not None:
        closers.append(pad.close)
    deck = SimDeck(cards, _aborting_pin_entry(place, pad), place_admin)
    closers.append(deck.remove)
    closers.append(deck.remove_admin)
    tokens = SimTokenProvider(deck, open_inner, settings.pin_policy, pad)
    log.info(
        "demo hardware: %s reader%s, %s card tokens",
        reader_backend,
        " with its own PIN pad" if pad else "",
        token_backend,
    )
    return DemoHardware(
        reader,
        tokens,
        deck,
        reader_backend,
        token_backend,
        anchors,
        pin_pad=pad,
        _closers=closers,
    )


def _aborting_pin_entry(
    place: Callable[[SimCard | None], None], pad: SimulatedPinPad | None
) -> Callable[[SimCard | None], None]:
    """``place``, and a card going in or out ends a PIN entry on the pad, as a reader does."""
    if pad is None:
        return place

    def place_card(card: SimCard | None) -> None:
        place(card)
        pad.cancel()  # ignored when the pad asks nothing

    return place_card


def _reader_pin_pad(settings: Settings) -> SimulatedPinPad | None:
    """The simulated reader's keypad, when it has one and the kiosk may use it.

    SimToken asks it for every PIN of None, whatever the token backend (SoftHSM2 or
    memory): simpler and sturdier than the C PKCS#11 shim, which the tests use instead.
    """
    hw = settings.hardware
    if not (hw.sim_pin_pad and hw.use_reader_pin_pad):
        return None
    return SimulatedPinPad(length=settings.pin_policy.length)


def _emulated_reader(
    settings: Settings,
) -> tuple[CardReader, Callable[[SimCard | None], None], Callable[[], None]]:
    from hardware.emulator import EmulatedCard, VpcdEmulator
    from hardware.pcsc import PcscReader

    hw = settings.hardware
    emulator = VpcdEmulator(hw.vpcd_host, hw.vpcd_port)
    pcsc = PcscReader.from_settings(hw)
    try:
        pcsc.readers()
    except ReaderUnavailable as exc:
        raise ReaderUnavailable(
            "the emulated reader needs pcscd with the vsmartcard vpcd reader "
            f"(install pcscd and vsmartcard-vpcd, start pcscd): {exc.detail}"
        ) from None

    def place(card: SimCard | None) -> None:
        if card is None:
            emulator.remove()
        else:
            emulator.insert(EmulatedCard(card.atr, card.readable_number))

    def close() -> None:
        emulator.close()
        pcsc.close()

    return pcsc, place, close


def _ca_and_people(
    democa_dir: Path, today: date, cards: tuple[SimCard, ...]
) -> tuple[DemoCA, dict[str, PersonCredentials], bool]:
    """The demo CA and the cast's credentials kept in ``democa_dir`` (made where missing or
    stale), and whether any was made now."""
    ca_before = _ca_stamp(democa_dir)
    ca = DemoCA.load_or_create(democa_dir, today)
    issued: list[str] = []
    people = {
        c.card_number: _person_credentials(ca, c, c.owner, democa_dir / "cards", issued)
        for c in cards
        if c.owner is not None
    }
    return ca, people, bool(issued) or _ca_stamp(democa_dir) != ca_before


def _keep_current(made: Path, cached: Path) -> None:
    """Replace the cached copy of ``made`` when it differs (material made again, stale)."""
    if cached.is_dir() and _tree_stamp(cached) == _tree_stamp(made):
        return
    shutil.rmtree(cached, ignore_errors=True)
    keep(made, cached)


def _ca_stamp(folder: Path) -> str:
    """Which CA ``folder`` holds (its two certificates); "" when it holds none."""
    try:
        return fingerprint(
            (folder / f"{name}.pem").read_bytes().hex() for name in ("root", "issuing")
        )
    except OSError:
        return ""


def _tree_stamp(folder: Path) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return fingerprint(f"{p.relative_to(folder)}:{p.read_bytes().hex()}" for p in files)


def _token_backend(
    state_dir: Path,
    settings: Settings,
    cards: tuple[SimCard, ...],
    people: dict[str, PersonCredentials],
    anchors: list[bytes],
    now: Callable[[], datetime],
    material_dir: Path | None = None,
) -> tuple[Callable[[SimCard], QuirkyToken], str]:
    hw = settings.hardware
    backend = hw.token
    if backend in ("softhsm", "pkcs11"):
        from hardware.pkcs11.module import find_softhsm_module

        module_path = hw.pkcs11_module or find_softhsm_module()
        if module_path is None:
            log.warning(
                "SoftHSM2 is not installed: the demo cards use IN-MEMORY tokens with software "
                "keys (install softhsm2 for PKCS#11 tokens)"
            )
        else:
            return _softhsm_backend(
                state_dir, settings, module_path, cards, people, anchors, now, material_dir
            )
    elif backend != "memory":
        raise ConfigError(
            f"hardware.token {hw.token!r} is not softhsm, pkcs11 or memory", path="hardware.token"
        )
    else:
        log.warning("the demo cards use IN-MEMORY tokens with software keys (hardware.token)")
    memory_tokens = {
        c.card_number: memory_token(c, people[c.card_number], settings, anchors, now)
        for c in cards
        if c.owner is not None
    }
    return (lambda card: memory_tokens[card.card_number]), "memory"


def _softhsm_backend(
    state_dir: Path,
    settings: Settings,
    module_path: str,
    cards: tuple[SimCard, ...],
    people: dict[str, PersonCredentials],
    anchors: list[bytes],
    now: Callable[[], datetime],
    material_dir: Path | None = None,
) -> tuple[Callable[[SimCard], QuirkyToken], str]:
    from hardware.pkcs11 import Pkcs11Module, Pkcs11TokenProvider
    from hardware.sim.softhsm import (
        init_token,
        random_pin,
        reset_user_pin,
        signature_token_label,
        store_credentials,
        store_signature_credentials,
        token_label,
        token_labels,
        write_softhsm_conf,
    )

    hw = settings.hardware
    softhsm_dir = Path(hw.softhsm_dir) if hw.softhsm_dir else state_dir / "softhsm"
    template: Path | None = None
    restored = False
    if material_dir is not None and not hw.softhsm_dir:
        # fresh tokens of exactly these cards and certificates, as they were just made
        # (the cards' PINs are in the fingerprint: a copy holds the cast's PINs already)
        template = material_dir / "softhsm" / fingerprint(
            [repr(c) for c in cards if c.owner is not None]
            + [p.authentication.cert_der.hex() + p.signature.cert_der.hex()
               + (p.additional.cert_der.hex() if p.additional else "")
               for _, p in sorted(people.items())]
        )
        restored = restore(template, softhsm_dir)
    conf = write_softhsm_conf(softhsm_dir)
    module = Pkcs11Module.load(module_path, conf)
    try:
        existing = token_labels(module)
    except TokenError as exc:  # a token file cut short in the cache (the copy is the cache's)
        if template is None or not restored:
            raise
        log.warning("demo tokens %s are damaged (%s): made again", template, exc.detail)
        shutil.rmtree(softhsm_dir)
        shutil.rmtree(template, ignore_errors=True)
        restored = False
        conf = write_softhsm_conf(softhsm_dir)
        module.reinitialize()  # the same conf path: SoftHSM2 rescans the emptied folder
        existing = token_labels(module)
    created = False
    for card in cards:
        if card.owner is None:
            continue
        label = token_label(card.card_number)
        creds = people[card.card_number]
        if label not in existing:
            pin = card.pin or random_pin()
            init_token(conf, label, card.so_pin, pin)
            module.reinitialize()
            store_credentials(module, label, pin, creds, with_signature=not card.two_pins)
            created = True
            log.info("created the SoftHSM2 token of demo card %s", card.card_number)
        elif card.pin is not None and not restored:
            # tokens a run before this one used: put the cast's PIN back (a copy of the
            # kept tokens has it; setting it again cost ~18 ms of SoftHSM2's PIN hashing
            # per token, 9 tokens, on every warm start)
            reset_user_pin(module, label, card.so_pin, card.pin)
        if not card.two_pins:
            continue
        signature_label = signature_token_label(card.card_number)
        if signature_label not in existing:
            # the signature-PIN token: same SO credential; its key and certificate if any
            pin = card.signature_pin or random_pin()
            init_token(conf, signature_label, card.so_pin, pin)
            module.reinitialize()
            if card.signature_certificate:
                store_signature_credentials(module, signature_label, pin, creds)
            created = True
        elif card.signature_pin is not None and not restored:
            reset_user_pin(module, signature_label, card.so_pin, card.signature_pin)
    if template is not None and created and len(existing) == 0:
        keep(softhsm_dir, template)

    def open_inner(card: SimCard) -> QuirkyToken:
        provider = Pkcs11TokenProvider(
            module,
            card_number_of=lambda _reader: card.card_number,
            profile=hw.card_profile,
            pin_policy=settings.pin_policy,
            policy_levels=hw.policy_levels,
            trust_anchors=anchors,
            now=now,
            labels_carry_number=True,
            use_pin_pad=hw.use_reader_pin_pad,
        )
        module.use_softhsm_conf(conf)
        return provider.open()

    return open_inner, "softhsm"
