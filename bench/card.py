"""Card benchmarks: insert/removal detection through real pcscd, token operations on SoftHSM2.

Run: .venv/bin/python bench/card.py [--cycles 20] [--ops 10] [--json] [--smoke]
Prints median and p95 per measurement (`--json`: the same figures as one JSON object, with
the run's parameters). Needs pcscd + vsmartcard-vpcd and softhsm2; a part whose tools are
missing is reported and skipped (in JSON: its "skipped" reason).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from hardware.emulator import EmulatedCard, VpcdEmulator
from hardware.emulator.pcscd import PcscdProcess
from hardware.pcsc import PcscReader
from hardware.pkcs11 import Pkcs11Module, Pkcs11TokenProvider
from hardware.pkcs11.module import find_softhsm_module
from hardware.sim import build_demo_hardware
from hardware.sim.cast import SITHS_GEN3_ATR
from hardware.sim.democa import DemoCA
from hardware.sim.softhsm import (
    init_token,
    random_pin,
    store_credentials,
    token_label,
    write_softhsm_conf,
)
from kiosk.errors import KioskError, WrongPin
from kiosk.model import TrustLevel
from kiosk.ports import CardEventKind
from kiosk.settings import DEFAULT_POLICY_LEVELS, HardwareSettings, Settings

CARD = "9752210000000001"
SO_PIN = "SO-00000001"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


Say = Callable[[str], None]


def report(name: str, seconds: list[float], say: Say) -> dict[str, Any]:
    """Print one measurement's line; return its figures (n, median and p95 in ms)."""
    ms = [s * 1000 for s in seconds]
    median = statistics.median(ms)
    say(f"  {name:<34} n={len(ms):<3} median {median:8.1f} ms   p95 {p95(ms):8.1f} ms")
    return {"n": len(ms), "median_ms": round(median, 3), "p95_ms": round(p95(ms), 3)}


def wait_kind(reader: PcscReader, kind: CardEventKind, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = reader.wait_for_change(deadline - time.monotonic())
        if event is not None and event.kind is kind:
            return
    raise TimeoutError(f"no {kind} event")


def bench_pcsc(cycles: int, say: Say) -> dict[str, Any]:
    say(f"Card presence through real pcscd + vpcd ({cycles} insert/remove cycles)")
    try:
        pcscd = PcscdProcess()
        pcscd.start(wait_for_other_s=30)
    except KioskError as exc:
        say(f"  skipped: {exc.detail}")
        return {"skipped": exc.detail}
    figures: dict[str, Any] = {}
    emulator = VpcdEmulator(port=pcscd.port)
    reader = PcscReader.from_settings(HardwareSettings(reader_name="Kiosk vpcd 00 00"))
    try:
        while reader.wait_for_change(0.3) is not None:
            pass
        inserted, removed, identify = [], [], []
        card = EmulatedCard(SITHS_GEN3_ATR, CARD)
        for _ in range(cycles):
            start = time.perf_counter()
            emulator.insert(card)
            wait_kind(reader, CardEventKind.INSERTED)
            inserted.append(time.perf_counter() - start)
            start = time.perf_counter()
            reader.identify()
            identify.append(time.perf_counter() - start)
            start = time.perf_counter()
            emulator.remove()
            wait_kind(reader, CardEventKind.REMOVED)
            removed.append(time.perf_counter() - start)
        figures["insert_detected"] = report("insert detected", inserted, say)
        figures["removal_detected"] = report("removal detected", removed, say)
        figures["identify"] = report("identify (ATR + card number APDUs)", identify, say)
        start = time.perf_counter()
        pcscd.stop()
        wait_kind(reader, CardEventKind.READER_LOST)
        lost = time.perf_counter() - start
        start = time.perf_counter()
        pcscd.start()
        wait_kind(reader, CardEventKind.READER_FOUND, timeout=10)
        figures["pcscd_stop_reader_lost"] = report("pcscd stop -> reader lost", [lost], say)
        figures["pcscd_start_reader_found"] = report(
            "pcscd start -> reader found", [time.perf_counter() - start], say)
    finally:
        emulator.close()
        reader.close()
        pcscd.stop()
    return figures


def bench_tokens(ops: int, say: Say) -> dict[str, Any]:
    say(f"Token operations on SoftHSM2 ({ops} each)")
    path = find_softhsm_module()
    if path is None:
        say("  skipped: SoftHSM2 is not installed")
        return {"skipped": "SoftHSM2 is not installed"}
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        ca = DemoCA.create(date.today())
        person = ca.issue_person(
            "Anna", "Andersson", "SE2321000016-A1B2", "199003152387", TrustLevel.LOA3, date.today()
        )
        conf = write_softhsm_conf(Path(tmp) / "softhsm")
        module = Pkcs11Module.load(path, conf)
        pin = random_pin()
        init_token(conf, token_label(CARD), SO_PIN, pin)
        module.reinitialize()
        store_credentials(module, token_label(CARD), pin, person)
        provider = Pkcs11TokenProvider(
            module,
            card_number_of=lambda _r: CARD,
            policy_levels=DEFAULT_POLICY_LEVELS,
            trust_anchors=[ca.root_der],
        )
        token = provider.open()
        token.set_initial_pin(SO_PIN, "482915")
        pins = ["482915", "730284"]

        def change() -> None:
            token.change_pin(pins[0], pins[1])
            pins.reverse()

        def wrong() -> None:
            try:
                token.sign_receipt("000000", b"x")
            except WrongPin:
                return
            raise AssertionError("wrong PIN accepted")

        measured: list[tuple[str, str, Callable[[], object]]] = [
            ("open_token", "open token (find by card number)", provider.open),
            ("pin_status", "pin status", token.pin_status),
            ("certificates", "certificates (+ chain validation)", token.certificates),
            ("admin_sign_in", "admin sign-in (login + cert)",
             lambda: token.admin_sign_in(pins[0])),
            ("first_pin", "first PIN (C_InitPIN as SO)",
             lambda: token.set_initial_pin(SO_PIN, pins[0])),
            ("change_pin", "change PIN (C_SetPIN)", change),
            ("wrong_pin", "wrong PIN (+ reinitialize)", wrong),
            ("unlock", "unlock (SO + C_InitPIN)", lambda: token.unlock_pin(SO_PIN, pins[0])),
            ("sign_receipt", "sign receipt (login + RSA sign)",
             lambda: token.sign_receipt(pins[0], b"kvittens")),
        ]
        for key, name, action in measured:
            times = []
            for _ in range(ops):
                start = time.perf_counter()
                action()
                times.append(time.perf_counter() - start)
            figures[key] = report(name, times, say)
    return figures


def bench_demo_start(say: Say) -> dict[str, Any]:
    say("Demo hardware start (cast of 9 cards, SoftHSM2 tokens)")
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key, label in (("first_start", "first start (CA, keys, tokens)"),
                           ("second_start", "second start (reuse)")):
            start = time.perf_counter()
            build_demo_hardware(Path(tmp), date.today(), Settings()).close()
            figures[key] = report(label, [time.perf_counter() - start], say)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--ops", type=int, default=10)
    parser.add_argument("--smoke", action="store_true",
                        help="a few iterations only: proves the bench still runs (tests)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.smoke:
        args.cycles, args.ops = 2, 2
    say: Say = (lambda _line: None) if args.json else print
    figures: dict[str, Any] = {
        "cycles": args.cycles, "ops": args.ops, "smoke": args.smoke,
        "cpus": os.cpu_count(), "load_average": os.getloadavg()[0],
    }
    figures["pcsc"] = bench_pcsc(args.cycles, say)
    figures["tokens"] = bench_tokens(args.ops, say)
    figures["demo_start"] = bench_demo_start(say)
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
