"""The queue on Kafka (aiokafka): the same contract as the embedded queue, across processes.

Topics (names from `kafka_topics.Topics`): `requests` (one RunTask per run, keyed by
comparison and run, sent to the partitions in turn so the workers get equal shares), `events`
(started/chunk/final, keyed by run so a run's events stay in order),
`cancellations`, `dead-letter` and `heartbeats`.

- Trace context (backend/tracing.py) rides in the record headers of run requests and
  final events (`traceparent`, `tracestate`), never in the JSON body; chunks carry none.
- Web side (`role="web"`): `submit`/`request_cancel` produce; `events()` reads every
  partition of the events topic from the end (no group: every replica sees every
  event, so whichever replica a browser is on gets its chunks).
- Worker side (`role="worker"`): `deliveries()` reads requests in the shared worker
  group without auto-commit; a delivery's `ack` commits its offset once the run's
  final event is out (at-least-once; see `kafka_requests`).  Unparseable
  requests go to the dead-letter topic and are committed.
- Durability: every producer waits for all in-sync replicas (acks=all), so a message
  acknowledged is on KAFKA_REPLICATION_FACTOR brokers (as many as the topic's
  min.insync.replicas demands) and survives a broker's crash; a broker keeps its log
  on disk across restarts.
- Recovery is Kafka's own: clients reconnect and follow partition leadership by
  themselves; producing retries with backoff while no broker takes the message; the
  worker group rejoins and re-reads uncommitted requests; a group-less tail whose
  position is no longer in the log (retention removed it, or the topic was deleted
  and created again) gets OFFSET_OUT_OF_RANGE and starts again from the earliest
  offset.  A watchdog creates topics that went missing and assigns partitions
  added to a tailed topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.client import ConnectionGroup
from aiokafka.errors import KafkaError
from aiokafka.protocol.metadata import MetadataRequest

from backend import tracing
from backend.queue.base import AnyEvent, Delivery
from backend.queue.kafka_auth import client_options
from backend.queue.kafka_chunks import ChunkGatherer
from backend.queue.kafka_partitioner import CachedKeyPartitioner
from backend.queue.kafka_requests import RequestDeliveries
from backend.queue.kafka_topics import Topics, ensure_topics
from backend.queue.messages import CancelRequest, ChunkEvent, RunTask, decode_record
from backend.settings import Settings
from backend.tracing import Carrier

log = logging.getLogger(__name__)

Role = Literal["web", "worker"]
SEND_TIMEOUT_S = 60.0  # give up on one message after this long (broker down)
STOP_DRAIN_S = 5.0  # on stop, how long gathered chunks may take to reach the producer's buffer
PRODUCER_BATCH_BYTES = 512 * 1024
# How long a worker's chunks gather before they go: 10 ms.  The broker's work goes by produce
# request and record batch: at one session's 800 chunks/s on one node (acks=all, 2 cores shared
# with the client) it used 0.14-0.17 cores at 10 ms against 0.14-0.32 at 2 ms, for a chunk latency
# of 7-9 ms p50 against 4 ms, and the page shows text at most STREAM_FLUSH_HZ times a second
# anyway.  They gather in a `ChunkGatherer` (one record per partition and window,
# backend/queue/kafka_chunks.py), which was the producer's linger until then; the worker's producer
# no longer lingers (its other sends, a run's start and end, are two a run).  The web's run
# requests and stops are few and on a user's wait: 2 ms.
# A 3 ms window while chunks came slowly (one session) was tried and removed: in bench.capacity at
# one session, on a warmed-up node, the sessions' receive p50 was 2-3 ms lower, the p95 no lower,
# for 0.18 more cores (node, workers, web process) on a machine the page and the indexer already
# keep busy (bench/RESULTS.md, 2026-12-05 session 17).
CHUNK_WINDOW_S = 0.010
PRODUCER_LINGER_MS: dict[Role, int] = {"web": 2, "worker": 0}


class KafkaBroker:
    """`RunQueue` with role="web" (plus `RemoteWorkers`: reachability, worker heartbeats);
    `WorkSource` with role="worker"."""

    name = "kafka"

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
            RequestDeliveries(settings, self.topics.requests, dead_letter=self.dead_letter)
            if role == "worker"
            else None
        )
        self._closed = False
        self.heartbeats: dict[str, float] = {}  # worker id -> last heartbeat (web side)
        self._tails: list[tuple[AIOKafkaConsumer, str]] = []
        self._background: list[asyncio.Task[None]] = []
        self._partitioner = CachedKeyPartitioner()
        self._request_turn = random.randrange(1_000)  # replicas start their turns apart
        self._chunks = ChunkGatherer(self._send_chunks, CHUNK_WINDOW_S)

    # --- lifecycle -----------------------------------------------------------------
    async def start(self) -> None:
        await ensure_topics(self._settings, self.topics)
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            **client_options(self._settings),
            linger_ms=PRODUCER_LINGER_MS[self._role],
            # Acknowledged once every in-sync replica has it: a request, a stop or a final event
            # the app was told is sent survives the crash of the partition's leader.  Chunks lose
            # nothing by it (they do not wait for acknowledgements, and consumers only see a record
            # once the in-sync replicas have it anyway): at 800 chunks/s, one node, 7-8 ms p50 and
            # 14-15 ms p95 with acks=1 or all; three nodes (3 replicas), 13 ms p50 with either.
            acks="all",
            # The producer sends one request at a time, holding at most one batch per partition;
            # at the default 16 KB a worker streaming 8,000 chunks a second into one events
            # partition needed a round trip under 10 ms to keep up, and a backlog grew whenever
            # the machine was busy.  Batches are only as large as what waited meanwhile.
            max_batch_size=PRODUCER_BATCH_BYTES,
            partitioner=self._partitioner,
        )
        await self._producer.start()
        if self._role == "web":
            await self._producer.partitions_for(self.topics.requests)  # the first request goes in turn too
            self._events = await self._tail(self.topics.events)
            heartbeats = await self._tail(self.topics.heartbeats, back=200)
            self._background.append(asyncio.create_task(self._watch_heartbeats(heartbeats)))
        else:
            self._cancels = await self._tail(self.topics.cancellations)
        self._background.append(asyncio.create_task(self._watchdog()))

    async def stop(self) -> None:
        with contextlib.suppress(Exception):  # chunks still gathered go before the producer stops
            await asyncio.wait_for(self._chunks.drain(), STOP_DRAIN_S)
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

    async def _tail(self, topic: str, back: int = 0) -> AIOKafkaConsumer:
        """A group-less consumer on every partition of `topic`, positioned `back` messages from the end.

        A fetch waits up to KAFKA_FETCH_MAX_WAIT_MS, but the broker answers as soon as a record
        arrives: the wait bounds how often an idle consumer asks, not how late a chunk or a stop
        comes (see Settings.kafka_fetch_max_wait_ms)."""
        assert self._producer is not None
        partitions = [TopicPartition(topic, p) for p in sorted(await self._producer.partitions_for(topic))]
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            **client_options(self._settings),
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self._settings.kafka_fetch_max_wait_ms,
        )
        await consumer.start()
        self._consumers.append(consumer)
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, max(0, ends[tp] - back))
        self._tails.append((consumer, topic))
        return consumer

    async def _watchdog(self, every_s: float = 5.0, round_timeout_s: float = 8.0) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                # A call on a connection the broker dropped can wait for ever; a round that hangs
                # would keep later rounds from running, so each round is bounded.
                async with asyncio.timeout(round_timeout_s):
                    await self._check_topics()
            except TimeoutError:
                log.warning("Kafka watchdog: a check took over %.0f s; trying again", round_timeout_s)
            except Exception as exc:  # no broker answers: try again next round
                log.warning("Kafka watchdog: %r", exc)

    async def _check_topics(self) -> None:
        """Create topics that went missing (deleted by hand: with auto-creation off, nothing could
        be sent to them) and follow partitions added to a tailed topic: a consumer with manually
        assigned partitions never reads a new one by itself."""
        assert self._producer is not None
        client = self._producer.client
        cluster = await client.fetch_all_metadata()
        if not set(self.topics.partitions(self._settings)) <= cluster.topics():
            log.warning("Kafka topics are missing; creating them again")
            await ensure_topics(self._settings, self.topics)
            cluster = await client.fetch_all_metadata()
        for consumer, topic in self._tails:
            tps = {TopicPartition(topic, p) for p in cluster.partitions_for_topic(topic) or ()}
            current = consumer.assignment()
            if not tps or tps <= current:
                continue
            added = tps - current
            log.warning("%s gained partitions %s; reading them from the start", topic, sorted(added))
            positions = {tp: await consumer.position(tp) for tp in current}
            consumer.assign(sorted(current | tps))
            for tp, offset in positions.items():
                consumer.seek(tp, offset)
            for tp in added:
                consumer.seek(tp, 0)

    # --- producing -------------------------------------------------------------------
    async def _send(
        self,
        topic: str,
        value: bytes,
        key: str | None,
        headers: list[tuple[str, bytes]] | None = None,
        *,
        wait_for_ack: bool = True,
        partition: int | None = None,
    ) -> None:
        assert self._producer is not None, "start() the broker first"
        key_bytes = key.encode() if key is not None else None
        if not wait_for_ack and self._producer.client.cluster.partitions_for_topic(topic):
            # The streaming hot path (a chunk): with the topic's partitions known, `send` only
            # appends to a batch and returns; it waits only while the partition's batch is full
            # (the broker takes nothing), and then no longer than the producer's request timeout.
            # A timer per chunk (asyncio.timeout) cost as much as the rest of the send.
            try:
                sent = await self._producer.send(
                    topic, value, key=key_bytes, partition=partition, headers=headers
                )
            except KafkaError as exc:
                log.warning("sending to %s failed (%r); retrying", topic, exc)
            else:
                sent.add_done_callback(_log_undelivered)
                return
        deadline = time.monotonic() + SEND_TIMEOUT_S
        delay = 0.2
        while True:
            if self._closed:
                raise RuntimeError("the Kafka broker client is stopped")
            try:
                async with asyncio.timeout(10.0):
                    # `send` returns once the record is in the producer's buffer (a restarted
                    # broker may first have to be asked for the topic again).
                    sent = await self._producer.send(
                        topic, value, key=key_bytes, partition=partition, headers=headers
                    )
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

    async def submit(self, task: RunTask) -> None:
        headers = tracing.kafka_headers(tracing.outgoing())
        key = f"{task.comparison_id}:{task.run_id}"
        await self._send(
            self.topics.requests, task.to_bytes(), key, headers, partition=self._next_request_partition()
        )

    def _next_request_partition(self) -> int | None:
        """The requests topic's partitions in turn, so the workers (each holding some of them)
        get equal shares of the runs: picked by the key's hash, 400 runs over 6 partitions split
        178 / 222 between two workers in one bench round, and the busier one set the pace of both
        (bench/RESULTS.md, 2026-12-05 session 15). None until the partitions are known (the key's
        hash picks one then). A run's requests need no partition in common: leases keep an attempt
        to one provider call wherever its request lands."""
        assert self._producer is not None, "start() the broker first"
        cluster = self._producer.client.cluster
        partitions = cluster.available_partitions_for_topic(
            self.topics.requests
        ) or cluster.partitions_for_topic(self.topics.requests)
        if not partitions:
            return None
        self._request_turn += 1
        ordered = sorted(partitions)
        return ordered[self._request_turn % len(ordered)]

    async def request_cancel(self, cancel: CancelRequest) -> None:
        await self._send(self.topics.cancellations, cancel.to_bytes(), cancel.run_id)

    async def publish(self, event: AnyEvent) -> None:
        # Chunks do not wait for the broker's acknowledgement.  Waiting held each stream to one
        # chunk per round trip and made a produce request of every few chunks, and the broker's
        # work goes by produce request and record batch.  Not waiting lets the producer put
        # all that came during one request into the next; chunks gather per partition first
        # (`ChunkGatherer`).  Order is kept: a run's events share a partition (their key's, or
        # the same one named), and the producer sends one request at a time.  A
        # chunk the broker never takes (down longer than the producer's request timeout) is lost
        # to live viewers only: the final event, sent after the chunks and acknowledged, carries
        # the whole text, and the hub and the pump take that as the truth.
        if isinstance(event, ChunkEvent):
            partition = self._partition_of(event.run_id)
            if partition is not None:
                await self._chunks.add(partition, event.run_id, event.to_bytes())
                return
            await self._chunks.drain()  # (the topic's metadata went missing: in order all the same)
            await self._send(self.topics.events, event.to_bytes(), event.run_id, wait_for_ack=False)
            return
        # A run's chunks gathered so far go first: its final event must not overtake them.
        await self._chunks.drain()
        headers = tracing.kafka_headers(tracing.outgoing())
        await self._send(self.topics.events, event.to_bytes(), event.run_id, headers)

    def _partition_of(self, run_id: str) -> int | None:
        """The events partition a run's records go to, as the producer picks it (None: the
        topic's partitions are not known yet)."""
        assert self._producer is not None, "start() the broker first"
        cluster = self._producer.client.cluster
        partitions = cluster.partitions_for_topic(self.topics.events)
        if not partitions:
            return None
        available = cluster.available_partitions_for_topic(self.topics.events) or ()
        return self._partitioner(run_id.encode(), list(partitions), list(available))

    async def _send_chunks(self, partition: int, value: bytes, run_id: str | None) -> None:
        await self._send(self.topics.events, value, run_id, partition=partition, wait_for_ack=False)

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
        """Whether a broker answers a metadata request within `timeout_s`.  Every known broker is
        asked at once, so one that is down does not make the cluster look unreachable, and on
        connections of their own: a broker answers one request per connection at a time, and the
        producer's may be held by a produce waiting for acks=all (up to the moment the controller
        drops a dead broker from the in-sync replicas)."""
        if self._producer is None:
            return False
        client = self._producer.client
        nodes = [broker.nodeId for broker in client.cluster.brokers()]
        if not nodes:  # no metadata yet: ask the bootstrap servers
            try:
                metadata = await asyncio.wait_for(client.fetch_all_metadata(), timeout_s)
            except (KafkaError, TimeoutError, OSError):
                return False
            return bool(metadata.brokers())
        asks = [
            asyncio.ensure_future(client.send(node, MetadataRequest([]), group=ConnectionGroup.COORDINATION))
            for node in nodes
        ]
        try:
            for answer in asyncio.as_completed(asks, timeout=timeout_s):
                try:
                    await answer
                    return True
                except TimeoutError:
                    raise  # (an OSError too): time is up for all of them
                except (KafkaError, OSError):
                    continue  # this one is down: another may answer
        except TimeoutError:
            pass
        finally:
            for ask in asks:
                ask.cancel()
            await asyncio.gather(*asks, return_exceptions=True)
        return False

    # --- consuming -------------------------------------------------------------------
    async def _records(self, consumer: AIOKafkaConsumer) -> AsyncIterator[Any]:
        while True:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    yield record

    async def events(self) -> AsyncIterator[AnyEvent]:
        async for event, _ in self.traced_events():
            yield event

    async def traced_events(self) -> AsyncIterator[tuple[AnyEvent, Carrier]]:
        assert self._events is not None, "events() is for the web role"
        async for record in self._records(self._events):
            try:
                events = decode_record(record.value)
            except ValueError:
                log.warning("dropping an undecodable event at %s/%s", record.partition, record.offset)
                continue
            trace = tracing.from_kafka_headers(record.headers)
            for event in events:
                yield event, trace

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


def _log_undelivered(sent: asyncio.Future[Any]) -> None:
    if not sent.cancelled() and sent.exception() is not None:
        log.warning("a message sent without waiting was not delivered: %r", sent.exception())
