"""Deleting a saved comparison, from History or from the comparison itself.

The confirmation is the page's dialog; this state only acts once it is confirmed, and the
service re-checks the right (editors and owners: Action.EDIT) on every call.
"""

from __future__ import annotations

import reflex as rx

from backend import runtime
from backend.auth import AccessDenied, Principal
from backend.services.access import NotFound
from state.compare import CompareState
from state.current_user import with_user
from state.events import Followup, event
from state.history import HistoryState
from state.language import localized


class DeleteComparisonState(rx.State):
    error: rx.Field[str] = rx.field("")

    async def _delete(self, user: Principal, comparison_id: str) -> bool:
        try:
            await runtime.current().comparisons.delete(user, comparison_id)
        except (AccessDenied, NotFound) as exc:
            self.error = await localized(self, str(exc))
            return False
        self.error = ""
        return True

    @event
    @with_user
    async def delete_listed(self, user: Principal, comparison_id: str) -> Followup:
        """A row of History: deleted, the list reloads."""
        if await self._delete(user, comparison_id):
            return HistoryState.load
        return None

    @event
    @with_user
    async def delete_open(self, user: Principal) -> Followup:
        """The comparison on the compare page: deleted, the page starts a new one."""
        compare = await self.get_state(CompareState)
        if compare.comparison_id and compare.can_run and await self._delete(user, compare.comparison_id):
            return CompareState.new_comparison
        return None
