"""The kiosk's one error hierarchy and the table from error to message and next step.

Adapters (hardware/, the portal client, config loading) translate whatever their
libraries raise into these exceptions at their boundary, keeping the data a user or
an operator needs on the exception itself. Screens and the CLI never show an
exception's text: they look up ``error.code`` in ``ERROR_TABLE`` and translate the
message key and the next-step key (see kiosk.i18n).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class KioskError(Exception):
    """Base of every error the kiosk raises on purpose."""

    code: str = "internal"

    def __init__(self, detail: str = "", **data: Any) -> None:
        super().__init__(detail or self.code)
        self.detail = detail
        self.data: dict[str, Any] = data

    def params(self) -> dict[str, Any]:
        """Values a translated message may interpolate (never secrets)."""
        return dict(self.data)


# --- input the kiosk was given -------------------------------------------------------


class InvalidInput(KioskError):
    """Input that cannot be used at all (wrong length, characters, impossible date)."""

    code = "invalid_input"


class MissingInput(InvalidInput):
    """A field that must be filled in is empty (not "could not be read")."""

    code = "missing_input"


class RuleViolation(KioskError):
    """Input that is well-formed but breaks a domain rule; ``rule`` names which."""

    code = "rule_violation"

    def __init__(self, rule: str, detail: str = "", **data: Any) -> None:
        super().__init__(detail or rule, rule=rule, **data)
        self.rule = rule


class PinRuleViolation(RuleViolation):
    """The chosen PIN breaks the PIN policy (never carries the PIN)."""

    code = "pin_rule"


class CardNotEligible(RuleViolation):
    """The card must not be activated here (reserve card, foreign issuer, deadline...)."""

    code = "card_not_eligible"


class DocumentRejected(RuleViolation):
    """The ID document fails the control process (expired, wrong type, mismatch...)."""

    code = "document_rejected"


class AdminNotAuthorised(RuleViolation):
    """The administrator may not work at this kiosk (training lapsed, unknown)."""

    code = "admin_not_authorised"


class PinMismatch(KioskError):
    """The PIN confirmation differs from the first entry."""

    code = "pin_mismatch"


# --- the card and the reader ----------------------------------------------------------


class CardError(KioskError):
    """Base for failures talking to a card or reader."""

    code = "card_error"


class ReaderUnavailable(CardError):
    """No PC/SC reader, or pcscd is not running."""

    code = "reader_unavailable"


class CardRemoved(CardError):
    """The card left the reader during an operation."""

    code = "card_removed"


class AdminCardInserted(CardError):
    """The ID administrator's own card is in the reader where the holder's is expected."""

    code = "admin_card_inserted"


class CardUnreadable(CardError):
    """The card answered in a way the kiosk cannot use (unknown ATR, bad answer)."""

    code = "card_unreadable"


class WrongPin(CardError):
    """The token refused the PIN; ``tries_left`` when the token reports it."""

    code = "wrong_pin"

    def __init__(self, detail: str = "", tries_left: int | None = None, **data: Any) -> None:
        super().__init__(detail, tries_left=tries_left, **data)
        self.tries_left = tries_left


class PinLocked(CardError):
    """The PIN is locked after too many wrong tries."""

    code = "pin_locked"


class PinEntryCancelled(CardError):
    """PIN entry on the reader's own PIN pad was cancelled there or timed out."""

    code = "pin_entry_cancelled"


class TokenError(CardError):
    """The PKCS#11 module or token failed in a way not covered above."""

    code = "token_error"


class CertificateCheckFailed(CardError):
    """A certificate the visit installed failed its check on the card: its key is not the
    card's key pair, or the test signature does not verify with it."""

    code = "certificate_check_failed"


# --- camera and scanning --------------------------------------------------------------


class ScanError(KioskError):
    """Base for camera and document-reading failures."""

    code = "scan_error"


class CameraUnavailable(ScanError):
    """The camera is unplugged, busy or produced no frame."""

    code = "camera_unavailable"


class NothingRead(ScanError):
    """No barcode or MRZ could be read from the frames given."""

    code = "nothing_read"


class ImageRefused(ScanError):
    """An image was not decoded: too many pixels declared, not an image, damaged, unreadable.

    ``reason``: too_large, not_image, damaged, empty, missing, directory, not_file,
    symlink_loop, broken_link, permission, unreadable.
    """

    code = "image_refused"


class ScannerRestarted(ScanError):
    """The document reader's worker process ended (crash, memory, OpenCV) and was restarted."""

    code = "scanner_restarted"


class ScannerStopped(ScannerRestarted):
    """The document reader's worker kept ending; it starts again at the next document check."""

    code = "scanner_stopped"


# --- the portal -----------------------------------------------------------------------


class PortalError(KioskError):
    """Base for failures talking to the card-office portal."""

    code = "portal_error"


class PortalUnreachable(PortalError):
    """The portal did not answer (network down, timeout, 5xx): retry later."""

    code = "portal_unreachable"


class PortalRejected(PortalError):
    """The portal answered and said no (4xx); ``reason`` is the portal's reason code."""

    code = "portal_rejected"

    def __init__(self, reason: str, detail: str = "", **data: Any) -> None:
        super().__init__(detail or reason, reason=reason, **data)
        self.reason = reason


class CardNotFound(PortalRejected):
    """The portal has no record of this card number."""

    code = "card_not_found"

    def __init__(self, card_number: str, detail: str = "") -> None:
        super().__init__("card_not_found", detail, card_number=card_number)


class PortalAuthError(PortalError):
    """TLS or client-certificate authentication with the portal failed."""

    code = "portal_auth"


# --- the visit ------------------------------------------------------------------------


class VisitError(KioskError):
    """Base for visit-level failures."""

    code = "visit_error"


class VisitTimedOut(VisitError):
    """Nobody touched the kiosk for too long; the visit was ended."""

    code = "visit_timed_out"


class VisitCancelled(VisitError):
    """The administrator cancelled the visit."""

    code = "visit_cancelled"


# --- storage, config, fleet -----------------------------------------------------------


class StorageError(KioskError):
    """The outbox or audit log could not be written or read."""

    code = "storage_error"


class AuditChainBroken(StorageError):
    """The audit log's hash chain or a signature does not verify; ``index`` says where."""

    code = "audit_broken"


class ConfigError(KioskError):
    """Settings could not be loaded: ``path`` names the key, ``hint`` may suggest one."""

    code = "config_error"

    @property
    def path(self) -> str:
        """The dotted key (or the file) at fault; empty if none was named."""
        return str(self.data.get("path", ""))

    @property
    def hint(self) -> str:
        """What would be allowed, or the key that was probably meant; may be empty."""
        return str(self.data.get("hint", ""))


class BundleRefused(ConfigError):
    """A config bundle was refused; ``reason`` says why; the running config is untouched."""

    code = "bundle_refused"

    def __init__(self, reason: str, detail: str = "", **data: Any) -> None:
        super().__init__(detail or reason, reason=reason, **data)
        self.reason = reason


@dataclass(frozen=True)
class ErrorEntry:
    """How one error is shown: a message key, a next-step key, and who must act."""

    message: str
    next_step: str
    actor: str  # "admin", "holder", "operator"
    retry: bool


ERROR_TABLE: dict[str, ErrorEntry] = {
    "internal": ErrorEntry("error.internal", "next.restart_visit", "admin", True),
    "invalid_input": ErrorEntry("error.invalid_input", "next.check_and_retype", "admin", True),
    "missing_input": ErrorEntry("error.missing_input", "next.fill_in", "admin", True),
    "rule_violation": ErrorEntry("error.rule_violation", "next.check_and_retype", "admin", True),
    "pin_rule": ErrorEntry("error.pin_rule", "next.choose_other_pin", "holder", True),
    "card_not_eligible": ErrorEntry(
        "error.card_not_eligible", "next.card_not_eligible", "admin", False
    ),
    "document_rejected": ErrorEntry(
        "error.document_rejected", "next.other_document", "admin", True
    ),
    "admin_not_authorised": ErrorEntry(
        "error.admin_not_authorised", "next.renew_training", "admin", False
    ),
    "pin_mismatch": ErrorEntry("error.pin_mismatch", "next.choose_pin_again", "holder", True),
    "card_error": ErrorEntry("error.card_error", "next.reinsert_card", "admin", True),
    "reader_unavailable": ErrorEntry(
        "error.reader_unavailable", "next.check_reader", "operator", True
    ),
    "card_removed": ErrorEntry("error.card_removed", "next.reinsert_card", "holder", True),
    "card_unreadable": ErrorEntry("error.card_unreadable", "next.card_unreadable", "admin", False),
    "admin_card_inserted": ErrorEntry(
        "error.admin_card_inserted", "next.take_out_own_card", "admin", True
    ),
    "wrong_pin": ErrorEntry("error.wrong_pin", "next.wrong_pin", "holder", True),
    "pin_locked": ErrorEntry("error.pin_locked", "next.pin_locked", "admin", False),
    "pin_entry_cancelled": ErrorEntry(
        "error.pin_entry_cancelled", "next.pin_entry_cancelled", "holder", True
    ),
    "token_error": ErrorEntry("error.token_error", "next.reinsert_card", "admin", True),
    "certificate_check_failed": ErrorEntry(
        "error.certificate_check_failed", "next.certificate_check_failed", "admin", False
    ),
    "scan_error": ErrorEntry("error.scan_error", "next.manual_entry", "admin", True),
    "camera_unavailable": ErrorEntry(
        "error.camera_unavailable", "next.manual_entry", "admin", True
    ),
    "nothing_read": ErrorEntry("error.nothing_read", "next.hold_still_or_type", "admin", True),
    "image_refused": ErrorEntry("error.image_refused", "next.image_refused", "admin", True),
    "scanner_restarted": ErrorEntry(
        "error.scanner_restarted", "next.scanner_restarted", "admin", True
    ),
    "scanner_stopped": ErrorEntry("error.scanner_stopped", "next.manual_entry", "admin", True),
    "portal_error": ErrorEntry("error.portal_error", "next.try_later", "admin", True),
    "portal_unreachable": ErrorEntry(
        "error.portal_unreachable", "next.portal_unreachable", "admin", True
    ),
    "portal_rejected": ErrorEntry("error.portal_rejected", "next.contact_support", "admin", False),
    "card_not_found": ErrorEntry("error.card_not_found", "next.card_not_found", "admin", False),
    "portal_auth": ErrorEntry("error.portal_auth", "next.contact_operator", "operator", False),
    "visit_error": ErrorEntry("error.visit_error", "next.restart_visit", "admin", True),
    "visit_timed_out": ErrorEntry("error.visit_timed_out", "next.start_again", "admin", True),
    "visit_cancelled": ErrorEntry("error.visit_cancelled", "next.start_again", "admin", True),
    "storage_error": ErrorEntry("error.storage_error", "next.contact_operator", "operator", False),
    "audit_broken": ErrorEntry("error.audit_broken", "next.contact_operator", "operator", False),
    "config_error": ErrorEntry("error.config_error", "next.contact_operator", "operator", False),
    "bundle_refused": ErrorEntry(
        "error.bundle_refused", "next.contact_operator", "operator", False
    ),
}


def entry_for(error: BaseException) -> ErrorEntry:
    """The table entry for an error; unknown exceptions count as internal errors."""
    code = error.code if isinstance(error, KioskError) else "internal"
    return ERROR_TABLE.get(code, ERROR_TABLE["internal"])


def next_step_key(error: BaseException) -> str:
    """The next-step key for an error: the table's, refined where the error knows more.

    A wrong PIN names the tries left only when the token reports them: with one left
    the text warns that the next wrong one locks the PIN, and with none reported it
    says that too many do (never "Tries left: None").
    """
    step = entry_for(error).next_step
    if isinstance(error, WrongPin) and error.tries_left is None:
        return f"{step}.untold"
    if isinstance(error, WrongPin) and error.tries_left == 1:
        return f"{step}.last"
    return step
