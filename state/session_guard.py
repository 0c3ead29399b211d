"""A tab's server-side state belongs to the session its connection proved.

Reflex keys each tab's state by a client token that the browser keeps in sessionStorage and
sends in the Socket.IO address. Whoever connects with that token gets that state, including
a snapshot of everything in it (the signed-in user's email, prompts, outputs, a share link
just made) as soon as it hydrates, before any handler runs. A token can leak (proxy logs of
the WebSocket URL, Reflex's own log lines), and a browser tab that closed leaves its state
behind for a while.

So every event first passes here. The session cookie is HttpOnly (no script reads it, so the
page never sends it in an event): a connection proves a session by the cookie its handshake
carried, or by signing in over it (state/connection_session.py). If the session the tab's
state holds is not the one its connection proved (another user's state, a closed tab's state
reached with no cookie, a session that ended), the app's states are wiped before the handler
or the hydrate's snapshot, and the state takes the connection's session. The owner's browser,
which holds the cookie, gets its data back from the server.

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
from reflex.state import BaseState
from reflex_base.constants.route import RouteVar

from state.auth import AuthState
from state.connection_session import proven_session


def _app_states() -> list[type[BaseState]]:
    found: list[type[BaseState]] = []
    pending: list[type[BaseState]] = [rx.State]
    while pending:
        for sub in pending.pop().get_substates():
            pending.append(sub)
            if sub.__module__.startswith("state."):
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
        namespace = self.event_namespace()
        if namespace is None:  # no socket server in this process: nothing is pushed
            return True
        return bool(namespace.sid_to_token.get(self.sid) == self.token)

    def event_namespace(self) -> Any:
        """Reflex's Socket.IO namespace in this process (None without a socket server)."""
        if self._namespace is None:
            from reflex.utils.prerequisites import get_and_validate_app

            self._namespace = get_and_validate_app().app.event_namespace
        return self._namespace


class SessionBinding(Middleware):
    async def preprocess(self, app: Any, state: Any, event: Any) -> None:
        proven = proven_session(app, str(state.router_data.get(RouteVar.SESSION_ID, "")))
        if proven is None:  # not over a connection of this process: nothing was presented
            return None
        auth = await state.get_state(AuthState)
        if auth._session_token != proven:
            await _wipe(state)
            (await state.get_state(AuthState))._session_token = proven
        return None
