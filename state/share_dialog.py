"""The Share dialog of the comparison page: make a public link, copy it once, revoke links.

The comparison is the one open in CompareState; every event re-checks the session
and the user's right to share it (the service raises NotFound or AccessDenied).
A new link's token is kept only until the dialog closes: it cannot be shown again.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import reflex as rx

from backend import runtime
from backend.auth import AccessDenied, Principal
from backend.db.shares import ShareInfo
from backend.i18n import N_, utc_moment_in_every_language
from backend.services.access import NotFound
from backend.services.shares import InvalidShare, ShareService
from state.compare import CompareState
from state.current_user import with_user
from state.events import Followup, event
from state.language import localized

EXPIRY_CHOICES: dict[str, timedelta | None] = {
    "never": None,
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
EXPIRY_LABELS = {"never": N_("Never expires"), "1d": N_("1 day"), "7d": N_("7 days"), "30d": N_("30 days")}


@dataclasses.dataclass
class ShareLinkRow:
    id: str
    created: str
    expires: str
    status: str  # active | expired | revoked
    active: bool


def link_row(share: ShareInfo, now: datetime) -> ShareLinkRow:
    active = share.active_at(now)
    status = "active" if active else ("revoked" if share.revoked_at else "expired")
    return ShareLinkRow(
        id=share.id,
        created=utc_moment_in_every_language(share.created_at),
        expires=utc_moment_in_every_language(share.expires_at, N_("never")),
        status=status,
        active=active,
    )


class ShareDialogState(rx.State):
    open: rx.Field[bool] = rx.field(False)
    expiry: rx.Field[str] = rx.field("never")
    new_link: rx.Field[str] = rx.field("")
    links: rx.Field[list[ShareLinkRow]] = rx.field(default_factory=list)
    error: rx.Field[str] = rx.field("")

    @rx.var(cache=True)
    def active_count(self) -> int:
        return sum(1 for link in self.links if link.active)

    async def _comparison_id(self) -> str:
        return (await self.get_state(CompareState)).comparison_id

    @event
    async def set_open(self, value: bool) -> Followup:
        self.open = value
        self.new_link, self.error = "", ""  # the token is shown once: gone when the dialog closes
        if value:
            return await self._refresh()
        return None

    @event
    def set_expiry(self, value: str) -> None:
        self.expiry = value if value in EXPIRY_CHOICES else "never"

    @event
    @with_user
    async def create_link(self, user: Principal) -> Followup:
        try:
            created = await ShareService(runtime.current().db).create(
                user, await self._comparison_id(), EXPIRY_CHOICES.get(self.expiry)
            )
        except (AccessDenied, NotFound, InvalidShare) as exc:
            self.error = await localized(self, str(exc))
            return None
        self.error = ""
        self.new_link = self.router.url.origin + created.url_path
        await self._show_links(user)
        return None

    @event
    @with_user
    async def revoke(self, user: Principal, share_id: str) -> Followup:
        try:
            await ShareService(runtime.current().db).revoke(user, share_id)
        except (AccessDenied, NotFound) as exc:
            self.error = await localized(self, str(exc))
            return None
        await self._show_links(user)
        return None

    @with_user
    async def _refresh(self, user: Principal) -> None:
        """Opening the dialog needs the user; closing it does not (a signed-out tab may close it)."""
        await self._show_links(user)

    async def _show_links(self, user: Principal) -> None:
        comparison_id = await self._comparison_id()
        if not comparison_id:
            self.links, self.error = [], N_("Run or open a saved comparison to share it.")
            return None
        try:
            shares = await ShareService(runtime.current().db).list(user, comparison_id)
        except (AccessDenied, NotFound) as exc:
            self.links, self.error = [], await localized(self, str(exc))
            return None
        now = datetime.now(UTC)
        self.links = [link_row(share, now) for share in shares]
        return None
