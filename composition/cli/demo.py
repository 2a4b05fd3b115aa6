"""`kioskctl demo visit`: a scripted, headless, end-to-end visit (activation, or
``--visit pin-letter``: a PIN/PUK letter ordered after the ID check;
``--visit signature-certificate``: Ingrid's card gets a signature certificate under a new
signature PIN; ``--visit renew-certificates``: Hugo's ending certificates are renewed).

The reference portal runs on loopback (seeded with the demo cast), the holder's card is
simulated with a SoftHSM2 token, the document scan and the PINs are scripted. Each step
is printed (never a PIN digit), then the card's status read back from the portal.
With ``--portal-down`` the portal stops right after handing out the activation ticket:
the visit completes locally, the result waits in the outbox, and a flush after the
portal is back makes the card Aktiv.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from kiosk import demo_cast
from kiosk.errors import KioskError
from kiosk.i18n import LANGUAGES, describe_error, translate
from kiosk.model import AdminAuthorisation, DocumentEvidence, Provenance
from kiosk.paths import demo_scratch_dir
from kiosk.visit.contract import Step
from kiosk.visit.effects import AdminSignIn, AuthoriseAdmin, Effect, RecordResult, StartActivation
from kiosk.visit.events import (
    AdminAuthorised,
    CardInserted,
    Chosen,
    Continue,
    DocumentConfirmed,
    DocumentScanned,
    DocumentTyped,
    EffectFailed,
    Event,
    Outcome,
    PinDigit,
    PinSubmit,
)
from kiosk.visit.secret import Secret

# The holder's scripted PIN: passes the PIN policy for every demo holder.
DEMO_HOLDER_PIN = "482916"
# The scripted visits, and the demo holder each uses unless --holder names another.
VISITS = {
    "activation": "anna", "pin-letter": "eva", "signature-certificate": "ingrid",
    "renew-certificates": "hugo", "additional-certificate": "jonas",
}
# The signature PIN the signature-certificate visit's holder chooses (the PIN rules pass).
DEMO_NEW_SIGNATURE_PIN = "736185"
# The PINs (authentication, signature) a visit's script leaves on the card, where they are
# not the cast's: the report logs in with them to see each certificate's private key.
VISIT_PINS: dict[str, tuple[str | None, str | None]] = {
    "activation": (DEMO_HOLDER_PIN, None),
    "signature-certificate": (None, DEMO_NEW_SIGNATURE_PIN),
}
EXIT_OK = 0
EXIT_FAILED = 1


@dataclass
class DemoReport:
    """What the demo did, for --json and for tests."""

    holder: str
    card_number: str
    visit: str = "activation"
    steps: list[dict[str, Any]] = field(default_factory=list)
    document_source: str = ""  # "sample_scan" (bundled image through the scanner) or "demo_cast"
    final_view: str = ""
    final_message: str = ""
    status_after_visit: str = ""
    queued: bool = False
    outbox_after_visit: dict[str, Any] = field(default_factory=dict)
    status_after_flush: str | None = None
    final_status: str = ""
    audit_ok: bool = False
    audit_entries: int = 0
    pin_letters_ordered: int | None = None  # pin-letter: orders the portal holds for the card
    # the card's certificates read back from its token after the visit (demo_certificates)
    card_certificates: list[dict[str, Any]] = field(default_factory=list)
    # certificate visits: what the portal issued for the card, with its state (valid,
    # replaced, revoked) after the visit and any flush
    portal_certificates: list[dict[str, Any]] | None = None
    elapsed_s: float = 0.0
    state_dir: str = ""

    def as_json(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return dict(self.__dict__)


def register(subparsers: Any) -> None:
    """Add ``demo`` and its ``visit`` subcommand."""
    parser = subparsers.add_parser("demo", help="headless demo runs")
    sub = parser.add_subparsers(dest="demo_command", required=True)
    visit = sub.add_parser("visit", help="a scripted end-to-end visit (default: activation)")
    visit.add_argument("--visit", choices=sorted(VISITS), default="activation",
                       help="which visit (default activation), each with its cast holder: "
                       + ", ".join(f"{name} ({holder})" for name, holder in VISITS.items()))
    visit.add_argument("--json", action="store_true", help="print one JSON report")
    visit.add_argument("--portal-down", action="store_true",
                       help="the portal goes down after the ticket; flush once it is back")
    visit.add_argument("--holder", default=None,
                       help="demo holder (anna, bertil, ...); default anna (pin-letter: eva, "
                       "signature-certificate: ingrid, renew-certificates: hugo)")
    visit.add_argument("--state-dir", help="keep the kiosk state here (default: a temp dir, "
                       "removed at exit)")
    visit.add_argument("--keep-state", action="store_true",
                       help="keep the temp state dir (outbox, audit log) after the visit")
    visit.add_argument("--lang", choices=LANGUAGES, default="sv")
    visit.set_defaults(func=_visit)


def document_evidence(holder: demo_cast.DemoHolder) -> DocumentEvidence:
    """The holder's ID document facts from the demo cast, used when the bundled sample does
    not scan: they stand in for the administrator typing them, so every fact is TYPED
    (the audit and the portal never see them claimed as scanned)."""
    digits = holder.personnummer
    birth = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]) % 60)
    facts = ("doc_type", "expiry", "birth_date", "personnummer", "document_number")
    return DocumentEvidence(
        doc_type=holder.document,
        expiry=holder.document_expiry,
        birth_date=birth,
        personnummer=holder.personnummer,
        document_number=holder.document_number,
        how=dict.fromkeys(facts, Provenance.TYPED),
    )


def scanned_evidence(holder: demo_cast.DemoHolder, settings: Any) -> DocumentEvidence | None:
    """The holder's bundled sample document read through the real scanner (MRZ), or None
    when there is no sample with a machine-readable zone or it does not read cleanly."""
    from importlib import resources

    import cv2

    from hardware.scan.scanner import FrameScanner
    from kiosk.document.evidence import evidence_from_mrz
    from kiosk.identity.mrz import parse_mrz, repair_mrz
    from kiosk.ports import Frame

    folder = resources.files("hardware.scan").joinpath("samples")
    samples = sorted(p.name for p in folder.iterdir() if p.name.startswith(f"{holder.key}_"))
    if not samples or not settings.scanner.mrz:
        return None
    image = cv2.imread(str(folder.joinpath(samples[0])), cv2.IMREAD_COLOR)
    if image is None:
        return None
    scanner = FrameScanner(settings.scanner)
    try:
        reading = scanner.mrz(Frame(image, time.time(), 0))
    finally:
        scanner.close()
    if reading is None:
        return None
    try:
        result = parse_mrz(reading.lines)
        if not result.valid:
            repaired = repair_mrz(reading.lines)  # undoes OCR confusions only when unique
            if repaired is None:
                return None
            result = repaired.result
        evidence = evidence_from_mrz(result)
    except KioskError:
        return None
    return evidence if evidence.personnummer == holder.personnummer else None


def activation_script(reader: str, evidence: DocumentEvidence, pin: str) -> list[Event]:
    """The inputs of an activation visit: card, record, document, PIN twice, receipt PIN.

    The document comes as scanned only when every fact of ``evidence`` was scanned;
    otherwise as typed, so its provenance stays what it is.
    """
    digits: list[Event] = [PinDigit(d) for d in pin]
    scanned = bool(evidence.how) and all(
        how is Provenance.SCANNED for how in evidence.how.values()
    )
    return [
        CardInserted(reader),
        Continue(),
        DocumentScanned(evidence) if scanned else DocumentTyped(evidence),
        DocumentConfirmed(photo=True, age=True),
        *digits, PinSubmit(),
        *digits, PinSubmit(),
        *digits, PinSubmit(),
    ]


def describe_step(event: Event | None, step: Step) -> dict[str, Any]:
    """One printable line of the transcript: never event data (a PIN digit is data)."""
    line: dict[str, Any] = {"view": step.view.name.value}
    if event is not None:
        line["event"] = event.kind
        if isinstance(event, Outcome):
            line["effect"] = event.effect.kind.value
            if isinstance(event, EffectFailed):
                line["error"] = event.error.code
    if step.view.error is not None:
        line["error_message"] = step.view.error.message
        line["next_step"] = step.view.error.next_step
        line["error_params"] = _printable(step.view.error.params)
    if step.view.message:
        line["message"] = step.view.message
        line["params"] = _printable(step.view.params)
    return line


def _printable(params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters a transcript line may carry: plain strings and numbers."""
    return {k: v for k, v in params.items() if isinstance(v, str | int | float)}


def sign_in_admin(services: Any, admin: demo_cast.DemoAdmin) -> AdminAuthorisation:
    """The administrator signs in with their own card and PIN, then is authorised."""
    runner = services.effect_runner()
    services.deck.insert(admin.card_number)
    reader = services.reader.readers()[0]
    signed = runner.run(AdminSignIn(reader, Secret(admin.pin)))
    if isinstance(signed, EffectFailed):
        raise signed.error
    authorised = runner.run(AuthoriseAdmin(admin.hsa_id))
    services.deck.remove()
    if isinstance(authorised, EffectFailed):
        raise authorised.error
    if not isinstance(authorised, AdminAuthorised):
        raise KioskError("the portal's authorisation is missing")
    return authorised.authorisation


def run_activation(
    services: Any,
    holder: demo_cast.DemoHolder,
    pin: str = DEMO_HOLDER_PIN,
    on_line: Callable[[dict[str, Any]], None] | None = None,
    after: Mapping[type[Effect], Callable[[], None]] | None = None,
    evidence: DocumentEvidence | None = None,
) -> Step:
    """Run the scripted activation visit on ``services``; the final step.

    ``after`` maps an effect class to a hook run right after that effect succeeded
    (the portal going down after the ticket; crash tests' kill points).
    """
    from kiosk.visit.activation import ActivationFlow

    return run_visit(
        services, holder, ActivationFlow,
        lambda reader: activation_script(reader, evidence or document_evidence(holder), pin),
        on_line, after,
    )


def pin_letter_script(reader: str, evidence: DocumentEvidence) -> list[Event]:
    """The inputs of a PIN/PUK letter visit: card, record, document, confirmed."""
    return activation_script(reader, evidence, "")[:4]


def run_pin_letter(
    services: Any,
    holder: demo_cast.DemoHolder,
    on_line: Callable[[dict[str, Any]], None] | None = None,
    after: Mapping[type[Effect], Callable[[], None]] | None = None,
    evidence: DocumentEvidence | None = None,
) -> Step:
    """Run the scripted PIN/PUK letter visit on ``services``; the final step."""
    from kiosk.visit.pin_letter import PinLetterFlow

    return run_visit(
        services, holder, PinLetterFlow,
        lambda reader: pin_letter_script(reader, evidence or document_evidence(holder)),
        on_line, after,
    )


def signature_certificate_script(
    reader: str, evidence: DocumentEvidence, pin: str, signature_pin: str
) -> list[Event]:
    """The inputs of a signature-certificate visit: card, record, document, the
    authentication PIN, the new signature PIN twice."""
    typed = [*(PinDigit(d) for d in pin), PinSubmit()]
    chosen = [*(PinDigit(d) for d in signature_pin), PinSubmit()]
    return [*activation_script(reader, evidence, "")[:4], *typed, *chosen, *chosen]


def renew_certificates_script(reader: str, pin: str, signature_pin: str) -> list[Event]:
    """The inputs of a renewal: card, record, the authentication PIN, the signature PIN
    (asked only when a certificate under its own signature PIN is renewed)."""
    typed = [*(PinDigit(d) for d in pin), PinSubmit()]
    signed = [*(PinDigit(d) for d in signature_pin), PinSubmit()]
    return [CardInserted(reader), Continue(), *typed, *signed]


def run_signature_certificate(
    services: Any,
    holder: demo_cast.DemoHolder,
    on_line: Callable[[dict[str, Any]], None] | None = None,
    after: Mapping[type[Effect], Callable[[], None]] | None = None,
    evidence: DocumentEvidence | None = None,
) -> Step:
    """Run the scripted signature-certificate visit on ``services``; the final step."""
    from kiosk.visit.signature_certificate import SignatureCertificateFlow

    return run_visit(
        services, holder, SignatureCertificateFlow,
        lambda reader: signature_certificate_script(
            reader, evidence or document_evidence(holder), demo_cast.DEMO_ACTIVE_PIN,
            DEMO_NEW_SIGNATURE_PIN,
        ),
        on_line, after,
    )


def run_renew_certificates(
    services: Any,
    holder: demo_cast.DemoHolder,
    on_line: Callable[[dict[str, Any]], None] | None = None,
    after: Mapping[type[Effect], Callable[[], None]] | None = None,
    evidence: DocumentEvidence | None = None,
) -> Step:
    """Run the scripted renew-certificates visit on ``services``; the final step."""
    from kiosk.visit.renew_certificates import RenewCertificatesFlow

    return run_visit(
        services, holder, RenewCertificatesFlow,
        lambda reader: renew_certificates_script(
            reader, demo_cast.DEMO_ACTIVE_PIN, demo_cast.DEMO_SIGNATURE_PIN
        ),
        on_line, after,
    )


def additional_certificate_script(
    reader: str, evidence: DocumentEvidence, pin: str, choices: list[str]
) -> list[Event]:
    """The inputs of an additional-certificate visit: card, record, document, the choices
    (replace or remove the one present; the organisation), the authentication PIN."""
    typed = [*(PinDigit(d) for d in pin), PinSubmit()]
    return [*activation_script(reader, evidence, "")[:4], *(Chosen(c) for c in choices), *typed]


def additional_choices(holder: demo_cast.DemoHolder, remove: bool = False) -> list[str]:
    """What the administrator chooses for ``holder``'s card: with an additional certificate
    on it, replace it with one from the next organisation (or remove it); else add one."""
    organisations = list(demo_cast.OTHER_ORGANISATIONS)
    present = holder.additional_organisation
    if present is None:
        return [organisations[0]]
    if remove:
        return ["remove"]
    others = [o for o in organisations if o != present] or organisations
    return ["replace", others[0]]


def run_additional_certificate(
    services: Any,
    holder: demo_cast.DemoHolder,
    on_line: Callable[[dict[str, Any]], None] | None = None,
    after: Mapping[type[Effect], Callable[[], None]] | None = None,
    evidence: DocumentEvidence | None = None,
    remove: bool = False,
) -> Step:
    """Run the scripted additional-certificate visit on ``services``; the final step."""
    from kiosk.visit.additional_certificate import AdditionalCertificateFlow

    return run_visit(
        services, holder, AdditionalCertificateFlow,
        lambda reader: additional_certificate_script(
            reader, evidence or document_evidence(holder), demo_cast.DEMO_ACTIVE_PIN,
            additional_choices(holder, remove),
        ),
        on_line, after,
    )


RUNS: dict[str, Callable[..., Step]] = {
    "activation": run_activation,
    "pin-letter": run_pin_letter,
    "signature-certificate": run_signature_certificate,
    "renew-certificates": run_renew_certificates,
    "additional-certificate": run_additional_certificate,
}


def run_visit(
    services: Any,
    holder: demo_cast.DemoHolder,
    flow_class: type[Any],
    script: Callable[[str], list[Event]],
    on_line: Callable[[dict[str, Any]], None] | None = None,
    after: Mapping[type[Effect], Callable[[], None]] | None = None,
) -> Step:
    """Sign the first demo administrator in, insert the holder's card and run ``script``
    through a new ``flow_class`` visit; the final step."""
    from kiosk.visit.runner import run_scripted

    today = services.clock.now().date()
    admin = sign_in_admin(services, demo_cast.demo_admins(today)[0])
    services.deck.insert(holder.card_number)
    reader = services.reader.readers()[0]
    runner = services.effect_runner()
    runner.after.update(after or {})
    flow = flow_class(admin, services.settings, str(uuid.uuid4()))

    ended = {"yes": False}

    def note(event: Event | None, step: Step) -> None:
        if on_line is not None and not ended["yes"]:  # inputs after the end change nothing
            on_line(describe_step(event, step))
        ended["yes"] = ended["yes"] or step.finished

    transcript = run_scripted(flow, script(reader), runner, note)
    return transcript.final


def _visit(args: argparse.Namespace) -> int:
    from composition.demo_portal import start_demo_portal

    try:
        holder = demo_cast.demo_holder(args.holder or VISITS[args.visit], date.today())
    except KeyError:
        print(translate("sync.demo.unknown_holder", args.lang, holder=args.holder), file=sys.stderr)
        return EXIT_FAILED
    state_dir = Path(args.state_dir) if args.state_dir else demo_scratch_dir("kiosk-demo-")
    removed = not (args.state_dir or args.keep_state)
    portal = None
    try:
        # the portal's child first: its start-up runs while this process loads the kiosk
        state_dir.mkdir(parents=True, exist_ok=True)
        portal = start_demo_portal(state_dir)
        from composition.cli.outbox import load_settings_for

        settings, _ = load_settings_for(argparse.Namespace(config=args.config, state_dir=None))
        report = run_demo(settings, state_dir, holder, args.portal_down,
                          None if args.json else _printer(args.lang), visit=args.visit,
                          demo_portal=portal)
    except KioskError as exc:
        message, next_step = describe_error(exc, args.lang)
        print(f"{message}\n{next_step}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if portal is not None:
            portal.stop()  # stopped already when the services closed
        if removed:
            shutil.rmtree(state_dir, ignore_errors=True)
    if removed:
        report.state_dir = ""  # gone: --keep-state or --state-dir keeps it
    if args.json:
        print(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
    else:
        _print_summary(report, args.lang)
    if args.visit == "pin-letter":
        ordered = report.final_view == "done" and bool(report.pin_letters_ordered)
        return EXIT_OK if ordered else EXIT_FAILED
    if args.visit != "activation":
        return EXIT_OK if report.final_view == "done" else EXIT_FAILED
    activated = report.final_view == "done" and report.final_status == "Aktiv"
    return EXIT_OK if activated else EXIT_FAILED


def run_demo(
    settings: Any,
    state_dir: Path,
    holder: demo_cast.DemoHolder,
    portal_down: bool,
    on_line: Callable[[dict[str, Any]], None] | None = None,
    visit: str = "activation",
    demo_portal: Any = None,
) -> DemoReport:
    """The whole demo: visit, (portal back and flush,) status read back, audit verified."""
    from composition.wiring import build_services

    settings = demo_cast.demo_identity(settings)
    report = DemoReport(holder.key, holder.card_number, visit, state_dir=str(state_dir))

    def keep(line: dict[str, Any]) -> None:
        report.steps.append(line)
        if on_line is not None:
            on_line(line)

    started = time.perf_counter()
    # the sample scan (OpenCV, the MRZ templates) needs none of the services: it runs while
    # they start (OpenCV and the SoftHSM2 calls release the GIL)
    scan_pool = ThreadPoolExecutor(1, thread_name_prefix="demo-sample-scan")
    scanning = scan_pool.submit(scanned_evidence, holder, settings)
    scan_pool.shutdown(wait=False)
    services = build_services(settings, state_dir, demo=True, with_camera=False,
                              demo_portal=demo_portal)
    try:
        # the portal goes down once the visit has what it needs from it: the ticket, or
        # (the other visits) the result committed to the outbox
        down_after = StartActivation if visit == "activation" else RecordResult
        after: dict[type[Effect], Callable[[], None]] = (
            {down_after: services.running_portal.stop} if portal_down else {}
        )
        scanned = scanning.result()
        report.document_source = "sample_scan" if scanned is not None else "demo_cast"
        keep({"event": "document_source", "source": report.document_source})
        final = RUNS[visit](services, holder, on_line=keep, after=after, evidence=scanned)
        report.final_view = final.view.name.value
        report.final_message = final.view.message or ""
        status = services.outbox.status()
        report.outbox_after_visit = status.as_json()
        report.queued = status.depth > 0
        if report.queued:
            keep({"event": "outbox_status", "depth": status.depth})
        if portal_down:
            report.status_after_visit = "unreachable"
            report.status_after_flush = _restart_and_flush(services, keep, holder.card_number)
        report.final_status = _portal_status(services, holder.card_number)
        if not portal_down:
            report.status_after_visit = report.final_status
        if visit == "pin-letter":
            report.pin_letters_ordered = _letters_ordered(services, holder.card_number)
            keep({"event": "pin_letters", "ordered": report.pin_letters_ordered})
        report.card_certificates = _read_back(services, holder, visit, keep)
        if visit in ("signature-certificate", "renew-certificates", "additional-certificate"):
            report.portal_certificates = _portal_certificates(services, holder.card_number)
        audit = services.audit.verify()
        report.audit_ok, report.audit_entries = audit.ok, audit.count
    finally:
        services.close()
    report.elapsed_s = round(time.perf_counter() - started, 3)
    return report


def _read_back(
    services: Any,
    holder: demo_cast.DemoHolder,
    visit: str,
    keep: Callable[[dict[str, Any]], None],
) -> list[dict[str, Any]]:
    """The card's certificates after the visit (an unreadable card: none, and why)."""
    from composition.cli.demo_certificates import card_certificates, card_pins

    pins = card_pins(holder, *VISIT_PINS.get(visit, (None, None)))
    try:
        found = card_certificates(services, holder.card_number, pins)
    except KioskError as exc:
        keep({"event": "card_certificates", "error": exc.code})
        return []
    keep({"event": "card_certificates", "count": len(found)})
    return found


def _restart_and_flush(
    services: Any, keep: Callable[[dict[str, Any]], None], card_number: str
) -> str:
    """Bring the portal back on the same database and flush the outbox to it."""
    from dataclasses import replace

    from kiosk.portal_client import PortalClient
    from kiosk.sync import SyncWorker
    from portal.server import start_in_thread

    old = services.running_portal
    running = start_in_thread(old.db_path, "127.0.0.1", 0, receipt_trust=old.receipt_trust)
    services.running_portal = running
    services._closers.append(running.stop)
    client = PortalClient.from_settings(replace(services.settings.portal, url=running.url),
                                        services.settings.kiosk.kiosk_id)
    services._closers.append(client.close)
    services.portal = client
    flushed = SyncWorker(services.outbox, client).flush(ignore_backoff=True)
    keep({"event": "outbox_flush", "sent": flushed.sent,
          "depth": services.outbox.status().depth})
    return _portal_status(services, card_number)


def _letters_ordered(services: Any, card_number: str) -> int:
    """PIN/PUK letter orders the demo portal holds for the card (read from its database:
    the API has no call that lists them)."""
    import sqlite3

    conn = sqlite3.connect(f"file:{services.running_portal.db_path}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT COUNT(*) FROM pin_letters WHERE card_number = ?", (card_number,)
        ).fetchone()
    finally:
        conn.close()
    return int(row[0])


def _portal_certificates(services: Any, card_number: str) -> list[dict[str, Any]]:
    """What the portal issued for the card: serial, kind, state and what it replaced."""
    from kiosk.ports import CertificatePortal

    portal = services.portal
    if not isinstance(portal, CertificatePortal):
        return []
    return [
        {"serial": c.serial, "kind": c.kind, "state": c.state, "replaces": c.replaces}
        for c in portal.card_certificates(card_number)
    ]


def _portal_status(services: Any, card_number: str) -> str:
    record = services.portal.card(card_number)
    return str(record.status.value)


def _printer(lang: str) -> Callable[[dict[str, Any]], None]:
    counter = {"n": 0, "digits": 0}

    def show(line: dict[str, Any]) -> None:
        event = line.get("event")
        if event == "pin_digit":  # one dot per digit, never the digit
            counter["digits"] += 1
            return
        if event == "outbox_flush":
            print(translate("sync.demo.flush", lang, sent=line["sent"], depth=line["depth"]))
            return
        if event == "document_source":
            print(translate(f"sync.demo.document.{line['source']}", lang))
            return
        if event == "outbox_status":
            print(translate("sync.demo.queued", lang, depth=line["depth"]))
            return
        if event == "pin_letters":
            print(translate("sync.demo.pin_letters", lang, ordered=line["ordered"]))
            return
        if event == "card_certificates":  # listed one by one in the summary
            return
        counter["n"] += 1
        what = line.get("effect") or event or "start"
        if counter["digits"]:
            what = f"{what} ({'•' * counter['digits']})"
            counter["digits"] = 0
        extra = f" -> {line['error']}" if "error" in line else ""
        message = translate(line["message"], lang, **line.get("params", {})) if (
            "message" in line
        ) else ""
        print(f"{counter['n']:>3}. {what:<20} {line.get('view', ''):<16} {message}{extra}")
        if "error_message" in line:
            params = {**line.get("params", {}), **line.get("error_params", {})}
            print(f"     {translate(line['error_message'], lang, **params)} "
                  f"{translate(line['next_step'], lang, **params)}")

    return show


def _print_summary(report: DemoReport, lang: str) -> None:
    if report.status_after_flush is not None:
        print(translate("sync.demo.after_flush", lang, status=report.status_after_flush))
    print(translate("sync.demo.final", lang, card=report.card_number, status=report.final_status))
    _print_certificates(report.card_certificates, lang)
    print(translate("sync.demo.audit", lang, count=report.audit_entries,
                    ok=translate("sync.demo.yes" if report.audit_ok else "sync.demo.no", lang)))
    seconds = f"{report.elapsed_s:.1f}"
    if lang == "sv":
        seconds = seconds.replace(".", ",")  # Swedish writes a decimal comma
    print(translate("sync.demo.elapsed", lang, seconds=seconds))


def _print_certificates(certificates: list[dict[str, Any]], lang: str) -> None:
    """The card's certificates after the visit, one block each."""
    print(translate("sync.demo.certificates", lang, count=len(certificates)))
    answers = {True: "sync.demo.yes", False: "sync.demo.no", None: "sync.demo.unknown"}
    for cert in certificates:
        print(translate(
            "sync.demo.certificate", lang,
            label=cert["label"], usage=translate(f"sync.demo.usage.{cert['usage']}", lang),
            subject=cert["subject"], issuer=cert["issuer"],
            key_usage=", ".join(cert["key_usage"]) or "-",
            not_after=cert["not_after"][:10], days=cert["days_left"],
            on_card=translate(answers[cert["key_on_card"]], lang),
        ))
