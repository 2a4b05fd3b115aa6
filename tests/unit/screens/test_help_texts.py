"""Every screen of a visit has a help text in each language (the top bar's "Hjälp")."""

from __future__ import annotations

import pytest

from kiosk.i18n import LANGUAGES
from kiosk.visit.contract import ViewName
from screens.texts import has_key

# Outside a visit: HOME chooses one, and the sign-in is the administrator's own.
NOT_A_VISIT_STEP = frozenset({ViewName.HOME, ViewName.ADMIN_SIGN_IN})


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_visit_screen_has_help(lang: str) -> None:
    without = [name.value for name in ViewName
               if name not in NOT_A_VISIT_STEP and not has_key(f"ui.help.{name.value}", lang)]
    assert without == []
