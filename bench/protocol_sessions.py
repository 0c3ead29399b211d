"""Protocol-level sessions: Python Socket.IO clients speaking the compare page's Reflex event protocol.

Each session does what the page does over `/_event` (Reflex 0.10):

1. connects with its own client token in the query string and the page's
   hydrate event in the Socket.IO CONNECT packet's auth (`{"event": <the
   hydrate_and_load event>, "state_schema": ...}`): the session cookie rides in
   the event's `payload.vars`, the address in `router_data`.  The template is the
   CONNECT packet the real Chromium page sent to the same server (so the state
   schema and hashes are the build's own); each session gets its own token and
   its own `/?models=...&prompt=...` address, which the page's `load` turns into
   panes and a prompt (`CompareState._prefill`);
2. waits for `is_hydrated` and for its panes;
3. sends the Run event (`<root>.state___compare____compare_state.run`), as the
   button's click does;
4. receives the live batches: `_call_script` events whose code is
   `window.__llmLive.apply([[key, offset, text, tokens, (ttft, elapsed, status)], ...])`,
   recording when each text length of each run arrived (wall clock, ms), until
   every run has a final status.

All sessions run on one asyncio loop in a thread of their own, so the sync
Playwright page can be driven from the main thread at the same time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import json
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

import engineio.async_client
import socketio

from bench.common import STEADY

EVENT_NAMESPACE = "/_event"
COMPARE_STATE = "state___compare____compare_state"
APPLY_PREFIX = "window.__llmLive.apply("
FINAL = ("done", "error", "cancelled")


class _ReceivedBytes:
    """Engine.IO packets every session of this process received, as encoded text (what the
    server sent, before permessage-deflate): the same count the page's frame counter makes."""

    total = 0
    counting = False


_Packet = engineio.async_client.packet.Packet


class _CountingPacket(_Packet):  # type: ignore[misc,valid-type]
    def __init__(self, *args: Any, encoded_packet: Any = None, **kwargs: Any) -> None:
        if encoded_packet is not None and _ReceivedBytes.counting:
            size = len(encoded_packet.encode()) if isinstance(encoded_packet, str) else len(encoded_packet)
            _ReceivedBytes.total += size
        super().__init__(*args, encoded_packet=encoded_packet, **kwargs)


engineio.async_client.packet.Packet = _CountingPacket  # the read loop builds one per received frame


def prefill_path(prompt: str, panes: int, model: str = STEADY) -> str:
    """The address that opens the compare page with `panes` panes of `model` and the prompt filled in."""
    query = urllib.parse.urlencode({"models": ",".join([model] * panes), "prompt": prompt}, safe=":,")
    return f"/?{query}"


def auth_for(template: dict[str, Any], path: str) -> dict[str, Any]:
    """The page's CONNECT auth with this session's address in the hydrate event's router data."""
    auth = copy.deepcopy(template)
    parsed = urllib.parse.urlsplit(path)
    auth["event"]["router_data"] = {
        "pathname": parsed.path,
        "asPath": path,
        "query": dict(urllib.parse.parse_qsl(parsed.query)),
    }
    return auth


@dataclass
class Session:
    index: int
    prompt: str
    path: str
    panes: int
    sio: socketio.AsyncClient | None = None
    hydrated: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    texts: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    samples: list[list[Any]] = field(default_factory=list)  # [key, text length, wall ms]
    loaded_panes: int = 0
    pane_keys: list[str] = field(default_factory=list)  # live keys of the panes on screen (this round)
    seen: list[str] = field(default_factory=list)  # what arrived after Run (the first 20), for a diagnosis
    errors: list[str] = field(default_factory=list)
    run_sent_at: float = 0.0

    def reset_round(self) -> None:
        self.finished = asyncio.Event()
        self.texts, self.statuses, self.samples, self.pane_keys, self.seen = {}, {}, [], [], []

    def on_update(self, update: dict[str, Any]) -> None:
        now_ms = time.time() * 1000.0
        if self.run_sent_at and len(self.seen) < 20:
            names = [str(e.get("name")) for e in update.get("events") or []]
            fields = [
                f"{k.rsplit('.', 1)[-1]}:{','.join(sorted(v))}"
                for k, v in (update.get("delta") or {}).items()
            ]
            self.seen.append(";".join(names + fields)[:300])
        for substate, delta in (update.get("delta") or {}).items():
            if delta.get("is_hydrated_rx_state_") is True:
                self.hydrated.set()
            if substate.endswith(COMPARE_STATE) and isinstance(delta.get("panes_rx_state_"), list):
                panes = delta["panes_rx_state_"]
                self.loaded_panes = len(panes)
                keys = [str(p.get("live_key") or "") for p in panes]
                if all(keys) and self.run_sent_at:
                    self.pane_keys = keys
                    for pane, key in zip(panes, keys, strict=True):
                        # a run that ended before the stream followed it ends through the state
                        if pane.get("status") in FINAL:
                            self.statuses[key] = str(pane["status"])
        for event in update.get("events") or []:
            if event.get("name") != "_call_script":
                continue
            code = (event.get("payload") or {}).get("javascript_code") or ""
            if not code.startswith(APPLY_PREFIX):
                continue
            try:
                entries = json.loads(code[len(APPLY_PREFIX) : code.rindex(")")])
            except ValueError as exc:
                self.errors.append(f"undecodable batch: {exc}")
                continue
            for entry in entries:
                key, offset, text = str(entry[0]), int(entry[1]), str(entry[2])
                before = self.texts.get(key, "")
                self.texts[key] = before[:offset] + text if offset > 0 else text
                if text:
                    self.samples.append([key, _utf16_len(self.texts[key]), now_ms])
                if len(entry) > 6 and entry[6]:
                    self.statuses[key] = str(entry[6])
        keys = self.pane_keys or list(self.statuses)
        if len(keys) >= self.panes and all(self.statuses.get(k) in FINAL for k in keys):
            self.finished.set()


def _utf16_len(text: str) -> int:
    """Length in UTF-16 code units: what the worker's trace (and JavaScript) counts."""
    return len(text.encode("utf-16-le")) // 2


class SessionPool:
    """N protocol sessions on an event loop in a thread of their own; every call blocks, bounded."""

    def __init__(self, base: str, auth_template: dict[str, Any], panes: int, cookie: str = "") -> None:
        """`cookie`: the Cookie header of the socket's handshake, where the page's browser sends its
        HttpOnly session cookie (the server binds the session to the connection there)."""
        self.base = base
        self.cookie = cookie
        self.auth_template = auth_template
        self.panes = panes
        self.sessions: list[Session] = []
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="protocol-sessions", daemon=True)
        self._thread.start()
        root = str(auth_template["event"]["name"]).rsplit(".", 1)[0]  # reflex___state____state
        self.run_event = f"{root}.{COMPARE_STATE}.run"
        self.loop_lags_ms: list[float] = []
        self._ticker: asyncio.Task[None] | None = None

    def _call(self, coro: Any, timeout_s: float) -> Any:
        future = asyncio.run_coroutine_threadsafe(asyncio.wait_for(coro, timeout_s), self.loop)
        started = time.monotonic()
        try:
            return future.result(timeout_s + 5)
        except concurrent.futures.TimeoutError as exc:  # the builtin TimeoutError, from any step
            future.cancel()
            took = time.monotonic() - started
            if took < timeout_s:  # a step's own limit (the socket's connect, a hydrate), not ours
                raise TimeoutError(f"protocol sessions: a step timed out after {took:.0f} s: {exc!r}") from (
                    exc
                )
            raise TimeoutError(f"protocol sessions: no answer within {timeout_s:.0f} s") from exc

    # --- connect -------------------------------------------------------------
    async def _connect_one(self, session: Session) -> None:
        sio = socketio.AsyncClient(reconnection=False, logger=False, engineio_logger=False)
        session.sio = sio
        sio.on("event", session.on_update, namespace=EVENT_NAMESPACE)
        token = str(uuid.uuid4())
        await sio.connect(
            f"{self.base}/?token={token}",
            socketio_path="/_event",
            transports=["websocket"],
            namespaces=[EVENT_NAMESPACE],
            auth=auth_for(self.auth_template, session.path),
            headers={"Cookie": self.cookie} if self.cookie else {},
            wait_timeout=30,
        )
        await asyncio.wait_for(session.hydrated.wait(), 60)
        deadline = time.monotonic() + 30
        while session.loaded_panes != self.panes:
            if time.monotonic() > deadline:
                raise TimeoutError(f"session {session.index}: {session.loaded_panes} panes, not {self.panes}")
            await asyncio.sleep(0.05)

    async def _connect(self, prompts: list[str], at_once: int) -> None:
        gate = asyncio.Semaphore(at_once)
        start = len(self.sessions)
        fresh = [
            Session(start + i, prompt, prefill_path(prompt, self.panes), self.panes)
            for i, prompt in enumerate(prompts)
        ]
        self.sessions.extend(fresh)

        async def one(session: Session) -> None:
            async with gate:
                await self._connect_one(session)

        await asyncio.gather(*(one(s) for s in fresh))

    def connect(self, prompts: list[str], timeout_s: float = 180.0, at_once: int = 10) -> float:
        """Connect and hydrate one session per prompt (`at_once` at a time); returns the seconds taken."""
        started = time.monotonic()
        self._call(self._connect(prompts, at_once), timeout_s)
        return time.monotonic() - started

    # --- run -----------------------------------------------------------------
    async def _tick(self, every_s: float = 0.01) -> None:
        """How late this loop wakes up: a session's arrival time is only as true as its loop is
        prompt, so a busy client (not the server) would show as latency; the row reports it."""
        loop = asyncio.get_running_loop()
        while True:
            planned = loop.time() + every_s
            await asyncio.sleep(every_s)
            self.loop_lags_ms.append(max(0.0, loop.time() - planned) * 1000.0)

    async def _start(self, spread_s: float) -> None:
        self.loop_lags_ms = []
        self._ticker = asyncio.create_task(self._tick())
        for session in self.sessions:
            session.reset_round()
        router = None
        for session in self.sessions:
            assert session.sio is not None
            router = auth_for(self.auth_template, session.path)["event"]["router_data"]
            session.run_sent_at = time.time()
            await session.sio.emit("event", {"name": self.run_event, "router_data": router}, EVENT_NAMESPACE)
            if spread_s > 0:  # the presses spread evenly over spread_s, as a load test's ramp
                await asyncio.sleep(spread_s / len(self.sessions))

    def start_runs(self, spread_s: float = 0.0) -> None:
        """Press Run in every session: at once (the emits are queued together), or spread evenly
        over `spread_s` seconds; returns when all are sent."""
        _ReceivedBytes.total = 0
        _ReceivedBytes.counting = True
        self._call(self._start(spread_s), 60 + spread_s)

    async def _wait(self, timeout_s: float) -> list[int]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        for session in self.sessions:
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                await asyncio.wait_for(session.finished.wait(), left)
            except TimeoutError:
                break
        if self._ticker is not None:
            self._ticker.cancel()
        return [s.index for s in self.sessions if not s.finished.is_set()]

    def wait_finished(self, timeout_s: float) -> list[int]:
        """Wait until every session's runs are final (bounded); the sessions that did not finish."""
        try:
            return list(self._call(self._wait(timeout_s), timeout_s + 10))
        finally:
            _ReceivedBytes.counting = False

    @staticmethod
    def received_bytes() -> int:
        return _ReceivedBytes.total

    # --- close ---------------------------------------------------------------
    async def _close(self) -> None:
        async def one(session: Session) -> None:
            if session.sio is not None:
                try:
                    await asyncio.wait_for(session.sio.disconnect(), 10)
                except Exception as exc:
                    session.errors.append(f"disconnect: {exc}")

        await asyncio.gather(*(one(s) for s in self.sessions))

    def close(self) -> None:
        try:
            self._call(self._close(), 60)
        except TimeoutError:
            pass
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
