"""The run loop the Kafka probes share: each case against one Apache Kafka node, a line per case."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from bench.common import log, write_probe_rows
from devstack.kafka_server import KafkaCluster, kafka_cluster

Case = TypeVar("Case")
Row = dict[str, Any]


def broker_pid(cluster: KafkaCluster) -> int:
    """The one node's process id (the probes measure its CPU from /proc)."""
    pids = cluster.pids
    if not pids:
        raise RuntimeError("the Kafka node is not running")
    return pids[0]


def run_kafka_probe(
    results_name: str,
    cases: Sequence[Case],
    measure: Callable[[KafkaCluster, Case], Awaitable[Row]],
    describe: Callable[[Case, Row], str],
) -> int:
    """Start one Apache Kafka node (KRaft, devstack/kafka_server.py), measure each case in
    turn against it, print `describe(case, row)` as each ends and write the rows to
    bench/results/`results_name`.  Returns the exit status."""

    async def run(cluster: KafkaCluster) -> list[Row]:
        rows = []
        for case in cases:
            row = await measure(cluster, case)
            rows.append(row)
            print(describe(case, row), flush=True)
        return rows

    with tempfile.TemporaryDirectory(prefix="llmdash-probe-") as tmp:
        log("starting one Apache Kafka node")
        with kafka_cluster(Path(tmp), nodes=1) as cluster:
            rows = asyncio.run(run(cluster))
    write_probe_rows(results_name, rows)
    return 0
