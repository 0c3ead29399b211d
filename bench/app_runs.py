"""The app under test, in either mode, as a context manager that yields everything a benchmark needs.

- embedded: one `reflex run --env prod --single-port` process with the in-process
  broker and worker and SQLite in its data dir (what `scripts/run` starts).
- kafka: the production shape on this machine (see README "Running on the real
  services" and tests/browser/test_scale_out.py): one Apache Kafka node (KRaft,
  devstack/kafka_server.py) on a free port, a fresh PostgreSQL database on 127.0.0.1:5432,
  Redis on 127.0.0.1:6379 (a database of its own, flushed afterwards) for Reflex's
  session state and the app's cache and limits, N `python -m workers` processes
  and one app replica with one backend process (GRANIAN_WORKERS=1), no nginx.

Both build the front end into a web directory of the benchmark's own
(REFLEX_WEB_WORKDIR, kept between runs), so a benchmark never rebuilds the
checkout's .web under another app or test running from it.  Every worker (the
in-process one, or each worker process into a file of its own) writes the
LLMDASH_TRACE_TOKENS trace: when each chunk left the provider.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import log
from bench.kafka_intake import warm_up_broker, warm_up_summary
from bench.pages import SESSION_COOKIES
from devstack.accounts import TestAccount, account_in
from devstack.app_process import ROOT, running_app
from devstack.kafka_server import KafkaCluster, kafka_cluster
from devstack.kafka_workers import WorkerProcess
from devstack.stack import kafka_backend

BENCH_EMAIL = "bench@example.org"
# Reflex keeps its session keys in Redis unprefixed: a database of the benchmark's own, flushed at the end.
REDIS_URL = os.environ.get("LLMDASH_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
WEB_WORKDIR = Path(tempfile.gettempdir()) / "llmdash-bench-web"

# Settings both modes share: no rate limits (20 sessions x 8 panes is one user asking 160 times at
# once), no real providers, no probes of local servers.
COMMON_ENV = {
    "RATE_LIMIT_REQUESTS_PER_MINUTE": "0",
    "RATE_LIMIT_TOKENS_PER_DAY": "0",
    # One account runs every session's comparisons (the product bounds one person at 20 running).
    "MAX_RUNNING_COMPARISONS_PER_USER": "100000",
    "MAX_STREAMS_PER_USER": "100000",
    "OPENAI_API_KEY": "",
    "ANTHROPIC_API_KEY": "",
    "GOOGLE_CLOUD_PROJECT": "",
    "SIMULATED_ENABLED": "true",
    "OLLAMA_BASE_URL": "http://127.0.0.1:9",  # nothing listens: no probe waits
    "OPENAI_COMPATIBLE_ENDPOINTS": "{}",
    "AUTH_PROVIDER": "builtin",
    "REFLEX_WEB_WORKDIR": str(WEB_WORKDIR / "web"),
    "REFLEX_STATES_WORKDIR": str(WEB_WORKDIR / "states"),
}


@dataclass
class AppUnderTest:
    mode: str  # "embedded" or "kafka"
    base: str
    account: TestAccount
    data_dir: Path
    trace_paths: list[Path]
    log_paths: list[Path]
    start_seconds: float
    description: str
    config: dict[str, Any] = field(default_factory=dict)
    database_url: str = ""  # "": SQLite in data_dir
    workers: list[WorkerProcess] = field(default_factory=list)


@contextlib.contextmanager
def _app(data_dir: Path, env: dict[str, str], root: Path = ROOT) -> Iterator[tuple[str, Path]]:
    """running_app, tried twice (a build may collide with another one); yields (base URL, data dir)."""
    for attempt in (1, 2):
        app = running_app(data_dir, env, root=root)
        try:
            base = app.__enter__()
            break
        except (RuntimeError, TimeoutError) as exc:
            if attempt == 2:
                raise
            log(f"the app did not start ({str(exc).splitlines()[0][:200]}); retrying once")
            data_dir = data_dir.with_name(data_dir.name + "-retry")
    try:
        yield base, data_dir
    finally:
        app.__exit__(None, None, None)


def _health(base: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"{base}/api/v1/health", timeout=5) as response:
            return dict(json.load(response))
    except urllib.error.HTTPError as error:  # 503 while a dependency (or every worker) is missing
        return dict(json.load(error))


def wait_for_workers(base: str, n: int, timeout_s: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        health = _health(base)
        if len(health.get("workers") or []) >= n and health.get("status") == "ok":
            return health
        if time.monotonic() > deadline:
            raise RuntimeError(f"{n} live workers expected within {timeout_s:.0f} s: {health}")
        time.sleep(0.3)


def _sign_in(base: str, data_dir: Path, database_url: str = "") -> TestAccount:
    account = account_in(data_dir, BENCH_EMAIL, database_url=database_url)
    SESSION_COOKIES[base] = account.cookie(base)
    return account


@contextlib.contextmanager
def embedded_app(
    tmp: Path,
    embedded_workers: int,
    trace: bool = True,
    extra_env: dict[str, str] | None = None,
    root: Path = ROOT,
) -> Iterator[AppUnderTest]:
    """The embedded app; `root`: the checkout to run (default this one)."""
    data_dir = tmp / "embedded"
    trace_path = tmp / "trace-embedded.jsonl"
    env = {**COMMON_ENV, "EMBEDDED_WORKERS": str(embedded_workers), **(extra_env or {})}
    if trace:
        env["LLMDASH_TRACE_TOKENS"] = str(trace_path)
    log(f"embedded: starting the app (data dir {data_dir}); it builds the front end first")
    started = time.monotonic()
    with _app(data_dir, env, root) as (base, data_dir):
        start_s = time.monotonic() - started
        log(f"embedded: app up at {base} after {start_s:.0f} s")
        yield AppUnderTest(
            mode="embedded",
            base=base,
            account=_sign_in(base, data_dir),
            data_dir=data_dir,
            trace_paths=[trace_path],
            log_paths=[data_dir / "app.log"],
            start_seconds=start_s,
            description="embedded: in-process broker and worker, SQLite, in-memory Reflex state",
            config={"embedded_workers": embedded_workers},
        )


def _warm_up(broker: KafkaCluster, data_dir: Path) -> None:
    """The fresh node past its JIT warm-up before the app starts (bench/kafka_intake.py)."""
    started = time.monotonic()
    rounds = warm_up_broker(broker, data_dir)
    log(
        f"kafka: the node warmed up in {time.monotonic() - started:.0f} s; its CPU a chunk (and JIT"
        f" time) round by round: {warm_up_summary(rounds)}"
    )


@contextlib.contextmanager
def kafka_stack(
    tmp: Path,
    workers: int,
    worker_concurrency: int,
    trace: bool = True,
    web_processes: int = 1,
    session_timeout_ms: int = 6000,  # Apache Kafka's group.min.session.timeout.ms: it refuses less
) -> Iterator[AppUnderTest]:
    from redis import Redis

    data_dir = tmp / f"kafka-{workers}w"
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with Redis.from_url(REDIS_URL) as redis:
        if redis.dbsize():  # left over by an earlier run (a process still writing after the flush)
            log(f"kafka: flushing {REDIS_URL} ({redis.dbsize()} keys left over)")
            redis.flushdb()
    log(
        f"kafka: starting Apache Kafka, a PostgreSQL database, {workers} worker(s) and the app"
        f" (data dir {data_dir})"
    )
    trace_paths = [data_dir / f"trace-worker-{i}.jsonl" for i in range(workers)]

    def tracing(i: int) -> dict[str, str]:
        return {"LLMDASH_TRACE_TOKENS": str(trace_paths[i])} if trace else {}

    with kafka_cluster(data_dir / "kafka", nodes=1) as broker, contextlib.ExitStack() as stack:
        _warm_up(broker, data_dir)
        backend = stack.enter_context(
            kafka_backend(
                broker.bootstrap,
                data_dir,
                workers=workers,
                redis_url=REDIS_URL,
                name="bench",
                settings={**COMMON_ENV, "WORKER_CONCURRENCY": str(worker_concurrency)},
                per_worker=tracing,
                session_timeout_ms=session_timeout_ms,
            )
        )
        env, database_url, procs = backend.worker_env, backend.database_url, backend.workers
        app_env = {
            **backend.app_env,
            "GRANIAN_WORKERS": str(web_processes),  # with Redis, Reflex would start 2 x cores + 1
        }
        base, app_dir = stack.enter_context(_app(data_dir, app_env))
        wait_for_workers(base, workers)
        start_s = time.monotonic() - started
        log(f"kafka: app up at {base} with {workers} live worker(s) after {start_s:.0f} s")
        yield AppUnderTest(
            mode="kafka",
            base=base,
            account=_sign_in(base, data_dir, database_url),
            data_dir=data_dir,
            trace_paths=trace_paths,
            log_paths=[app_dir / "app.log", *(p.log_path for p in procs)],
            start_seconds=start_s,
            description=f"kafka: Apache Kafka (1 node), {workers} worker process(es) (WORKER_CONCURRENCY="
            f"{worker_concurrency}), PostgreSQL, Redis (Reflex state), {web_processes} web process(es)",
            config={
                "workers": workers,
                "worker_concurrency": worker_concurrency,
                "web_processes": web_processes,
                "kafka_request_partitions": int(env.get("KAFKA_REQUEST_PARTITIONS", "6")),
                "bootstrap": broker.bootstrap,
                "broker_pids": broker.pids,
            },
            database_url=database_url,
            workers=procs,
        )
