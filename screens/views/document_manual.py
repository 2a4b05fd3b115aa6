"""Manual entry of the document's facts when the camera cannot read them."""

from __future__ import annotations

from datetime import date

from kiosk.errors import InvalidInput, MissingInput
from kiosk.i18n import DEFAULT_LANGUAGE
from kiosk.model import DocumentEvidence, DocumentType, Provenance
from kiosk.visit.contract import View
from kiosk.visit.events import DocumentTyped
from screens.texts import error_texts, error_view_for, tr
from screens.views.base import KioskScreen, ScreenContext, load_kv

SUBMIT = "submit_document"
TYPED_FACTS = ("doc_type", "expiry", "birth_date", "personnummer", "document_number")


def typed_evidence(doc_type: str, number: str, expiry: str, personnummer: str,
                   today: date) -> DocumentEvidence:
    """DocumentEvidence from typed text; InvalidInput names the field that cannot be read.

    Only the form is read here; whether the document is acceptable is the flow's rules.
    """
    from kiosk.identity.personnummer import parse_personnummer

    if not doc_type:
        raise MissingInput("no document type chosen", field="doc_type")
    try:
        kind = DocumentType(doc_type)
    except ValueError as exc:
        raise InvalidInput("choose a document type", field="doc_type") from exc
    if not expiry.strip():  # empty is not "could not be read" (issue 12.7)
        raise MissingInput("the expiry date is empty", field="expiry")
    try:
        valid_until = date.fromisoformat(expiry.strip())
    except ValueError as exc:
        raise InvalidInput("a date is YYYY-MM-DD", field="expiry") from exc
    birth = None
    if personnummer.strip():
        birth = parse_personnummer(personnummer.strip(), on=today).birth_date
    return DocumentEvidence(
        doc_type=kind,
        expiry=valid_until,
        birth_date=birth,
        personnummer=personnummer.strip() or None,
        document_number=number.strip() or None,
        how={fact: Provenance.TYPED for fact in TYPED_FACTS},
    )


class DocumentManualScreen(KioskScreen):
    """Document type buttons and three fields; the flow checks what was typed."""

    doc_type = ""

    def render_parts(self, view: View, ctx: ScreenContext, new_view: bool) -> None:
        """Labels and type buttons in the current language."""
        lang = ctx.lang
        self.ids.number_label.text = tr("ui.field.document_number", lang)
        self.ids.expiry_label.text = tr("ui.field.expiry", lang)
        self.ids.pnr_label.text = tr("ui.field.personnummer", lang)
        self.ids.expiry.hint_text = tr("ui.manual.date_format", lang)
        self.ids.form_error.text = ""
        box = self.ids.types
        for button in box.children:
            button.text = tr(f"ui.document.{button.doc_type}", lang)
        self._show_choice()
        if new_view:
            for field in (self.ids.number, self.ids.expiry, self.ids.pnr):
                field.text = ""
            self.choose("")

    def action_buttons(self, view: View, finished: bool, lang: str) -> list[tuple[str, str, str]]:
        """The flow's actions, and the form's own submit button as the main one."""
        return [*super().action_buttons(view, finished, lang),
                (SUBMIT, tr("ui.manual.submit", lang), "primary")]

    def on_action(self, name: str) -> None:
        """Submit is the form's; the rest go to the flow."""
        if name == SUBMIT:
            self.submit()
        else:
            super().on_action(name)

    def choose(self, doc_type: str) -> None:
        """Select a document type."""
        self.doc_type = doc_type
        for button in self.ids.types.children:
            button.state = "down" if button.doc_type == doc_type else "normal"
        self._show_choice()

    def _show_choice(self) -> None:
        """Say in words which document type is selected (or that none is yet)."""
        lang = self.ctx.lang if self.ctx is not None else DEFAULT_LANGUAGE
        chosen = (tr(f"ui.document.{self.doc_type}", lang) if self.doc_type
                  else tr("ui.manual.type_none", lang))
        self.ids.type_state.text = tr("ui.manual.type_chosen", lang, chosen=chosen)

    def submit(self) -> None:
        """Send the typed evidence to the flow, or say which field cannot be read."""
        ctx = self.ctx
        if ctx is None:
            return
        try:
            evidence = typed_evidence(self.doc_type, self.ids.number.text, self.ids.expiry.text,
                                      self.ids.pnr.text, date.today())
        except InvalidInput as exc:
            message, _ = error_texts(error_view_for(exc), ctx.lang)
            field = str(exc.data.get("field", ""))
            label = tr(f"ui.field.{field}", ctx.lang) if field else ""
            self.ids.form_error.text = f"{message} ({label})" if label else message
            return
        self.send(DocumentTyped(evidence))


load_kv(__file__)
SCREEN = DocumentManualScreen
