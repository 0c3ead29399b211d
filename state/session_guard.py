"""A tab's server-side state belongs to the connection that proved the tab's session cookie.

Reflex keys each tab's state by a client token that the browser keeps in sessionStorage and
sends in the Socket.IO address. Whoever connects with that token gets that state, including
a snapshot of everything in it (the signed-in user's email, prompts, outputs, a share link
just made) as soon as it hydrates, before any handler runs. A token can leak (proxy logs of
the WebSocket URL, Reflex's own log lines), and a browser tab that closed leaves its state
behind for a while.

So every event first passes here:

- the hydrate on connect (which carries the browser's cookies): if the cookie differs from
  the session the state last held, the state is someone else's (or stale) and is wiped
  before the snapshot is built; then the state is bound to this connection;
- an event that presents a different cookie (a navigation's client-storage sync) wipes the
  same way;
- an event from a connection that never hydrated with the right cookie (a client that
  skipped the hydrate, or a second connection) wipes the state before the handler runs.

A wiped tab is signed out and shows nothing; its own browser, which holds the cookie, hydrates
again with it and gets its data back from the server.

Background streams push without an event to pass here: Reflex sends their updates to whatever
socket holds the tab's client token when they are sent. So a stream binds itself to the
connection of the event that started it (`BoundSocket`) and stops once that connection has
gone or no longer holds the token: a socket that took over a closed tab's token, having
proved nothing, gets none of its live answers. The tab's own browser, reconnecting, hydrates
(the guard above) and its page starts a new stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import reflex as rx
from reflex.middleware import Middleware
from reflex.state import BaseState, UpdateVarsInternalState
from reflex.utils.format import format_event_handler
from reflex_base.constants.route import RouteVar
from reflex_base.constants.state import FIELD_MARKER

from state.auth import AuthState

HYDRATE_EVENT = format_event_handler(rx.State.event_handlers["hydrate_and_load"])
STORAGE_SYNC_EVENT = format_event_handler(UpdateVarsInternalState.event_handlers["update_vars_internal"])
_COOKIE_VAR = f"{AuthState.get_full_name()}.session_token"


class SessionBindingState(rx.State):
    """Which Socket.IO connection presented this tab's session cookie (backend only)."""

    _sid: str = ""


def _presented_cookie(payload: dict[str, Any]) -> str | None:
    """The session cookie an event carries (hydrate, client-storage sync), or None if it carries
    no client storage at all. A hydrate without the cookie presents "" (no session)."""
    storage = payload.get("vars")
    if not isinstance(storage, dict):
        return None
    for key, value in storage.items():
        if str(key).removesuffix(FIELD_MARKER) == _COOKIE_VAR:
            return str(value) if value is not None else ""
    return ""


def _app_states() -> list[type[BaseState]]:
    found: list[type[BaseState]] = []
    pending: list[type[BaseState]] = [rx.State]
    while pending:
        for sub in pending.pop().get_substates():
            pending.append(sub)
            if sub.__module__.startswith("state.") and sub is not SessionBindingState:
                found.append(sub)
    return found


async def _wipe(state: Any) -> None:
    for cls in _app_states():
        (await state.get_state(cls)).reset()


@dataclass
class BoundSocket:
    """The connection a background stream started from (read under the state lock)."""

    sid: str
    token: str
    _namespace: Any = field(default=None, repr=False)

    @classmethod
    def of(cls, state: Any) -> BoundSocket:
        return cls(
            sid=str(state.router_data.get(RouteVar.SESSION_ID, "")),
            token=str(state.router_data.get(RouteVar.CLIENT_TOKEN, "")),
        )

    def holds_the_tab(self) -> bool:
        """Whether that connection is still open and still the tab's: only then may the stream
        push (Reflex would send to whichever socket holds the token now)."""
        if not self.sid:  # the event came over no socket (a direct call): there is none to guard
            return True
        if self._namespace is None:
            from reflex.utils.prerequisites import get_and_validate_app

            self._namespace = get_and_validate_app().app.event_namespace
        if self._namespace is None:  # no socket server in this process: nothing is pushed
            return True
        return bool(self._namespace.sid_to_token.get(self.sid) == self.token)


class SessionBinding(Middleware):
    async def preprocess(self, app: Any, state: Any, event: Any) -> None:
        sid = str(state.router_data.get(RouteVar.SESSION_ID, ""))
        binding = await state.get_state(SessionBindingState)
        auth = await state.get_state(AuthState)
        payload = event.payload if isinstance(event.payload, dict) else {}
        if event.name == HYDRATE_EVENT:
            if (_presented_cookie(payload) or "") != auth.session_token:
                await _wipe(state)
            binding._sid = sid
        elif binding._sid != sid:
            await _wipe(state)
        elif event.name == STORAGE_SYNC_EVENT:
            presented = _presented_cookie(payload)
            if presented is not None and presented != auth.session_token:
                await _wipe(state)
        return None
