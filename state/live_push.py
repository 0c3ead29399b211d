"""A stream's live batch, sent straight to the connection it is bound to.

A background event's yielded event reaches the browser through Reflex's `chain_updates`, a
`StateUpdate`, the namespace's `emit_update` (the tab's socket looked up by token, then a
`sleep(0)`) and python-socketio's `emit`, whose manager makes an asyncio task per recipient
and waits for it with `asyncio.wait`. At fifty streaming pages that is a thousand times a
second, for an event addressed to one socket we already know (`BoundSocket`). `push` hands
the same packet (the same `StateUpdate`, encoded by the same server with Reflex's JSON) to
Engine.IO's `send_packet` itself: what the browser receives is byte for byte what the yield
sent (tests/state/test_live_push.py compares both through Reflex's own `emit_update`, so
the test fails if Reflex or python-socketio change what they send).

Only the live batches go this way: they carry no state, so nothing is skipped but the
plumbing. Deltas still go through Reflex (`async with state`).
"""

from __future__ import annotations

from engineio import packet as eio_packet
from reflex.event import Event
from reflex.state import StateUpdate
from reflex_base.constants.event import SocketEvent
from socketio import packet as sio_packet

from state.session_guard import BoundSocket


async def push(socket: BoundSocket, event: Event) -> bool:
    """Send `event` to the socket's connection as Reflex would send it yielded from a background
    event. False when there is no socket here to send to directly (a direct call, no socket
    server in this process): the caller then yields it to Reflex."""
    namespace = socket.event_namespace() if socket.sid else None
    if namespace is None:
        return False
    server = namespace.server
    # python-socketio's public manager API: the Engine.IO session under the Socket.IO one.
    eio_sid = server.manager.eio_sid_from_sid(socket.sid, namespace.namespace)
    if eio_sid is None:  # disconnected since the caller checked: Reflex would drop it too
        return True
    data = [str(SocketEvent.EVENT), StateUpdate(events=[event])]
    encoded = server.packet_class(sio_packet.EVENT, namespace=namespace.namespace, data=data).encode()
    for part in encoded if isinstance(encoded, list) else [encoded]:
        await server.eio.send_packet(eio_sid, eio_packet.Packet(eio_packet.MESSAGE, part))
    return True
