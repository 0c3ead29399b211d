"""A worker's side of the requests topic: run requests taken in the shared worker group.

Offsets are committed only once a run's final event is out (at-least-once; see
`offsets.OffsetTracker`), a request redelivered while this process still runs
it is not handed out twice, and unparseable requests go to the dead-letter
topic.  The broker (`kafka.KafkaBroker`) owns the producer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from backend import tracing
from backend.observability import QUEUE_LAG
from backend.queue.base import Delivery
from backend.queue.kafka_auth import client_options
from backend.queue.messages import RunTask
from backend.queue.offsets import OffsetTracker
from backend.settings import Settings

log = logging.getLogger(__name__)

_Offset = tuple[TopicPartition, int, OffsetTracker]  # a request: partition, offset, tracker it was added to
DeadLetter = Callable[[bytes, str, str], Awaitable[None]]  # (data, reason, source)


class RequestDeliveries:
    def __init__(
        self,
        settings: Settings,
        topic: str,
        *,
        dead_letter: DeadLetter,
    ) -> None:
        self._settings = settings
        self._topic = topic
        self._dead_letter = dead_letter
        self._consumer: AIOKafkaConsumer | None = None
        self._trackers: dict[TopicPartition, OffsetTracker] = {}
        # (run, attempt) -> where its request(s) sit: partition, offset and the tracker they were added to
        self._inflight: dict[tuple[str, int], list[_Offset]] = {}
        self._waiters: dict[tuple[str, int], asyncio.Event] = {}
        self._paused = False

    def pause(self) -> None:
        """Stop handing out new tasks (graceful shutdown); in-flight ones can still ack."""
        self._paused = True

    async def stop(self) -> None:
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()

    async def deliveries(self) -> AsyncIterator[Delivery]:
        """Requests, one at a time, as the worker takes them.

        A separate task polls the consumer, so it keeps polling while the worker is busy (all
        its slots streaming, the next delivery waiting): a consumer that goes longer than
        KAFKA_MAX_POLL_INTERVAL_MS without polling is expelled from the group, its partitions
        and uncommitted runs go to another worker, and those runs are called twice.  While
        fetched requests wait here, their partitions are paused, so polling fetches no more.
        """
        consumer = self._new_consumer()
        await consumer.start()
        ready: asyncio.Queue[tuple[TopicPartition, Any, OffsetTracker]] = asyncio.Queue()
        poller = asyncio.create_task(self._poll(consumer, ready), name="kafka-requests")
        try:
            while True:
                if self._paused:
                    await asyncio.sleep(3600)
                    continue
                taking = asyncio.ensure_future(ready.get())
                await asyncio.wait({taking, poller}, return_when=asyncio.FIRST_COMPLETED)
                if not taking.done():
                    taking.cancel()
                    poller.result()  # the poller failed: raise its error here
                    return
                tp, record, tracker = taking.result()
                if self._paused or tracker.revoked:
                    continue  # revoked meanwhile: its new owner fetches it again
                delivery = await self._delivery(tp, record, tracker)
                if delivery is not None:
                    yield delivery
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await poller

    async def _poll(
        self, consumer: AIOKafkaConsumer, ready: asyncio.Queue[tuple[TopicPartition, Any, OffsetTracker]]
    ) -> None:
        while True:
            waiting = self._paused or not ready.empty()
            assignment = consumer.assignment()
            if waiting:
                consumer.pause(*assignment)
            elif consumer.paused():
                consumer.resume(*consumer.paused())
            batches = await consumer.getmany(timeout_ms=200 if waiting else 1000, max_records=50)
            for tp, records in batches.items():
                tracker = self._trackers.get(tp)
                for record in records:
                    if tracker is None or tracker.revoked or tp not in consumer.assignment():
                        break  # revoked meanwhile: its new owner fetches it again
                    tracker.add(record.offset)
                    ready.put_nowait((tp, record, tracker))
            self._measure_lag(consumer)

    def _measure_lag(self, consumer: AIOKafkaConsumer) -> None:
        """Each assigned partition's consumer lag (QUEUE_LAG): its end offset less the first
        request not done here (in flight or waiting), else less the one after the last fetched.
        Nothing is asked of the broker: the end offset comes with every fetch's answer, and a
        partition whose fetches brought nothing since it was assigned here is caught up."""
        for tp in consumer.assignment():
            end = consumer.highwater(tp)  # known once a fetch answered for the partition
            tracker = self._trackers.get(tp)
            if end is None or tracker is None:
                continue
            first = tracker.first_pending()
            start = first if first is not None else (tracker.next_offset or end)
            QUEUE_LAG.labels(str(tp.partition)).set(max(0, end - start))

    def _new_consumer(self) -> AIOKafkaConsumer:
        s = self._settings
        consumer = AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap_servers,
            **client_options(s),
            group_id=s.kafka_worker_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=s.kafka_session_timeout_ms,
            heartbeat_interval_ms=s.kafka_heartbeat_interval_ms,
            max_poll_interval_ms=s.kafka_max_poll_interval_ms,
            rebalance_timeout_ms=s.kafka_session_timeout_ms,
            fetch_max_wait_ms=s.kafka_fetch_max_wait_ms,
            metadata_max_age_ms=5000,
        )
        consumer.subscribe([self._topic], listener=_Rebalance(self))
        self._consumer = consumer
        return consumer

    async def _delivery(self, tp: TopicPartition, record: Any, tracker: OffsetTracker) -> Delivery | None:
        source = f"{tp.topic}/{tp.partition}/{record.offset}"
        try:
            task = RunTask.from_bytes(record.value)
        except ValueError as exc:
            log.error("dead-lettering unparseable request %s: %s", source, exc)
            await self._dead_letter(record.value or b"", f"unparseable request: {exc}", source)
            await self._complete([(tp, record.offset, tracker)])
            return None
        key = (task.run_id, task.attempt)
        if key in self._inflight:  # redelivered while this process still runs it
            self._inflight[key].append((tp, record.offset, tracker))
            return None
        self._inflight[key] = [(tp, record.offset, tracker)]
        self._waiters[key] = asyncio.Event()

        async def ack() -> None:
            self._waiters.pop(key, asyncio.Event()).set()
            await self._complete(self._inflight.pop(key, []))

        async def dead_letter(reason: str) -> None:
            await self._dead_letter(record.value, reason, source)

        trace = tracing.from_kafka_headers(record.headers)  # the run's spans join the sender's trace
        return Delivery(task=task, ack=ack, dead_letter=dead_letter, trace=trace)

    async def _complete(self, offsets: list[_Offset]) -> None:
        commits: dict[TopicPartition, int] = {}
        for tp, offset, tracker in offsets:
            commit = tracker.complete(offset)
            # Only the tracker of the partition's current assignment commits: one from before a
            # rebalance counts offsets of a partition that is another consumer's now.
            if commit is not None and self._trackers.get(tp) is tracker:
                commits[tp] = commit
        if commits and self._consumer is not None:
            try:
                await self._consumer.commit(commits)
            except Exception as exc:  # rebalanced meanwhile: the new owner will skip or redo it
                log.warning("could not commit %s: %r", commits, exc)

    # --- the group changed ------------------------------------------------------------
    def assigned(self, partitions: set[TopicPartition]) -> None:
        """New request partitions: fresh offset trackers (reading starts at the group's commits)."""
        for tp in partitions:
            self._trackers[tp] = OffsetTracker()

    async def drain(self, partitions: set[TopicPartition], timeout_s: float) -> None:
        """Give in-flight runs of partitions being revoked a moment to finish (then they are redone)."""
        waiting = [
            self._waiters[key].wait()
            for key, where in self._inflight.items()
            if key in self._waiters and any(tp in partitions for tp, _, _ in where)
        ]
        if waiting:
            await asyncio.wait([asyncio.ensure_future(w) for w in waiting], timeout=timeout_s)
        for tp in partitions:
            tracker = self._trackers.pop(tp, None)
            if tracker is not None:
                tracker.revoked = True
            with contextlib.suppress(KeyError):  # another worker's lag to report now
                QUEUE_LAG.remove(str(tp.partition))

    @property
    def drain_timeout_s(self) -> float:
        return self._settings.kafka_session_timeout_ms / 2000


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, requests: RequestDeliveries) -> None:
        self._requests = requests

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if revoked:
            log.info("request partitions revoked: %s", _partition_list(revoked))
        await self._requests.drain(set(revoked), self._requests.drain_timeout_s)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("request partitions assigned: %s", _partition_list(assigned))
        self._requests.assigned(set(assigned))


def _partition_list(tps: set[TopicPartition]) -> str:
    return ",".join(str(tp.partition) for tp in sorted(tps)) or "none"
