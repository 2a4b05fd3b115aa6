"""The card check visit: certificates, validity, status and HSA-id of any card."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from kiosk.errors import InvalidInput, KioskError
from kiosk.identity.personnummer import parse_personnummer
from kiosk.model import (
    AdminAuthorisation,
    CardIdentity,
    CardRecord,
    CardStatus,
    CertificateInfo,
    VisitKind,
)
from kiosk.rules.card import card_refusal, certificate_expires_soon, identity_refusal
from kiosk.settings import Settings
from kiosk.visit.contract import ErrorView, Param, Step, View, ViewName
from kiosk.visit.effects import Effect, FetchRecord, IdentifyCard, ReadCertificates
from kiosk.visit.errorview import can_retry, error_view
from kiosk.visit.events import (
    VISIT_ACTION_PREFIX,
    CardIdentified,
    CardInserted,
    CertificatesRead,
    Done,
    Home,
    Outcome,
    RecordFetched,
    Retry,
)
from kiosk.visit.flow import VisitFlow
from kiosk.visit.stages import Stage, Transitions


def certificate_params(cert: CertificateInfo, now: datetime, today_pn: date) -> dict[str, Param]:
    """One certificate's facts for the screen (personnummer masked)."""
    masked = None
    if cert.personnummer:
        try:
            masked = parse_personnummer(cert.personnummer, on=today_pn).masked()
        except InvalidInput:
            masked = "?"
    return {
        "label": cert.label,
        "usage": cert.usage,
        "subject": cert.subject,
        "issuer": cert.issuer,
        "serial": format(cert.serial, "x"),
        "not_before": cert.not_before.isoformat(timespec="minutes"),
        "not_after": cert.not_after.isoformat(timespec="minutes"),
        "days_left": max((cert.not_after - now).days, 0),
        "valid_now": cert.not_before <= now <= cert.not_after,
        "expires_soon": certificate_expires_soon(cert.not_after, now),
        "hsa_id": cert.hsa_id,
        "personnummer": masked,
        "trust_level": int(cert.trust_level) if cert.trust_level is not None else None,
        "chain_valid": cert.chain_valid,
    }


class CardCheckFlow(VisitFlow):
    """Show what a card holds and what the portal knows; changes nothing."""

    kind = VisitKind.CARD_CHECK
    needs_card_in_reader = False

    def __init__(self, admin: AdminAuthorisation, settings: Settings, visit_id: str) -> None:
        super().__init__(admin, settings, visit_id)
        self.certificates: list[CertificateInfo] = []
        self.errors: list[KioskError] = []
        self.failed: list[Effect] = []
        self.warning: KioskError | None = None

    def transitions(self) -> Transitions:
        return (  # no record review and no typed number: a check reads what the card has
            Transitions()
            .on(Stage.INSERT_CARD, CardInserted, lambda e: self.card.insert(e, self))
            .on(Stage.CARD_INFO, Retry, lambda _: self.on_retry_reads())
            .on(Stage.CARD_INFO, Home, lambda _: self.on_finish())
            .on(Stage.CARD_INFO, Done, lambda _: self.on_finish())
        )

    def on_success(self, outcome: Outcome) -> Step:
        match outcome:
            case CardIdentified():
                return self.on_identified(outcome.identity)
            case CertificatesRead():
                return self.on_certificates(outcome.certificates)
            case RecordFetched():
                return self.on_record(outcome.record)
        return self.show(self.stage)

    def on_identified(self, identity: CardIdentity) -> Step:
        self.card.identity = identity
        refused = identity_refusal(identity)
        if refused is not None:
            self.warning = refused
            return self.show(Stage.CARD_INFO)
        self.card.number = identity.card_number
        effects: list[Effect] = [ReadCertificates(self.card.reader)]
        if identity.card_number:
            effects.append(FetchRecord(identity.card_number))
        return self.run(Stage.READING, *effects)

    def on_certificates(self, certificates: tuple[CertificateInfo, ...]) -> Step:
        self.certificates = list(certificates)
        return self.after_read()

    def on_record(self, record: CardRecord) -> Step:
        self.card.record = record
        self.warning = card_refusal(
            self.card.identity, record, self.at(), self.settings.card_rules, self.kind
        )
        return self.after_read()

    def on_failure(self, effect: Effect, error: KioskError) -> Step:
        if isinstance(effect, IdentifyCard):
            return super().on_failure(effect, error)
        self.errors.append(error)
        self.failed.append(effect)
        return self.after_read()

    def after_read(self) -> Step:
        if self.pending:
            return self.show(Stage.READING)
        return self.show(Stage.CARD_INFO)

    def on_retry_reads(self) -> Step:
        retryable = [e for e, err in zip(self.failed, self.errors, strict=True) if can_retry(err)]
        if not retryable:
            return self.show(Stage.CARD_INFO)
        self.failed, self.errors = [], []
        return self.run(Stage.READING, *retryable)

    def on_finish(self) -> Step:
        step = self.end(self.info_view())
        if not self.renewal_offered():
            return step
        # from 3 months before a certificate ends: the renewal is one tap away (HOME's
        # visit action; the session starts it from the ended check)
        actions = (f"{VISIT_ACTION_PREFIX}{VisitKind.RENEW_CERTIFICATES.value}",
                   *step.view.actions)
        return replace(step, view=replace(step.view, actions=actions))

    def renewal_offered(self) -> bool:
        """Whether the check offers the renewal: an Aktiv card whose authentication or
        signature certificate (with its key pair on the card) ends within 3 months."""
        record = self.card.record
        if record is None or record.status is not CardStatus.ACTIVE or self.warning:
            return False
        now = self.at()
        return any(
            c.usage in ("authentication", "signature") and c.key_id
            and certificate_expires_soon(c.not_after, now)
            for c in self.certificates
        )

    def info_view(self) -> View:
        """The CARD_INFO screen: certificates, validity, status, and any warning or error."""
        now = self.at()
        shown = self.errors[0] if self.errors else self.warning
        identity = self.card.identity
        certificates = tuple(certificate_params(c, now, self.today()) for c in self.certificates)
        ending = [
            max((c.not_after - now).days, 0)
            for c in self.certificates
            if certificate_expires_soon(c.not_after, now) or not c.not_before <= now <= c.not_after
        ]
        params: dict[str, Param] = {
            **self.card.record_params(self.at()),
            "certificates": certificates,
            # from 3 months before a certificate ends the check says so (renew them)
            "certificates_ending": len(ending),
            "fewest_days_left": min(ending, default=None),
            "card_class": identity.card_class.value if identity else None,
            "generation": identity.generation if identity else None,
            "atr": identity.atr.hex() if identity else None,
            "record_found": self.card.record is not None,
        }
        if self.card.record is None:
            hsa = next((c.hsa_id for c in self.certificates if c.hsa_id), None)
            params["hsa_id"] = hsa
        can_retry_reads = any(can_retry(e) for e in self.errors)
        return View(
            ViewName.CARD_INFO,
            self.title(),
            "visit.card_info.certificates_ending" if ending else "visit.card_info.summary",
            params,
            error_view(shown) if shown else None,
            ("retry", "done") if can_retry_reads else ("done",),
        )

    def extra_view(self, stage: Stage, error: ErrorView | None) -> View | None:
        if stage is Stage.CARD_INFO:
            view = self.info_view()
            return view if error is None else View(
                view.name, view.title, view.message, view.params, error, view.actions
            )
        return None
