"""CPU of the streaming hot paths one at a time, optionally beside another checkout's.

    .venv/bin/python -m bench.stream_path                       # this checkout
    .venv/bin/python -m bench.stream_path --baseline DIR        # ... and DIR's, runs alternating
    # DIR: another checkout's tree (git worktree add --detach DIR <commit>, or git archive | tar -x)

At fifty streaming pages (bench.capacity, issue 22) the backend's one event loop pays, each
second, for about 20,400 chunks (worker -> embedded broker -> event pump) and 1,000 page
flushes (what a page has new, its live event, the push to its socket). bench.capacity's CPU a
token moves with the machine's load by more than these paths' changes, so each is measured
here alone, in CPU time (process_time), on uvloop as under Granian:

- chunk: build a ChunkEvent, publish it on the embedded broker, take it off as the pump does.
- flush: a page's collect over 4 panes with 5 new chunks each, and the live event built from it.
- push (this checkout only): the live event through Reflex's route for a yielded event
  (chain_updates, emit_update, python-socketio's emit) against state.live_push.push, over the
  Socket.IO server Reflex sets up, Engine.IO's send stubbed.

With --baseline each part runs in a fresh process per round, the two checkouts alternating, and
the medians are printed side by side with their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHUNKS = 50_000
FLUSHES = 3_000


async def _chunk() -> float:
    from backend.queue.embedded import EmbeddedBroker
    from backend.queue.messages import ChunkEvent

    broker, got = EmbeddedBroker(), 0

    async def consume() -> None:
        nonlocal got
        async for _event, _trace in broker.traced_events():
            got += 1
            if got == CHUNKS:
                return

    consumer = asyncio.create_task(consume())
    start = time.process_time()
    for i in range(CHUNKS):
        chunk = ChunkEvent(
            run_id="a" * 32, attempt=0, seq=i, text=" word", elapsed_ms=1.0, output_tokens=i + 1
        )
        await broker.publish(chunk)
        if i % 50 == 0:
            await asyncio.sleep(0)
    await consumer
    return (time.process_time() - start) / CHUNKS * 1e6


async def _flush() -> float:
    from backend.queue.messages import ChunkEvent
    from backend.streaming.follower import Follower, short_key
    from backend.streaming.hub import RunHub
    from components.live import apply_live_entries

    hub, ids = RunHub(), [f"{i:032x}" for i in range(4)]
    for run_id in ids:
        hub.track(run_id, 0)
    runs = {run_id: f"{run_id}:0" for run_id in ids}
    follower, seq, spent = Follower(hub, client_key=short_key), 0, 0.0
    for _ in range(FLUSHES):
        for _ in range(5):
            for run_id in ids:
                chunk = ChunkEvent(
                    run_id=run_id, attempt=0, seq=seq, text=" word", elapsed_ms=1.0, output_tokens=seq + 1
                )
                await hub.apply(chunk)
            seq += 1
        start = time.process_time()
        apply_live_entries(follower.collect(runs).live)
        spent += time.process_time() - start
    return spent / FLUSHES * 1e6


async def _push() -> tuple[float, float]:
    import reflex as rx
    from reflex.event import Event
    from reflex.istate.manager.memory import StateManagerMemory
    from reflex.state import StateUpdate
    from reflex_base.event.context import EventContext
    from reflex_base.event.processor.base_state_processor import chain_updates
    from reflex_base.registry import RegistrationContext

    from backend.streaming.follower import LiveEntry
    from components.live import apply_live_entries
    from state.live_push import push
    from state.session_guard import BoundSocket

    with RegistrationContext.get().fork():
        app = rx.App()
        app._enable_state()  # the Socket.IO server and namespace Reflex makes at start-up
    namespace = app.event_namespace
    assert namespace is not None
    server = namespace.server
    sid = await server.manager.connect("eio-1", namespace.namespace)
    await namespace._token_manager.link_token_to_sid("tab", sid)

    async def send_packet(eio_sid: str, pkt: object) -> None:
        return None

    server.eio.send_packet = send_packet

    async def emit_event(token: str, *events: Event) -> None:
        await namespace.emit_update(update=StateUpdate(events=list(events)), token=token)

    async def enqueue(token: str, *events: Event) -> None:
        return None

    EventContext.set(
        EventContext(
            token="tab",
            txid="bench",
            parent_txid=None,
            state_manager=StateManagerMemory(),  # type: ignore[abstract]  # as Reflex makes it for tests
            enqueue_impl=enqueue,
            emit_delta_impl=None,
            emit_event_impl=emit_event,
        )
    )
    text = " some words of a streamed answer," * 3
    entries = [
        LiveEntry(f"r{i}", 0, f"abcd123{i}:0", 100 * i, text, 30, None, 300.0, "running", False)
        for i in range(4)
    ]
    socket = BoundSocket(sid=sid, token="tab", _namespace=namespace)
    results = {}
    for route in ("reflex", "push"):
        start = time.process_time()
        for _ in range(FLUSHES):
            event = apply_live_entries(entries)
            if route == "reflex":
                await chain_updates(event, handler_name="stream", root_state=None)
            else:
                await push(socket, event)
        results[route] = (time.process_time() - start) / FLUSHES * 1e6
    return results["reflex"], results["push"]


def _child(part: str) -> None:
    import uvloop

    work = {"chunk": _chunk, "flush": _flush}[part]
    print(f"{uvloop.run(work()):.3f}")


def _measure(part: str, tree: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree), "REFLEX_TELEMETRY_ENABLED": "false"}
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", part],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", type=Path, help="another checkout's tree, measured alternately")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", choices=("chunk", "flush"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return
    trees = {"this": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    print(f"load average {os.getloadavg()[0]:.1f} at the start; CPU time, medians of {args.rounds} rounds")
    for part, unit in (("chunk", "us a chunk"), ("flush", "us a flush")):
        runs: dict[str, list[float]] = {name: [] for name in trees}
        for _ in range(args.rounds):
            for name in reversed(trees):  # the baseline first in each round
                runs[name].append(_measure(part, trees[name]))
        medians = {name: statistics.median(values) for name, values in runs.items()}
        line = ", ".join(f"{name} {medians[name]:.2f}" for name in trees)
        ratio = (
            f" (this / baseline {medians['this'] / medians['baseline']:.2f}x)"
            if "baseline" in medians
            else ""
        )
        print(f"{part}: {line} {unit}{ratio}")
    import uvloop

    sys.path.insert(0, str(ROOT))
    reflex_route, pushed = uvloop.run(_push())
    share = pushed / reflex_route
    print(f"push: Reflex's route {reflex_route:.1f}, live_push.push {pushed:.1f} us a flush ({share:.2f}x)")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
