"""The live batch pushed past Reflex's emit is what Reflex's emit would have sent.

`state.live_push.push` builds the Socket.IO packet itself from Reflex's `StateUpdate`; this
compares it, packet for packet, with Reflex's own `EventNamespace.emit_update` for the same
event over a real python-socketio server set up by Reflex (`App._enable_state`, a private
method: the test fails, rather than the page going quiet, if Reflex changes how it sends).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import reflex as rx
from reflex.state import StateUpdate
from reflex_base.registry import RegistrationContext

from backend.streaming.follower import LiveEntry
from components.live import apply_live_entries
from state.live_push import push
from state.session_guard import BoundSocket

TOKEN = "tab-token-1"


@pytest.fixture
async def socket_server() -> Any:
    # One App per registration context: a fork of the current one, as Reflex's message says.
    with RegistrationContext.get().fork():
        app = rx.App()
        app._enable_state()  # what Reflex does at start-up: the Socket.IO server and its namespace
    namespace = app.event_namespace
    assert namespace is not None
    server = namespace.server
    sid = await server.manager.connect("eio-1", namespace.namespace)
    await namespace._token_manager.link_token_to_sid(TOKEN, sid)
    sent: list[tuple[str, Any]] = []

    async def send_packet(eio_sid: str, pkt: Any) -> None:  # Engine.IO's socket, as it would get them
        sent.append((eio_sid, pkt.encode()))

    server.eio.send_packet = send_packet
    return namespace, sid, sent


def _entries() -> list[LiveEntry]:
    return [
        LiveEntry("r1", 0, "abcd1234:0", 0, 'Hello, 世界 😀 "quoted"', 7, 120.4, 130.0, "running", True),
        LiveEntry("r2", 0, "ef015678:0", 42, " more words", 12, None, 95.0, "running", False),
    ]


async def test_push_sends_the_packets_reflex_sends(socket_server: Any) -> None:
    namespace, sid, sent = socket_server
    event = apply_live_entries(_entries())

    await namespace.emit_update(StateUpdate(events=[event]), TOKEN)  # the yield's route
    through_reflex = list(sent)
    sent.clear()
    assert await push(BoundSocket(sid=sid, token=TOKEN, _namespace=namespace), event)

    assert through_reflex and sent == through_reflex
    eio_sid, encoded = sent[0]
    assert eio_sid == "eio-1"
    # An Engine.IO message ("4") carrying a Socket.IO event ("2") on Reflex's namespace.
    prefix = f"42{namespace.namespace},"
    assert encoded.startswith(prefix)
    name, update = json.loads(encoded[len(prefix) :])
    assert name == "event"
    assert update["events"][0]["name"] == "_call_script"
    assert "window.__llmLive.apply(" in update["events"][0]["payload"]["javascript_code"]


async def test_push_to_a_socket_gone_sends_nothing(socket_server: Any) -> None:
    namespace, sid, sent = socket_server
    await namespace.server.manager.disconnect(sid, namespace.namespace)
    assert await push(BoundSocket(sid=sid, token=TOKEN, _namespace=namespace), apply_live_entries(_entries()))
    assert sent == []


async def test_without_a_socket_the_caller_yields_to_reflex() -> None:
    # A stream started by a direct call (no socket): nothing to push to, Reflex sends it.
    assert not await push(BoundSocket(sid="", token=TOKEN), apply_live_entries(_entries()))
