"""The "check your email" notice: project invitations wait until the account proves its address.

An invitation is taken up only by an account whose address is proven (an emailed single-use
link; backend/auth/verification.py). Someone who signs up with an invited address therefore
sees none of the projects at first: this notice says why, where the link went, and sends a new
one on request. Checked after signing in and on the Projects page.
"""

from __future__ import annotations

import reflex as rx

from backend import runtime
from backend.auth import Principal
from backend.i18n import N_
from state.current_user import with_user
from state.events import event

LINK_SENT = N_("We sent a new link. It works once, for 48 hours.")
LINK_NOT_SENT = N_("The link could not be sent now. Try again later, or ask an admin.")


class EmailNoticeState(rx.State):
    address: rx.Field[str] = rx.field("")  # the address to confirm ("" : nothing waits for it)
    invitations: rx.Field[int] = rx.field(0)
    message: rx.Field[str] = rx.field("")

    @event
    @with_user
    async def load(self, user: Principal) -> None:
        self.invitations = await runtime.current().accounts.invitations_waiting(user)
        self.address = user.email if self.invitations else ""
        if not self.invitations:
            self.message = ""

    @event
    @with_user
    async def send_again(self, user: Principal) -> None:
        sent = await runtime.current().accounts.send_verification(user)
        self.message = LINK_SENT if sent else LINK_NOT_SENT
