"""The public page of a share link, /share/<token>: the saved comparison, read-only, and Fork.

Everything here comes from the link's public view (backend.services.shares); the
state never loads anything through the visitor's session except to fork, and never
anything of the session that made the link.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import quote

import reflex as rx

from backend import runtime
from backend.auth import Principal
from backend.i18n import utc_moment_in_every_language
from backend.services.access import NotFound
from backend.services.metrics import format_cost, format_ms, format_rate
from backend.services.shares import SHARE_PATH, PublicComparison, PublicRun, ShareService
from state.auth import signed_in_user
from state.current_user import with_user
from state.events import Followup, event
from state.language import localized
from state.rows import ExchangeRow, shown_error


@dataclasses.dataclass
class SharedPane:
    label: str
    model: str
    status: str
    text: str
    error: str
    ttft: str
    tps: str
    tokens_in: int
    tokens_out: int
    elapsed: str
    cost: str
    cached: bool
    # A conversation (issue 19): this pane's earlier turns, and the follow-up its answer replies to.
    earlier: list[ExchangeRow] = dataclasses.field(default_factory=list)
    message: str = ""
    turn: int = 1


def shared_pane(run: PublicRun) -> SharedPane:
    return SharedPane(
        label=run.model_label,
        model=run.model,
        status=run.status,
        text=run.output_text,
        error=shown_error(run.error),
        ttft=format_ms(run.ttft_ms),
        tps=format_rate(run.tokens_per_second),
        tokens_in=run.input_tokens,
        tokens_out=run.output_tokens,
        elapsed=format_ms(run.total_ms),
        cost=format_cost(run.cost_usd),
        cached=run.cached,
        earlier=[ExchangeRow(turn=e.turn, message=e.message, answer=e.answer) for e in run.earlier],
        message=run.message,
        turn=run.turn,
    )


def token_from_path(path: str) -> str:
    """The token of a /share/<token> address ("" for any other path)."""
    head, found, token = path.rstrip("/").rpartition(SHARE_PATH)
    return token if found and head == "" and "/" not in token else ""


class SharePageState(rx.State):
    found: rx.Field[bool] = rx.field(False)
    loaded: rx.Field[bool] = rx.field(False)
    prompt: rx.Field[str] = rx.field("")
    system_prompt: rx.Field[str] = rx.field("")
    owner_name: rx.Field[str] = rx.field("")
    created: rx.Field[str] = rx.field("")
    expires: rx.Field[str] = rx.field("")
    panes: rx.Field[list[SharedPane]] = rx.field(default_factory=list)
    image_hosts: rx.Field[list[str]] = rx.field(default_factory=list)
    fork_error: rx.Field[str] = rx.field("")
    forking: rx.Field[bool] = rx.field(False)
    viewer_signed_in: rx.Field[bool] = rx.field(False)
    login_href: rx.Field[str] = rx.field("/login")
    confirm_fork: rx.Field[bool] = rx.field(False)  # already forked once: asks before another copy
    _token: str = ""

    @event
    async def load(self) -> Followup:
        self._token = token_from_path(self.router.url.path)
        self.login_href = f"/login?next={quote(SHARE_PATH + self._token, safe='')}"
        self.fork_error, self.forking = "", False
        self.viewer_signed_in = await signed_in_user(self) is not None
        rt = runtime.current()
        self.image_hosts = list(rt.settings.image_host_allowlist)
        try:
            view = await ShareService(rt.db).resolve(self._token)
        except NotFound:
            self._show(None)
        else:
            self._show(view)
        self.loaded = True
        # Back from signing in to fork (see `fork`): the intent survived the detour, so it happens.
        if self.found and self.viewer_signed_in and self.router.url.query_parameters.get("fork") == "1":
            return SharePageState.fork_now
        return None

    def _show(self, view: PublicComparison | None) -> None:
        self.found = view is not None
        self.prompt = view.prompt if view else ""
        self.system_prompt = view.system_prompt if view else ""
        self.owner_name = view.owner_name if view else ""
        self.created = utc_moment_in_every_language(view.created_at if view else None)
        self.expires = utc_moment_in_every_language(view.expires_at if view else None)
        self.panes = [shared_pane(run) for run in view.runs] if view else []

    @event
    async def fork(self) -> Followup:
        """Fork; a signed-out visitor signs in first and comes back with ?fork=1, which forks."""
        if await signed_in_user(self) is None:
            back = f"{SHARE_PATH}{self._token}?fork=1"
            return rx.redirect(f"/login?next={quote(back, safe='')}")
        return SharePageState.fork_now

    @event
    @with_user
    async def fork_now(self, user: Principal) -> Followup:
        """Fork, unless this visitor already has a copy: then ask first (fork_again)."""
        try:
            earlier = await ShareService(runtime.current().db).forks_by(user, self._token)
        except NotFound as exc:
            self.fork_error = await localized(self, str(exc))
            self._show(None)
            return None
        if earlier:
            self.confirm_fork = True
            return None
        return await self._fork(user)

    @event
    @with_user
    async def fork_again(self, user: Principal) -> Followup:
        """The visitor confirmed: another copy, next to the one they have."""
        self.confirm_fork = False
        return await self._fork(user)

    @event
    def set_confirm_fork(self, value: bool) -> None:
        self.confirm_fork = value

    async def _fork(self, user: Principal) -> Followup:
        """Copy the comparison into the visitor's own Personal project and open it there."""
        self.forking = True
        try:
            record = await ShareService(runtime.current().db).fork(user, self._token)
        except NotFound as exc:
            self.forking, self.fork_error = False, await localized(self, str(exc))
            self._show(None)
            return None
        return rx.redirect(f"/?c={record.id}")
