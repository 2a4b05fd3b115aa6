"""Who has the screen, and when it changes hands (issue 12.3). No Kivy here.

The administrator runs a visit; the holder types their own PINs (``HOLDER_VIEWS``). When
a holder screen comes up while the administrator has the kiosk, the screen is covered by
"Lämna över till kortinnehavaren" until the holder taps "Jag är kortinnehavaren –
fortsätt"; when an administrator's screen (DONE, an error, the card record ...) comes up
while the holder has it, by "Tillbaka till ID-administratören" until the administrator
taps "Jag är ID-administratören – fortsätt". The person receiving the screen taps.
Progress screens and the insert-card screen (a card goes in by hand, whoever holds it)
change nothing; HOME and the sign-in screen start over with the administrator.
"""

from __future__ import annotations

from enum import StrEnum

from kiosk.visit.contract import HOLDER_VIEWS, ViewName


class Side(StrEnum):
    """Who is at the screen."""

    ADMIN = "admin"
    HOLDER = "holder"


NEUTRAL_VIEWS = frozenset({ViewName.WORKING, ViewName.INSERT_CARD})
START_VIEWS = frozenset({ViewName.HOME, ViewName.ADMIN_SIGN_IN})


class HandOver:
    """Follows the views shown and says which hand-over, if any, covers the screen."""

    def __init__(self) -> None:
        self.at_screen = Side.ADMIN
        self.pending: Side | None = None  # the side being handed the screen, not yet tapped

    def shown(self, name: ViewName) -> Side | None:
        """``name`` is on screen now: the side it must be handed to first, or None."""
        if name in START_VIEWS:
            self.at_screen, self.pending = Side.ADMIN, None
        elif name in NEUTRAL_VIEWS:
            pass  # a progress screen: a hand-over asked for stays asked for
        else:
            wanted = Side.HOLDER if name in HOLDER_VIEWS else Side.ADMIN
            self.pending = None if wanted is self.at_screen else wanted
        return self.pending

    def taken(self) -> None:
        """The person the screen was handed to tapped "it is me – continue"."""
        if self.pending is not None:
            self.at_screen, self.pending = self.pending, None
