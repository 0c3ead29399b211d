"""One side of `bench.kafka_intake`, run as a script against a checkout's `backend` (PYTHONPATH).

    python bench/kafka_intake_role.py producer BOOTSTRAP PREFIX RUNS TOKENS
    python bench/kafka_intake_role.py consumer BOOTSTRAP PREFIX RUNS TOKENS

A script, not a module of `bench`: the baseline checkout it may run against has no such module.
It imports only the product's queue, hub and time slice, as the workers and the web process use
them.  The producer streams RUNS runs of TOKENS chunks at 100 a second each (deadlines, as
simulated:steady paces, the runs started over 200 ms) through `KafkaBroker(role="worker").publish`;
each chunk's text is its emit time.  The consumer reads the events as the web process's pump does
(`traced_events`, a `TimeSlice`, `RunHub.apply`) until every run's final event came.  Each prints
"ready", waits for a line on stdin, then prints one JSON line of figures (its CPU from
process_time, over the round).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from backend.queue.kafka import KafkaBroker
from backend.queue.messages import ChunkEvent, FinalEvent, StartedEvent
from backend.settings import Settings
from backend.streaming.hub import RunHub
from backend.time_slice import TimeSlice

RATE_HZ = 100.0


def _settings(bootstrap: str, prefix: str) -> Settings:
    return Settings(kafka_bootstrap_servers=bootstrap, kafka_topic_prefix=prefix)


async def _wait_for_go() -> None:
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def produce(bootstrap: str, prefix: str, runs: int, tokens: int) -> dict[str, float]:
    broker = KafkaBroker(_settings(bootstrap, prefix), "worker")
    await broker.start()
    tag = f"{prefix}{time.monotonic_ns()}"
    try:
        await _wait_for_go()
        cpu0, wall0 = time.process_time(), time.monotonic()

        async def stream(i: int) -> None:
            run_id = f"{tag}-{i}"
            await asyncio.sleep(0.2 * i / runs)  # the Run burst: runs start over 200 ms
            await broker.publish(StartedEvent(run_id=run_id, attempt=0))
            started = due = time.monotonic()
            parts = []
            for seq in range(tokens):
                due += 1.0 / RATE_HZ
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                text = f" {time.time():.6f}"
                parts.append(text)
                elapsed = (time.monotonic() - started) * 1000.0
                await broker.publish(
                    ChunkEvent(
                        run_id=run_id,
                        attempt=0,
                        seq=seq,
                        text=text,
                        elapsed_ms=elapsed,
                        output_tokens=seq + 1,
                    )
                )
            await broker.publish(
                FinalEvent(
                    run_id=run_id,
                    attempt=0,
                    status="done",
                    output_text="".join(parts),
                    chunks=tokens,
                    output_tokens=tokens,
                    total_ms=(time.monotonic() - started) * 1000.0,
                )
            )

        await asyncio.gather(*(stream(i) for i in range(runs)))
        emitted_s = time.monotonic() - wall0
        cpu = time.process_time() - cpu0
    finally:
        await broker.stop()
    return {"cpu_s": cpu, "emit_s": emitted_s, "chunks": runs * tokens}


async def consume(bootstrap: str, prefix: str, runs: int, tokens: int) -> dict[str, object]:
    broker = KafkaBroker(_settings(bootstrap, prefix), "web")
    await broker.start()
    records = 0
    appended = 0.0  # the current record's timestamp: when the worker's producer appended it
    consumer_records = broker._records  # count the records the events came in

    async def counted(consumer):  # type: ignore[no-untyped-def]
        nonlocal records, appended
        async for record in consumer_records(consumer):
            records += 1
            appended = record.timestamp / 1000.0
            yield record

    broker._records = counted  # type: ignore[method-assign]
    hub = RunHub()
    lags: list[float] = []
    to_record: list[float] = []  # emit -> the producer's append (the gathering's wait)
    finals = 0
    try:
        await _wait_for_go()
        cpu0 = time.process_time()
        budget = TimeSlice()
        async for event, _trace in broker.traced_events():
            await budget.pause()
            await hub.apply(event)
            if isinstance(event, ChunkEvent):
                lags.append(time.time() - float(event.text))
                to_record.append(appended - float(event.text))
            elif isinstance(event, FinalEvent):
                finals += 1
                if finals >= runs:
                    break
        cpu = time.process_time() - cpu0
    finally:
        await broker.stop()
    return {
        "cpu_s": cpu,
        "chunks": len(lags),
        "records": records,
        "lags_ms": [round(lag * 1000.0, 2) for lag in lags],
        "to_record_ms": [round(lag * 1000.0, 2) for lag in to_record],
    }


def main() -> None:
    role, bootstrap, prefix, runs, tokens = sys.argv[1:6]
    work = produce if role == "producer" else consume
    result = asyncio.run(work(bootstrap, prefix, int(runs), int(tokens)))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
