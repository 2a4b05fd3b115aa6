"""Who has the screen: the hand-overs between administrator and holder (issue 12.3)."""

from __future__ import annotations

from kiosk.visit.contract import ViewName as V
from screens.handover import HandOver, Side


def walk(names: list[V], taps: set[int]) -> list[Side | None]:
    """The hand-over asked for at each view; the receiver taps at the indexes in ``taps``."""
    guide, asked = HandOver(), []
    for index, name in enumerate(names):
        asked.append(guide.shown(name))
        if index in taps:
            guide.taken()
    return asked


def test_an_activation_hands_over_to_the_holder_and_back_once_each() -> None:
    names = [V.HOME, V.INSERT_CARD, V.WORKING, V.CARD_RECORD, V.DOCUMENT_CHECK,
             V.DOCUMENT_CONFIRM, V.WORKING, V.PIN_CHOOSE, V.PIN_CONFIRM, V.WRITING_PIN,
             V.SIGN_RECEIPT, V.WORKING, V.DONE, V.HOME]
    asked = walk(names, taps={7, 12})
    assert asked[7] is Side.HOLDER and asked[12] is Side.ADMIN
    assert [a for i, a in enumerate(asked) if i not in (7, 12)] == [None] * 12


def test_a_change_of_pin_hands_over_at_the_current_pin() -> None:
    asked = walk([V.CARD_RECORD, V.PIN_CURRENT, V.PIN_CHOOSE, V.PIN_CONFIRM, V.WRITING_PIN,
                  V.WORKING, V.DONE], taps={1, 6})
    assert asked == [None, Side.HOLDER, None, None, None, None, Side.ADMIN]


def test_a_cover_not_yet_tapped_stays_over_progress_and_goes_when_the_admin_is_back() -> None:
    guide = HandOver()
    assert guide.shown(V.PIN_CHOOSE) is Side.HOLDER
    assert guide.shown(V.WORKING) is Side.HOLDER  # still asked for
    assert guide.shown(V.ERROR) is None  # the visit ended: the administrator never left
    assert guide.at_screen is Side.ADMIN


def test_a_card_put_back_to_sign_keeps_the_holder_at_the_screen() -> None:
    asked = walk([V.PIN_CHOOSE, V.SIGN_RECEIPT, V.INSERT_CARD, V.WORKING, V.SIGN_RECEIPT],
                 taps={0})
    assert asked == [Side.HOLDER, None, None, None, None]


def test_sign_in_and_home_start_over_with_the_administrator() -> None:
    guide = HandOver()
    guide.shown(V.PIN_CHOOSE)
    guide.taken()
    assert guide.shown(V.ADMIN_SIGN_IN) is None and guide.at_screen is Side.ADMIN
    assert guide.shown(V.PIN_CURRENT) is Side.HOLDER
