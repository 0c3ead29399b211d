"""The partition of a keyed record, as Kafka's default partitioner picks it, hashed once per key.

Every event of a run is keyed by the run's id, so a run's events share a partition and stay in
order.  aiokafka's default partitioner hashes the key (murmur2, in pure Python) for every record:
about 40 us a chunk on the bench machine, the largest single cost of publishing one, paid some
300 times for the same key per run.  This one keeps the hash of the keys it saw lately and picks
the same partition the default would (so records keyed alike from other producers, or from an
older version, still land together).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from aiokafka.partitioner import murmur2

RECENT_KEYS = 4096  # more than the runs one worker streams at once (WORKER_CONCURRENCY <= 256)


class CachedKeyPartitioner:
    """`partitioner(key_bytes, all_partitions, available_partitions)` for AIOKafkaProducer."""

    def __init__(self, capacity: int = RECENT_KEYS) -> None:
        self._capacity = capacity
        self._hashes: dict[bytes, int] = {}

    def __call__(self, key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
        if key is None:  # as the default: any partition, preferring those with a leader
            return random.choice(available or all_partitions)
        hashed = self._hashes.get(key)
        if hashed is None:
            if len(self._hashes) >= self._capacity:
                self._hashes.clear()  # the keys in use come back at their next record
            hashed = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return all_partitions[hashed % len(all_partitions)]
