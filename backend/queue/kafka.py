"""The Broker on Kafka (aiokafka): the same contract as the embedded queue, across processes.

Topics (names from `kafka_topics.Topics`): `requests` (one RunTask per run, keyed by
comparison and run so a comparison's panes spread over partitions), `events`
(started/chunk/final, keyed by run so a run's events stay in order),
`cancellations`, `dead-letter` and `heartbeats`.

- Web side (`role="web"`): `submit`/`request_cancel` produce; `events()` reads every
  partition of the events topic from the end (no group: every replica sees every
  event, so whichever replica a browser is on gets its chunks).
- Worker side (`role="worker"`): `deliveries()` reads requests in the shared worker
  group without auto-commit; a delivery's `ack` commits its offset once the run's
  final event is out (at-least-once; see `kafka_requests`).  Unparseable
  requests go to the dead-letter topic and are committed.
- Recovery: producing retries with backoff; a watchdog re-creates missing topics
  (a restarted broker with memory storage loses them) and re-reads a tailed topic
  from its start when its partitions changed, the broker's epoch marker changed (it
  lost its state) or the partition is empty behind our position (Tansu then returns
  empty fetches, not OFFSET_OUT_OF_RANGE).  The worker group rejoins and re-reads
  uncommitted requests by itself.  Requests and final events the broker lost with
  its state are the app's to queue again (`on_lost_state`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from backend.queue.base import AnyEvent, Delivery
from backend.queue.kafka_requests import RequestDeliveries, rewind_if_truncated
from backend.queue.kafka_topics import Topics, ensure_topics
from backend.queue.messages import CancelRequest, ChunkEvent, RunTask, decode_event
from backend.settings import Settings

log = logging.getLogger(__name__)

Role = Literal["web", "worker"]
SEND_TIMEOUT_S = 60.0  # give up on one message after this long (broker down)
PRODUCER_BATCH_BYTES = 512 * 1024
# How long sends gather into one produce request.  A worker's chunks: 10 ms, as Tansu's CPU goes
# by record batch (at one session's 800 chunks/s: 0.30 cores at 2 ms, 0.12 at 10; on 2 cores what
# the broker saves goes to the browser; bench/kafka_cost.py) and the page shows text at most 10
# times a second anyway.  The web's run requests and stops are few and on a user's wait: 2 ms.
PRODUCER_LINGER_MS: dict[Role, int] = {"web": 2, "worker": 10}
SLOW_FETCH_WAIT_MS = 500  # heartbeats: nobody waits on them to the millisecond (see `_tail`)
# A worker's tail of the stops (one partition, few messages).  At the 20 ms of the chunks' path,
# the fetches of idle workers cost CPU for nothing; at 100 ms (bench.kafka_stops: 2 idle workers
# and a web replica) Tansu used 0.06 cores instead of 0.11 and the clients 0.05 instead of 0.07,
# and a stop still arrived in 6 ms p50, 29 ms max (at 500 ms it waited 127 ms).
CANCEL_FETCH_WAIT_MS = 100


class KafkaBroker:
    def __init__(self, settings: Settings, role: Role) -> None:
        self._settings = settings
        self._role = role
        self.topics = Topics.from_settings(settings)
        self._bootstrap = settings.kafka_bootstrap_servers
        self._producer: AIOKafkaProducer | None = None
        self._consumers: list[AIOKafkaConsumer] = []
        self._events: AIOKafkaConsumer | None = None
        self._cancels: AIOKafkaConsumer | None = None
        self._requests = (
            RequestDeliveries(
                settings, self.topics.requests, dead_letter=self.dead_letter, same_epoch=self._same_epoch
            )
            if role == "worker"
            else None
        )
        self._ensure_lock = asyncio.Lock()
        self._ensured_at = 0.0
        self._closed = False
        self.heartbeats: dict[str, float] = {}  # worker id -> last heartbeat (web side)
        self._tails: list[tuple[AIOKafkaConsumer, str]] = []
        self._epoch_reader: AIOKafkaConsumer | None = None
        self._epoch: bytes | None = None
        self._epoch_lock = asyncio.Lock()  # one reader of the epoch marker at a time
        self._background: list[asyncio.Task[None]] = []
        # Called (with the monotonic time) when the broker is found to have lost its state, to
        # send again what was lost with it: the web side queues silent runs again
        # (ComparisonService.requeue_lost), a worker publishes its recent final events again.
        self.on_lost_state: Callable[[float], Awaitable[object]] | None = None

    # --- lifecycle -----------------------------------------------------------------
    async def start(self) -> None:
        await self._ensure_topics(force=True)
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            linger_ms=PRODUCER_LINGER_MS[self._role],
            acks=1,
            # The producer sends one request at a time, holding at most one batch per partition;
            # at the default 16 KB a worker streaming 8,000 chunks a second into one events
            # partition needed a round trip under 10 ms to keep up, and a backlog grew whenever
            # the machine was busy.  Batches are only as large as what waited meanwhile.
            max_batch_size=PRODUCER_BATCH_BYTES,
        )
        await self._producer.start()
        self._epoch = await self._current_epoch()
        if self._role == "web":
            self._events = await self._tail(self.topics.events)
            heartbeats = await self._tail(self.topics.heartbeats, back=200, fetch_wait_ms=SLOW_FETCH_WAIT_MS)
            self._background.append(asyncio.create_task(self._watch_heartbeats(heartbeats)))
        else:
            self._cancels = await self._tail(self.topics.cancellations, fetch_wait_ms=CANCEL_FETCH_WAIT_MS)
        self._background.append(asyncio.create_task(self._watchdog()))

    async def stop(self) -> None:
        self._closed = True
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for consumer in self._consumers:
            with contextlib.suppress(Exception):
                await consumer.stop()
        self._consumers.clear()
        if self._requests is not None:
            await self._requests.stop()
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()

    async def _ensure_topics(self, force: bool = False) -> None:
        async with self._ensure_lock:
            if not force and time.monotonic() - self._ensured_at < 2.0:
                return  # another sender just did it
            await ensure_topics(self._settings, self.topics)
            self._ensured_at = time.monotonic()

    async def _tail(self, topic: str, back: int = 0, fetch_wait_ms: int | None = None) -> AIOKafkaConsumer:
        """A group-less consumer on every partition of `topic`, positioned `back` messages from the end.

        A fetch waits `fetch_wait_ms` at most (default KAFKA_FETCH_MAX_WAIT_MS) for data.  Tansu
        answers a waiting fetch late even when data arrives meanwhile (a fetch over several
        partitions when the wait runs out; over one, within 100-250 ms measured): its default
        (500 ms) would sit on every streamed chunk's path (bench/RESULTS.md, "broker waits before
        answering").  A short wait means frequent fetches, each costing the broker CPU, so topics
        off the chunks' path (heartbeats, a worker's stops) wait longer."""
        assert self._producer is not None
        partitions = [TopicPartition(topic, p) for p in sorted(await self._producer.partitions_for(topic))]
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=fetch_wait_ms or self._settings.kafka_fetch_max_wait_ms,
        )
        await consumer.start()
        self._consumers.append(consumer)
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, max(0, ends[tp] - back))
        self._tails.append((consumer, topic))
        return consumer

    async def _watchdog(self, every_s: float = 1.0, round_timeout_s: float = 8.0) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                # A call on a connection the broker dropped can wait for ever; a round that hangs
                # would keep the app from ever noticing a restart, so each round is bounded.
                async with asyncio.timeout(round_timeout_s):
                    await self._check_topics()
            except TimeoutError:
                log.warning("Kafka watchdog: a check took over %.0f s; trying again", round_timeout_s)
            except Exception as exc:  # broker down: try again next round
                log.warning("Kafka watchdog: %r", exc)

    @property
    def epoch(self) -> bytes | None:
        """The broker state this client follows; it changes when the broker lost its state."""
        return self._epoch

    async def _current_epoch(self) -> bytes:
        """The marker at offset 0 of the epoch topic, written by whoever finds it empty.

        A broker that lost its state (Tansu with memory storage, restarted) comes back
        with new, empty topics, and messages produced since may sit at offsets our
        consumers already passed.  A changed marker is the one reliable sign of that.
        """
        async with self._epoch_lock:
            tp = TopicPartition(self.topics.epoch, 0)
            if self._epoch_reader is None:
                self._epoch_reader = AIOKafkaConsumer(
                    bootstrap_servers=self._bootstrap, enable_auto_commit=False
                )
                await self._epoch_reader.start()
                self._consumers.append(self._epoch_reader)
                self._epoch_reader.assign([tp])
            for _ in range(2):
                self._epoch_reader.seek(tp, 0)
                batch = await self._epoch_reader.getmany(tp, timeout_ms=1000, max_records=1)
                if batch.get(tp):
                    return bytes(batch[tp][0].value or b"")
                await self._send(self.topics.epoch, uuid.uuid4().hex.encode(), key="epoch")
            raise KafkaError("the epoch marker could not be read back")

    async def _check_topics(self) -> None:
        """Notice a broker that lost its topics (restart) and put everything back on track."""
        assert self._producer is not None
        client = self._producer.client
        cluster = await client.fetch_all_metadata()
        if not set(self.topics.partitions(self._settings)) <= cluster.topics():
            log.warning("Kafka topics are missing (broker restarted?); creating them again")
            await self._ensure_topics(force=True)
            cluster = await client.fetch_all_metadata()
        epoch = await self._current_epoch()
        if epoch != self._epoch:
            log.warning("the Kafka broker lost its state (restarted); reading every topic again from 0")
            await client.force_metadata_update()  # partitions may differ on the new broker
            # From here on nothing awaits: a watchdog timeout cannot leave the epoch switched
            # without the rewind.
            self._epoch = epoch
            self._rewind_all(cluster)
            if self.on_lost_state is not None:
                self._background.append(
                    asyncio.create_task(self._recover(self.on_lost_state, time.monotonic()))
                )
            return
        for consumer, topic in self._tails:
            tps = {TopicPartition(topic, p) for p in cluster.partitions_for_topic(topic) or ()}
            if not tps:
                continue
            if tps != consumer.assignment():
                log.warning("partitions of %s changed; reading it again from the start", topic)
                consumer.assign(sorted(tps))
                for tp in tps:
                    consumer.seek(tp, 0)
                continue
            await rewind_if_truncated(consumer, tps)
        if self._requests is not None:
            await self._requests.rewind_if_truncated()

    @staticmethod
    async def _recover(hook: Callable[[float], Awaitable[object]], lost_at: float) -> None:
        try:
            await hook(lost_at)
        except Exception:
            log.exception("could not queue again what the broker lost")

    def _rewind_all(self, cluster: Any) -> None:
        """Read everything again from offset 0: replays are harmless (the hub drops duplicate
        chunks, the pump saves a final record once, workers skip finished runs)."""
        for consumer, topic in self._tails:
            tps = sorted(TopicPartition(topic, p) for p in cluster.partitions_for_topic(topic) or ())
            if tps:
                consumer.assign(tps)
                for tp in tps:
                    consumer.seek(tp, 0)
        if self._requests is not None:
            self._requests.rewind_after_lost_state()

    # --- producing -------------------------------------------------------------------
    async def _send(
        self,
        topic: str,
        value: bytes,
        key: str,
        headers: list[tuple[str, bytes]] | None = None,
        *,
        wait_for_ack: bool = True,
    ) -> None:
        assert self._producer is not None, "start() the broker first"
        deadline = time.monotonic() + SEND_TIMEOUT_S
        delay = 0.2
        while True:
            if self._closed:
                raise RuntimeError("the Kafka broker client is stopped")
            try:
                async with asyncio.timeout(10.0):
                    # `send` returns once the record is in the producer's buffer (a restarted
                    # broker may first have to be asked for the topic again).
                    sent = await self._producer.send(topic, value, key=key.encode(), headers=headers)
                    if wait_for_ack:
                        await sent
                if not wait_for_ack:
                    sent.add_done_callback(_log_undelivered)
                return
            except (KafkaError, TimeoutError) as exc:
                if time.monotonic() > deadline:
                    raise
                log.warning("sending to %s failed (%r); retrying in %.1f s", topic, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 3.0)
            with contextlib.suppress(Exception):
                await self._ensure_topics()  # a restarted broker may have lost them

    async def submit(self, task: RunTask) -> None:
        await self._send(self.topics.requests, task.to_bytes(), f"{task.comparison_id}:{task.run_id}")

    async def request_cancel(self, cancel: CancelRequest) -> None:
        await self._send(self.topics.cancellations, cancel.to_bytes(), cancel.run_id)

    async def publish(self, event: AnyEvent) -> None:
        # Chunks do not wait for the broker's acknowledgement.  Waiting held each stream to one
        # chunk per round trip and made a produce request of every few chunks; Tansu's cost is per
        # record batch (bench/RESULTS.md, `bench.kafka_cost`).  Not waiting lets the producer put
        # all that came during one request into the next.  Order is kept: a run's
        # events share a key, so a partition, and the producer sends one request at a time.  A
        # chunk the broker never takes (down longer than the producer's request timeout) is lost
        # to live viewers only: the final event, sent after the chunks and acknowledged, carries
        # the whole text, and the hub and the pump take that as the truth.
        wait = not isinstance(event, ChunkEvent)
        await self._send(self.topics.events, event.to_bytes(), event.run_id, wait_for_ack=wait)

    async def dead_letter(self, data: bytes, reason: str, source: str) -> None:
        headers = [("reason", reason.encode()), ("source", source.encode())]
        await self._send(self.topics.dead_letter, data, source, headers)

    async def publish_heartbeat(self, worker_id: str) -> None:
        beat = json.dumps({"worker_id": worker_id, "ts": time.time()}).encode()
        await self._send(self.topics.heartbeats, beat, worker_id)

    def live_workers(self, max_age_s: float) -> list[str]:
        now = time.time()
        return sorted(w for w, ts in self.heartbeats.items() if now - ts <= max_age_s)

    async def reachable(self, timeout_s: float = 2.0) -> bool:
        """Whether a bootstrap server accepts a connection and answers a metadata request."""
        if self._producer is None:
            return False
        try:
            metadata = await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout_s)
        except (KafkaError, TimeoutError, OSError):
            return False
        return bool(metadata.brokers())

    # --- consuming -------------------------------------------------------------------
    async def _records(self, consumer: AIOKafkaConsumer) -> AsyncIterator[Any]:
        while True:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    yield record

    async def events(self) -> AsyncIterator[AnyEvent]:
        assert self._events is not None, "events() is for the web role"
        async for record in self._records(self._events):
            try:
                yield decode_event(record.value)
            except ValueError:
                log.warning("dropping an undecodable event at %s/%s", record.partition, record.offset)

    async def cancellations(self) -> AsyncIterator[CancelRequest]:
        assert self._cancels is not None, "cancellations() is for the worker role"
        async for record in self._records(self._cancels):
            with contextlib.suppress(ValueError):
                yield CancelRequest.from_bytes(record.value)

    async def _watch_heartbeats(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            try:
                async for record in self._records(consumer):
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        beat = json.loads(record.value)
                        self.heartbeats[str(beat["worker_id"])] = float(beat["ts"])
            except KafkaError as exc:
                log.warning("heartbeat consumer failed (%r); retrying", exc)
                await asyncio.sleep(1.0)

    def pause_deliveries(self) -> None:
        """Stop handing out new tasks (graceful shutdown); in-flight ones can still ack."""
        assert self._requests is not None, "deliveries are for the worker role"
        self._requests.pause()

    def deliveries(self) -> AsyncIterator[Delivery]:
        """Requests, one at a time, as the worker takes them (see `kafka_requests`)."""
        assert self._requests is not None, "deliveries are for the worker role"
        return self._requests.deliveries()

    async def _same_epoch(self, timeout_s: float = 5.0) -> bool:
        """Whether the broker still has the state we follow (False when it cannot tell)."""
        try:
            return await asyncio.wait_for(self._current_epoch(), timeout_s) == self._epoch
        except Exception:
            return False


def _log_undelivered(sent: asyncio.Future[Any]) -> None:
    if not sent.cancelled() and sent.exception() is not None:
        log.warning("a message sent without waiting was not delivered: %r", sent.exception())
