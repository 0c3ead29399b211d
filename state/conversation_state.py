"""Follow-up turns on the compare page (issue 19): the message box under the panes, and whom
it goes to (every pane, or one of them).

Sending saves the next turn through the service (which checks the role, that every pane has
finished, the models' context windows, budget and rate limits), then shows each pane's new run
under its earlier turns and hands over to CompareState's stream, which follows the new runs
like any others. The comparison id and the panes are CompareState's, read on the server.
"""

from __future__ import annotations

import reflex as rx

from backend import runtime
from backend.auth import AccessDenied, Principal
from backend.services.comparisons import InvalidComparison, NotFound, RateLimitExceeded
from state.compare import CompareState
from state.current_user import with_user
from state.events import Followup, event
from state.language import localized, localized_all
from state.rows import ACTIVE_STATUSES, panes_from_record

ALL_PANES = "all"


class ConversationState(rx.State):
    message: rx.Field[str] = rx.field("")
    target: rx.Field[str] = rx.field(ALL_PANES)  # "all" or a pane's run id
    error: rx.Field[str] = rx.field("")

    @event
    def set_message(self, value: str) -> None:
        self.message = value
        self.error = ""

    @event
    def set_target(self, value: str) -> None:
        self.target = value

    @event
    @with_user
    async def send(self, user: Principal) -> Followup:
        compare = await self.get_state(CompareState)
        if not compare.comparison_id or compare.running:
            return None
        payload: dict[str, object] = {"message": self.message}
        if self.target != ALL_PANES:
            if self.target not in {p.run_id for p in compare.panes}:
                self.target = ALL_PANES  # the pane it named is gone (a new comparison): ask again
                return None
            payload["run_id"] = self.target
        rt = runtime.current()
        try:
            record = await rt.turns.send(user, compare.comparison_id, payload)
        except InvalidComparison as exc:
            errors = await localized_all(self, exc.errors)
            self.error = next(iter(errors.values()), "")
            return None
        except RateLimitExceeded as exc:  # a budget too
            self.error = await localized(self, exc.message)
            return None
        except (AccessDenied, NotFound) as exc:
            self.error = await localized(self, str(exc))
            return None
        rows = panes_from_record(rt.comparisons.with_live_output(record))
        for shown, row in zip(compare.panes, rows, strict=False):
            row.pane_id, row.label, row.expanded = shown.pane_id, shown.label, shown.expanded
            if row.status in ACTIVE_STATUSES:
                row.text = ""  # live text arrives through the stream
        compare.panes = rows
        self.message, self.target, self.error = "", ALL_PANES, ""
        return CompareState.stream
