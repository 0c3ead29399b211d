"""Which session a tab's Socket.IO connection has proved, and the page's HttpOnly cookie.

The session cookie is HttpOnly: no script on the page reads it, so the page cannot pass it in
an event. The connection proves it instead: its handshake carried the cookie (kept aside by
dashboard/event_socket.py, out of Reflex's router data). A sign-in over the connection proves
the new session for it too (`prove`), and gives the page a one-time grant to trade for the
cookie (`keep_cookie`), so the next connection, after a reload, carries it.

Kept per connection in its Socket.IO environ (gone with the connection), read by the session
guard (state/session_guard.py) before every event.
"""

from __future__ import annotations

import json
from typing import Any

import reflex as rx
from reflex.event import EventSpec
from reflex_base.config import get_config
from reflex_base.constants.route import RouteVar

from backend import runtime
from backend.auth.session_cookie import COOKIE_PATH, REQUEST_HEADER

PROVEN_KEY = "llmdash.proven_session"  # in the connection's environ: the session it proved
SCOPE_KEY = "llmdash.session"  # dashboard/event_socket.SESSION_SCOPE_KEY (the handshake's cookie)
# Reflex's getBackendURL (.web/utils/state.js): a backend on a "same domain" host name is
# reached at the page's own host name, over https when the page is.
_SAME_DOMAIN_HOSTS = ["localhost", "0.0.0.0", "::", "0:0:0:0:0:0:0:0"]


def _environ(app: Any, sid: str) -> dict[str, Any] | None:
    if not sid or app is None or getattr(app, "sio", None) is None or app.event_namespace is None:
        return None
    environ = app.sio.get_environ(sid, app.event_namespace.namespace)
    return environ if isinstance(environ, dict) else None


def _app() -> Any:
    from reflex.utils.prerequisites import get_and_validate_app

    return get_and_validate_app().app


def proven_session(app: Any, sid: str) -> str | None:
    """The session token connection `sid` has proved ("" for none), or None when the event came
    over no connection of this process (a direct call: there is nothing to check against)."""
    environ = _environ(app, sid)
    if environ is None:
        return None
    if PROVEN_KEY not in environ:
        scope = environ.get("asgi.scope") or {}
        environ[PROVEN_KEY] = str(scope.get(SCOPE_KEY, "") or "")
    return str(environ[PROVEN_KEY])


def prove(state: rx.State, token: str) -> None:
    """The tab's connection has just proved `token` (a sign-in over it; "" after a sign-out)."""
    environ = _environ(_app(), str(state.router_data.get(RouteVar.SESSION_ID, "")))
    if environ is not None:
        environ[PROVEN_KEY] = token


def keep_cookie(token: str) -> EventSpec:
    """The page trades a one-time grant for the session's HttpOnly cookie (or, for "", deletes
    the cookie). The grant is not the session: see backend/auth/session_cookie.py."""
    method = "POST" if token else "DELETE"
    body = json.dumps(runtime.current().cookie_grants.issue(token)) if token else "null"
    api_url = json.dumps(get_config().api_url or "/", ensure_ascii=True)
    script = (
        "(() => {"
        f" const url = new URL({api_url}, window.location.href);"
        f" if ({json.dumps(_SAME_DOMAIN_HOSTS)}.includes(url.hostname)) {{"
        "  url.hostname = window.location.hostname;"
        "  if (window.location.protocol === 'https:') { url.protocol = 'https:'; url.port = ''; }"
        " }"
        f" url.pathname = {json.dumps(COOKIE_PATH)}; url.search = ''; url.hash = '';"
        f" return fetch(url, {{method: {json.dumps(method)}, credentials: 'include',"
        f" headers: {{{json.dumps(REQUEST_HEADER)}: '1'}}, body: {body}}});"
        "})()"
    )
    return rx.call_script(script)
