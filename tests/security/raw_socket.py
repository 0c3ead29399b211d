"""A raw Socket.IO client of the running app, speaking Reflex 0.10's event protocol by hand.

What the compiled frontend does (`.web/utils/state.js`, `context.jsx`):

- connect to `<base>/_event/` (Engine.IO path and Socket.IO namespace `/_event`), websocket
  transport, with `?token=<client token>` (a UUID the tab keeps in sessionStorage) and a
  CONNECT auth packet `{"event": <hydrate_and_load event>}`; the browser's cookies go with the
  WebSocket handshake (the session cookie is HttpOnly: the page cannot read it to send it);
- send every event as `emit("event", {"name": "<state full name>.<handler>", "payload":
  {<arg>: <value>}, "router_data": {"pathname": ..., "asPath": ...}})`;
- receive `event` messages `{"delta": {<state>: {<var>: value}}, "events": [...], "final": ...}`
  and `new_token` when the token is already connected elsewhere;
- after a sign-in, run a `_call_script` that posts a one-time grant to `/_session`, whose
  answer sets the HttpOnly cookie (`trade_grant` does it here).

This client does the same, but sends whatever a test wants: no cookie, someone else's
token, wrong types, unknown or backend-only handler names, oversized payloads.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from typing import Any

import httpx
import socketio
from reflex.utils.format import format_event_handler
from reflex_base.constants.state import FIELD_MARKER

from backend.auth.session_cookie import COOKIE_PATH, REQUEST_HEADER, SESSION_COOKIE

NAMESPACE = "/_event"
HYDRATE = "reflex___state____state.hydrate_and_load"
GRANT_IN_SCRIPT = re.compile(r'method: "POST".*body: "([^"]+)"')


def event_name(state_cls: Any, handler: str) -> str:
    """The wire name of a handler, e.g. reflex___state____state.state___compare____compare_state.run."""
    return format_event_handler(state_cls.event_handlers[handler])


def _event(name: str, payload: dict[str, Any] | None = None, path: str = "/") -> dict[str, Any]:
    return {"name": name, "payload": payload or {}, "router_data": {"pathname": path, "asPath": path}}


class RawTab:
    """One browser tab's connection, made by hand."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.token = token or str(uuid.uuid4())
        self.received: list[Any] = []  # every `event` message (state updates)
        self.new_tokens: list[str] = []
        self.disconnected = asyncio.Event()
        self._last = time.monotonic()
        self.sio = socketio.AsyncClient(reconnection=False, request_timeout=10)
        self.sio.on("event", self._on_event, namespace=NAMESPACE)
        self.sio.on("new_token", self._on_new_token, namespace=NAMESPACE)
        self.sio.on("disconnect", self._on_disconnect, namespace=NAMESPACE)

    async def _on_event(self, data: Any) -> None:
        self.received.append(data)
        self._last = time.monotonic()

    async def _on_new_token(self, data: Any) -> None:
        self.new_tokens.append(str(data))
        self._last = time.monotonic()

    async def _on_disconnect(self, *args: Any) -> None:
        self.disconnected.set()

    async def connect(self, cookie: str | None = None, path: str = "/", hydrate: bool = True) -> RawTab:
        """Connect as the frontend does; `cookie` is the session cookie's value (None: no cookie)."""
        auth = {"event": _event(HYDRATE, {}, path)} if hydrate else None
        await self.sio.connect(
            f"{self.base_url}?token={self.token}",
            # A browser also sends its cookies with the WebSocket handshake (same origin).
            headers={"Cookie": f"{SESSION_COOKIE}={cookie}"} if cookie else {},
            socketio_path="_event",
            namespaces=[NAMESPACE],
            transports=["websocket"],
            auth=auth,
            wait_timeout=15,
        )
        return self

    async def send(self, name: str, payload: dict[str, Any] | None = None, path: str = "/") -> None:
        await self.sio.emit("event", _event(name, payload, path), namespace=NAMESPACE)

    async def send_raw(self, data: Any) -> None:
        await self.sio.emit("event", data, namespace=NAMESPACE)

    async def settle(self, quiet_s: float = 0.8, timeout_s: float = 20.0) -> None:
        """Wait until nothing has arrived for `quiet_s` (or `timeout_s` passed)."""
        deadline = time.monotonic() + timeout_s
        self._last = max(self._last, time.monotonic())
        while True:
            now = time.monotonic()
            quiet_left = quiet_s - (now - self._last)
            if quiet_left <= 0 or now >= deadline:
                return
            await asyncio.sleep(min(quiet_left, deadline - now))

    async def wait_for(self, text: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.text():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never arrived; got {self.text()[-2000:]}")
            await asyncio.sleep(0.05)

    def text(self) -> str:
        """Everything received, as one JSON string (to search for data that must not be there)."""
        return json.dumps([self.received, self.new_tokens], default=str, ensure_ascii=False)

    def served_text(self) -> str:
        """What the server chose to send, without the echoes of this client's own input: the
        router fields (its own address) and the login redirect's ?next= (its own address again)."""
        kept = []
        for update in self.received:
            if not isinstance(update, dict):
                kept.append(update)
                continue
            delta = {
                state: {k: v for k, v in fields.items() if not k.startswith("rx_router_")}
                for state, fields in (update.get("delta") or {}).items()
            }
            events = [
                e
                for e in update.get("events") or []
                if not (
                    e.get("name") == "_redirect"
                    and str(e.get("payload", {}).get("path", "")).startswith("/login")
                )
            ]
            kept.append({"delta": delta, "events": events})
        return json.dumps([kept, self.new_tokens], default=str, ensure_ascii=False)

    def redirects(self) -> list[str]:
        paths = []
        for update in self.received:
            for event in update.get("events", []) if isinstance(update, dict) else []:
                if event.get("name") == "_redirect":
                    paths.append(str(event.get("payload", {}).get("path", "")))
        return paths

    def scripts(self) -> list[str]:
        """The JavaScript the server asked this tab to run (`rx.call_script`)."""
        found = []
        for update in self.received:
            for event in update.get("events", []) if isinstance(update, dict) else []:
                if event.get("name") == "_call_script":
                    found.append(str(event.get("payload", {}).get("javascript_code", "")))
        return found

    async def trade_grant(self) -> httpx.Response:
        """Do what the page's script does after a sign-in: post the last grant to /_session."""
        grants = [m.group(1) for s in self.scripts() if (m := GRANT_IN_SCRIPT.search(s))]
        assert grants, f"no cookie grant in {self.scripts()}"
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as client:
            return await client.post(COOKIE_PATH, content=grants[-1], headers={REQUEST_HEADER: "1"})

    def var(self, state_cls: Any, name: str) -> Any:
        """The last value received for `state_cls.name` (None if never sent)."""
        key, field = state_cls.get_full_name(), name + FIELD_MARKER
        value = None
        for update in self.received:
            delta = update.get("delta", {}) if isinstance(update, dict) else {}
            if field in delta.get(key, {}):
                value = delta[key][field]
        return value

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
