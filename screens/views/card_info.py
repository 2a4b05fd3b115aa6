"""Card check: certificates, validity and status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kivy.factory import Factory

from kiosk.visit.contract import View
from screens.texts import facts_of, has_key, show_value, tr
from screens.views.base import KioskScreen, ScreenContext, load_kv

CERTIFICATE_FACTS = ("not_after", "days_left", "expires_soon", "valid_now", "chain_valid",
                     "trust_level", "hsa_id", "personnummer")
# Facts the record already lists: a certificate repeats them only when they differ.
SHARED_FACTS = ("trust_level", "hsa_id", "personnummer")


def certificate_heading(cert: Mapping[str, object], lang: str) -> str:
    """The certificate's translated usage (its raw label only when the usage is unknown)."""
    usage = str(cert.get("usage") or "")
    key = f"ui.value.usage.{usage}"
    if usage and has_key(key, lang):
        return tr(key, lang)
    return show_value(usage or cert.get("label") or "", lang)


def certificate_facts(cert: Mapping[str, object], record: Mapping[str, object]) -> dict[str, Any]:
    """The facts to list for one certificate: shared ones only where they differ."""
    return {name: cert.get(name) for name in CERTIFICATE_FACTS
            if name not in SHARED_FACTS or str(cert.get(name)) != str(record.get(name))}


class CardInfoScreen(KioskScreen):
    """The card's record facts on the left, one small table per certificate on the right."""

    fact_names = ("card_number", "holder_name", "personnummer", "hsa_id", "status", "kind",
                  "trust_level", "valid_until", "card_class", "generation", "record_found")

    def render_parts(self, view: View, ctx: ScreenContext, new_view: bool) -> None:
        """A heading and a table for each certificate."""
        box = self.ids.certificates
        box.clear_widgets()
        for cert in view.mappings("certificates"):
            box.add_widget(Factory.CertificateHeading(text=certificate_heading(cert, ctx.lang)))
            table = Factory.CardInfoTable()
            table.rows_data = facts_of(certificate_facts(cert, view.params), ctx.lang)
            box.add_widget(table)
        if new_view:
            self.ids.body.to_top()


load_kv(__file__)
SCREEN = CardInfoScreen
