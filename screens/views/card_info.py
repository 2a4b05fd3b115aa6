"""Card check: certificates, validity and status."""

from __future__ import annotations

from kiosk.visit.base import View
from screens.texts import facts_of, show_value, tr
from screens.views.base import KioskScreen, ScreenContext, load_kv
from screens.widgets.common import FactsTable, WrapLabel

CERTIFICATE_FACTS = ("not_after", "valid_now", "chain_valid", "trust_level", "hsa_id",
                     "personnummer")


class CardInfoScreen(KioskScreen):
    """The card's record facts on the left, one small table per certificate on the right."""

    fact_names = ("card_number", "holder_name", "personnummer", "hsa_id", "status", "kind",
                  "trust_level", "valid_until", "card_class", "generation", "record_found")

    def render_parts(self, view: View, ctx: ScreenContext, new_view: bool) -> None:
        """A heading and a table for each certificate."""
        box = self.ids.certificates
        box.clear_widgets()
        for cert in view.params.get("certificates") or ():
            usage = show_value(cert.get("usage", ""), ctx.lang)
            usage_key = f"ui.value.usage.{cert.get('usage', '')}"
            heading = tr(usage_key, ctx.lang) if usage_key != "ui.value.usage." else usage
            box.add_widget(WrapLabel(text=f"{heading}: {cert.get('label', '')}", bold=True))
            table = FactsTable(rows_before_pairs=99)
            table.rows_data = facts_of({k: cert.get(k) for k in CERTIFICATE_FACTS}, ctx.lang)
            box.add_widget(table)


load_kv(__file__)
SCREEN = CardInfoScreen
