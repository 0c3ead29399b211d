"""The panes' optional parameters (top_p, seed, stop sequences, penalties, JSON output): the
fields under each pane's "More settings", edited here and kept on the compare page's panes."""

from __future__ import annotations

import reflex as rx

from state.compare import CompareState
from state.events import event
from state.run_option_fields import OPTION_FIELDS, set_option


class PaneOptionsState(rx.State):
    @event
    async def set_pane_option(self, pane_id: str, field: str, value: str) -> None:
        """An unsaved pane's optional parameter (with Sync settings, every pane's)."""
        if field not in OPTION_FIELDS:
            return
        compare = await self.get_state(CompareState)
        for pane in compare._targets(pane_id):
            set_option(pane, field, value)

    @event
    async def toggle_pane_options(self, pane_id: str) -> None:
        compare = await self.get_state(CompareState)
        for pane in compare.panes:
            if pane.pane_id == pane_id:
                pane.show_options = not pane.show_options
