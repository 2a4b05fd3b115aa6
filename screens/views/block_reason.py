"""Why is the card blocked? One large button per reason the flow offers."""

from __future__ import annotations

from screens.views.base import KioskScreen, load_kv


class BlockReasonScreen(KioskScreen):
    """The reasons are the flow's actions, laid out as a column of large buttons."""

    def on_action(self, name: str) -> None:
        """A reason button sends ``block_reason``; other buttons are plain actions."""
        reasons = self.shown.view.params.get("reasons", ()) if self.shown else ()
        if name in reasons:
            if self.ctx is not None:
                self.ctx.input.touched()
            self.send("block_reason", reason=name)
        else:
            super().on_action(name)


load_kv(__file__)
SCREEN = BlockReasonScreen
