"""Probe: the Kafka event path alone, worker producers to the web process's pump, by checkout.

    .venv/bin/python -m bench.kafka_intake                       # this checkout, 4 rounds
    .venv/bin/python -m bench.kafka_intake --baseline DIR        # ... alternating with another's
    # git archive <commit> | tar -x -C DIR; options: --runs 84 --tokens 300 --rounds 4

What bench.capacity's Kafka rows pay between the worker's emit and the hub, without the app:
one Apache Kafka node (as devstack starts it), 2 producer processes streaming `--runs` runs (split
between them) of `--tokens` chunks at 100 a second through `KafkaBroker(role="worker").publish`,
and one consumer process reading them as the web process's event pump does (traced_events, a
TimeSlice, RunHub.apply) (bench/kafka_intake_role.py).  84 runs is bench.capacity's 20 sessions
x 4 panes + the page (`--runs 8` is one session's).  Per round: CPU per chunk of the producers,
the consumer and the broker (process_time, /proc), emit-to-hub latency p50/p95 and its two parts,
split at the record's timestamp (the moment the worker's producer appended it): the wait before
it (the worker's gathering) and the rest (producer, broker, consumer, hub), and how long the
producers took to emit 3 s of chunks.  With `--baseline`, rounds alternate between the two
checkouts (fresh topics each round), so both see the same load: compare within one run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import ROOT, log, percentile
from bench.kafka_probe import broker_pid
from bench.proc_cpu import cpu_seconds
from devstack.kafka_server import KafkaCluster, kafka_cluster

ROLE = Path(__file__).resolve().with_name("kafka_intake_role.py")
PRODUCERS = 2
START_TIMEOUT_S = 60.0
# A fresh node's warm-up (`warm_up_broker`): rounds of 84 runs x 600 chunks (6 s, about 7.5 with
# the processes' start) until the JIT compiles for less than WARM_UP_JIT_S in a round.
WARM_UP_RUNS = 84
WARM_UP_TOKENS = 600
WARM_UP_ROUNDS_MIN = 3
WARM_UP_ROUNDS_MAX = 15
WARM_UP_JIT_S = 0.2


def _spawn(
    root: Path,
    role: str,
    bootstrap: str,
    prefix: str,
    runs: int,
    tokens: int,
    cwd: Path,
    profile: Path | None,
) -> Any:
    env = {**os.environ, "PYTHONPATH": str(root)}
    process = subprocess.Popen(
        [sys.executable, str(ROLE), role, bootstrap, prefix, str(runs), str(tokens)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=cwd,  # no .env of a checkout: the defaults, as the settings above say
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if line != "ready":
        process.kill()
        raise RuntimeError(f"{role} ({root}) did not start: {line!r}")
    if profile is not None:  # py-spy's raw collapsed stacks of this process (it ends with it)
        profile.parent.mkdir(parents=True, exist_ok=True)
        subprocess.Popen(
            ["py-spy", "record", "--nonblocking", "--rate", "200", "--format", "raw", "-o", str(profile),
             "--pid", str(process.pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
    return process


def _finish(process: Any, timeout_s: float) -> dict[str, Any]:
    out, _ = process.communicate(timeout=timeout_s)
    return dict(json.loads(out.strip().splitlines()[-1]))


def one_round(
    root: Path, bootstrap: str, pid: int, runs: int, tokens: int, cwd: Path, profile: Path | None = None
) -> dict[str, Any]:
    prefix = f"intake-{uuid.uuid4().hex[:8]}."

    def out(role: str) -> Path | None:
        return None if profile is None else profile.with_name(f"{profile.name}-{role}.txt")

    consumer = _spawn(root, "consumer", bootstrap, prefix, runs, tokens, cwd, out("consumer"))
    shares = [runs // PRODUCERS + (1 if i < runs % PRODUCERS else 0) for i in range(PRODUCERS)]
    producers = [
        _spawn(root, "producer", bootstrap, prefix, n, tokens, cwd, out(f"producer{i}"))
        for i, n in enumerate(shares)
    ]
    load = os.getloadavg()[0]
    broker0, started = cpu_seconds(pid), time.monotonic()
    for process in [consumer, *producers]:
        process.stdin.write("go\n")
        process.stdin.flush()
    timeout_s = START_TIMEOUT_S + tokens / 10.0
    made = [_finish(p, timeout_s) for p in producers]
    got = _finish(consumer, timeout_s)
    broker_s = cpu_seconds(pid) - broker0
    wall = time.monotonic() - started
    chunks = runs * tokens
    lags = got["lags_ms"]
    after_append = [lag - before for lag, before in zip(lags, got["to_record_ms"], strict=True)]
    return {
        "load": load,
        "chunks": chunks,
        "received": got["chunks"],
        "records": got.get("records", 0),
        "producers_us_per_chunk": sum(m["cpu_s"] for m in made) * 1e6 / chunks,
        "consumer_us_per_chunk": got["cpu_s"] * 1e6 / chunks,
        "broker_us_per_chunk": broker_s * 1e6 / chunks,
        "emit_s": max(m["emit_s"] for m in made),
        "round_s": wall,
        "lag_p50_ms": percentile(lags, 50),
        "lag_p95_ms": percentile(lags, 95),
        # the record's timestamp is the producer's append, in whole ms: the split is +-1 ms
        "append_p50_ms": percentile(got["to_record_ms"], 50),
        "append_p95_ms": percentile(got["to_record_ms"], 95),
        "after_append_p50_ms": percentile(after_append, 50),
        "after_append_p95_ms": percentile(after_append, 95),
    }


def warm_up_broker(cluster: KafkaCluster, work_dir: Path) -> list[tuple[float, float]]:
    """Stream the probe's traffic (20 sessions' rate, topics of its own) through a fresh node
    until its JIT compiler is done with it; returns each round's (broker CPU a chunk in us,
    seconds the JIT spent compiling in the round). A node just started spends most of its CPU
    compiling: under one session's traffic 25-37 s after start (JFR), the C2 compiler thread
    took 12% of the machine and the request handlers 3%, and at this rate its CPU a chunk fell
    60, 51, 34, 30, 34, 24, 14, 11, 12, 11 us round by round while the JIT compiled 2.0, 1.0,
    1.1, 1.3, 0.7, 0.3, 0.15, 0.15 s a round (2026-12-05 22:16). A production node has run for
    days: benchmarks measure that one, as load tests measure after a ramp-up. Without `jstat`
    (a JRE), WARM_UP_ROUNDS_MAX rounds."""
    pid, rounds = broker_pid(cluster), []
    compiled = _jit_seconds(pid)
    for _ in range(WARM_UP_ROUNDS_MAX):
        row = one_round(ROOT, cluster.bootstrap, pid, WARM_UP_RUNS, WARM_UP_TOKENS, work_dir)
        now = _jit_seconds(pid)
        jit_s = math.nan if now is None or compiled is None else now - compiled
        compiled = now
        rounds.append((row["broker_us_per_chunk"], jit_s))
        if len(rounds) >= WARM_UP_ROUNDS_MIN and jit_s < WARM_UP_JIT_S:
            break
    return rounds


def _jit_seconds(pid: int) -> float | None:
    """Seconds the JVM `pid` has spent compiling (jstat's Time), or None without jstat."""
    try:
        out = subprocess.run(
            ["jstat", "-compiler", str(pid)], capture_output=True, text=True, timeout=10, check=True
        ).stdout
        return float(out.splitlines()[1].split()[3])
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        return None


def warm_up_summary(rounds: list[tuple[float, float]]) -> str:
    """`warm_up_broker`'s rounds, for the log."""
    return ", ".join(f"{us:.0f} us ({jit_s:.2f} s)" for us, jit_s in rounds)


def describe(name: str, row: dict[str, Any]) -> str:
    return (
        f"{name:9s} load {row['load']:5.1f}: CPU a chunk: producers {row['producers_us_per_chunk']:5.1f} us,"
        f" consumer {row['consumer_us_per_chunk']:5.1f} us, broker {row['broker_us_per_chunk']:5.1f} us;"
        f" emit-to-hub p50/p95 {row['lag_p50_ms']:6.1f} / {row['lag_p95_ms']:7.1f} ms"
        f" (to the producer's append {row['append_p50_ms']:.1f} / {row['append_p95_ms']:.1f},"
        f" after it {row['after_append_p50_ms']:.1f} / {row['after_append_p95_ms']:.1f});"
        f" emitted in {row['emit_s']:.1f} s;"
        f" {row['received']}/{row['chunks']} chunks in {row['records']:.0f} records"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kafka_intake", description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, help="another checkout's root, alternated with this one")
    parser.add_argument("--runs", type=int, default=84)
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4, help="rounds per checkout")
    parser.add_argument(
        "--profile", type=Path, help="a folder: py-spy raw profiles of each process, each round"
    )
    parser.add_argument("--cold", action="store_true", help="measure from the node's start: no warm-up")
    args = parser.parse_args(argv)
    roots = {"this": ROOT}
    if args.baseline is not None:
        roots = {"baseline": args.baseline.resolve(), "this": ROOT}
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in roots}
    with tempfile.TemporaryDirectory(prefix="llmdash-intake-") as tmp:
        log("starting one Apache Kafka node")
        with kafka_cluster(Path(tmp) / "kafka", nodes=1) as cluster:
            if not args.cold:
                rounds = warm_up_broker(cluster, Path(tmp))
                log(
                    "the node warmed up; its CPU a chunk (and JIT time) round by round:"
                    f" {warm_up_summary(rounds)}"
                )
            for i in range(args.rounds):
                order = list(roots.items())
                if i % 2:
                    order.reverse()
                for name, root in order:
                    profile = None if args.profile is None else args.profile / f"{name}-{i}"
                    row = one_round(
                        root,
                        cluster.bootstrap,
                        broker_pid(cluster),
                        args.runs,
                        args.tokens,
                        Path(tmp),
                        profile,
                    )
                    rows[name].append(row)
                    print(describe(name, row), flush=True)
    print("\nmedians of the rounds:")
    for name, kept in rows.items():
        med = {
            key: percentile([r[key] for r in kept], 50)
            for key in kept[0]
            if key not in ("chunks", "received", "records")
        }
        print(
            describe(name, {**med, **{k: sum(r[k] for r in kept) for k in ("received", "chunks", "records")}})
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
