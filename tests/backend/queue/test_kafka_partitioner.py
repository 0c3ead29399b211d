"""The cached partitioner picks the partition Kafka's default partitioner picks, for every key."""

from __future__ import annotations

import uuid

from aiokafka.partitioner import DefaultPartitioner

from backend.queue.kafka_partitioner import CachedKeyPartitioner


def test_same_partition_as_the_default_for_run_keys_and_request_keys() -> None:
    cached, default = CachedKeyPartitioner(), DefaultPartitioner()
    keys = [uuid.uuid4().hex.encode() for _ in range(200)]
    keys += [f"{uuid.uuid4().hex}:{uuid.uuid4().hex}".encode() for _ in range(200)]
    for count in (1, 2, 3, 6, 7, 12):
        partitions = list(range(count))
        for key in keys:
            want = default(key, partitions, partitions)
            assert cached(key, partitions, partitions) == want
            assert cached(key, partitions, partitions) == want  # from the cache this time


def test_a_full_cache_starts_again_and_still_answers_alike() -> None:
    cached, default = CachedKeyPartitioner(capacity=8), DefaultPartitioner()
    partitions = list(range(6))
    keys = [uuid.uuid4().hex.encode() for _ in range(50)]
    for key in keys * 2:
        assert cached(key, partitions, partitions) == default(key, partitions, partitions)
    assert len(cached._hashes) <= 8


def test_records_without_a_key_go_to_an_available_partition() -> None:
    cached = CachedKeyPartitioner()
    assert {cached(None, [0, 1, 2], [2]) for _ in range(20)} == {2}
    assert {cached(None, [0, 1, 2], []) for _ in range(100)} <= {0, 1, 2}
