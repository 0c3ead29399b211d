"""Helpers for the fault tests: Kafka setups, a database-side count of final saves, figures.

Every fault test ends with the same bookkeeping, measured rather than assumed:

- **lost**: runs that did not end as they should (not "done", wrong attempt, or a saved
  output different from the simulated model's deterministic text);
- **duplicates**: final saves beyond the first, counted by a PostgreSQL trigger that the
  test installs on `runs` (one row per committed transition into a final status, so a
  rolled-back half save counts nothing and a second final write of the same run counts
  one more), plus run rows beyond one per pane.

Each test writes its figures to `tests/faults/.results/<name>.json` (gitignored) as
{"runs": N, "lost": N, "duplicates": N, ...}, for scripts/security-report to gather.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from backend.auth.permissions import Principal
from backend.db.records import ComparisonRecord
from backend.runtime import Runtime
from backend.settings import Settings
from devstack.app_process import free_port
from devstack.kafka_workers import SESSION_TIMEOUT_MS, WorkerProcess, worker_env
from tests.backend.runtime_support import expected_output, make_settings

RESULTS_DIR = Path(__file__).resolve().parent / ".results"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def libpq_dsn(database_url: str) -> str:
    """The SQLAlchemy URL of a test database as a libpq connection string for psycopg."""
    url = make_url(database_url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


# --- the database's own count of final saves -------------------------------------------
_AUDIT_SQL = """
CREATE TABLE IF NOT EXISTS fault_final_audit (
    id bigserial PRIMARY KEY,
    run_id text NOT NULL,
    attempt integer NOT NULL,
    status text NOT NULL,
    output_len integer NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE OR REPLACE FUNCTION fault_audit_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO fault_final_audit (run_id, attempt, status, output_len)
    VALUES (NEW.id, NEW.attempt, NEW.status, length(NEW.output_text));
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS fault_audit_final ON runs;
CREATE TRIGGER fault_audit_final AFTER UPDATE ON runs FOR EACH ROW
    WHEN (NEW.status IN ('done', 'error', 'cancelled') AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION fault_audit_final();
"""


def install_final_audit(database_url: str) -> None:
    """Count every committed transition of a run into a final status (after migrations)."""
    with psycopg.connect(libpq_dsn(database_url), autocommit=True) as conn:
        conn.execute(_AUDIT_SQL)


def final_saves(database_url: str) -> Counter[str]:
    """Run id -> how many committed final saves it had."""
    with psycopg.connect(libpq_dsn(database_url)) as conn:
        rows = conn.execute("SELECT run_id FROM fault_final_audit").fetchall()
    return Counter(str(r[0]) for r in rows)


def run_rows(database_url: str, comparison_ids: Iterable[str]) -> Counter[str]:
    """Comparison id -> its rows in `runs`, straight from the table."""
    with psycopg.connect(libpq_dsn(database_url)) as conn:
        rows = conn.execute(
            "SELECT comparison_id, count(*) FROM runs WHERE comparison_id = ANY(%s) GROUP BY comparison_id",
            (list(comparison_ids),),
        ).fetchall()
    return Counter({str(c): int(n) for c, n in rows})


# --- outcome --------------------------------------------------------------------------
@dataclass
class Outcome:
    runs: int
    lost: list[str]
    duplicates: int
    details: list[str]

    def as_figures(self) -> dict[str, int]:
        return {"runs": self.runs, "lost": len(self.lost), "duplicates": self.duplicates}


def judge(
    database_url: str,
    saved: list[tuple[ComparisonRecord, str]],
    panes_per_comparison: int,
    expected_attempt: int = 0,
) -> Outcome:
    """Compare what the database holds with what each run must have ended as."""
    saves = final_saves(database_url)
    rows = run_rows(database_url, [record.id for record, _ in saved])
    lost: list[str] = []
    details: list[str] = []
    duplicates = 0
    runs = 0
    for record, prompt in saved:
        extra_rows = rows.get(record.id, 0) - panes_per_comparison
        if extra_rows > 0:
            duplicates += extra_rows
            details.append(f"comparison {record.id} has {rows[record.id]} run rows")
        for run in record.runs:
            runs += 1
            ok = (
                run.status == "done"
                and run.attempt == expected_attempt
                and run.output_text == expected_output(run, prompt)
                and run.finished_at is not None
                and run.output_tokens > 0
            )
            if not ok:
                lost.append(run.id)
                details.append(f"run {run.id}: {run.status} attempt {run.attempt} error {run.error!r}")
            n = saves.get(run.id, 0)
            if n > 1:
                duplicates += n - 1
                details.append(f"run {run.id} was saved final {n} times")
            elif n == 0 and run.status == "done":
                details.append(f"run {run.id} is done but the audit saw no final save")
                lost.append(run.id)
    return Outcome(runs, lost, duplicates, details)


def record_result(name: str, figures: dict[str, Any]) -> None:
    """Write this test's figures for scripts/security-report, and print them."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    body = {"test": name, **figures, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
    print(f"\n[faults] {name}: {json.dumps(figures, sort_keys=True)}")


# --- Kafka ------------------------------------------------------------------------------
@dataclass
class KafkaFaultSetup:
    """A topic prefix and worker group of its own on a Kafka cluster, and a fresh database."""

    bootstrap: str
    database_url: str
    prefix: str
    group: str
    tmp_path: Path

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "kafka_bootstrap_servers": self.bootstrap,
            "kafka_topic_prefix": self.prefix,
            "kafka_worker_group": self.group,
            "kafka_session_timeout_ms": SESSION_TIMEOUT_MS,
            "kafka_heartbeat_interval_ms": 500,
            "rate_limit_requests_per_minute": 0,  # load tests: the limits are not what is tested
            "rate_limit_tokens_per_day": 0,
            # one account starts all of a load test's comparisons (the product's bound is 20)
            "max_running_comparisons_per_user": 10_000,
            "max_streams_per_user": 10_000,
        }
        values.update(overrides)
        return make_settings(self.database_url, self.tmp_path, **values)

    def env(self, **extra: str) -> dict[str, str]:
        return worker_env(self.bootstrap, self.database_url, self.prefix, self.group, **extra)

    def worker(self, name: str, **extra: str) -> WorkerProcess:
        return WorkerProcess(self.env(**extra), self.tmp_path / f"{name}.log")


def trace_starts(trace: Path) -> Counter[str]:
    """Run id -> provider streams that produced a first chunk, from a worker's token trace."""
    starts: Counter[str] = Counter()
    if not trace.exists():
        return starts
    for line in trace.read_text().splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue  # the last line of a killed worker may be cut short
        if item.get("seq") == 0:
            starts[str(item["run_id"])] += 1
    return starts


def trace_runs(trace: Path) -> set[str]:
    runs: set[str] = set()
    if trace.exists():
        for line in trace.read_text().splitlines():
            if '"run_id": "' in line:
                runs.add(line.split('"run_id": "')[1].split('"')[0])
    return runs


async def wait_all_final(rt: Runtime, ids: list[str], timeout: float) -> list[ComparisonRecord]:
    """Poll the database until every run of these comparisons is final."""
    deadline = time.monotonic() + timeout
    while True:
        records = [await rt.comparisons.get_unchecked(i) for i in ids]
        pending = [
            (r.id, r.model, r.status, str(r.created_at))
            for rec in records
            for r in rec.runs
            if not r.is_final
        ]
        if not pending:
            return records
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(pending)} runs not final after {timeout} s: {pending[:8]}")
        await asyncio.sleep(0.2)


async def warm_until_every_worker_streams(rt: Runtime, user: Principal, traces: list[Path]) -> list[set[str]]:
    """Send small comparisons until every worker's token trace shows a run, so each worker owns
    request partitions before the load starts; return the runs each trace holds by then (the
    warm-up's, to subtract from what the test counts)."""
    for _ in range(20):
        warm = await rt.comparisons.create(
            user, {"prompt": "[[simulate:tokens=3]] warm", "panes": [{"model": "simulated:instant"}] * 8}
        )
        await wait_all_final(rt, [warm.id], timeout=30)
        if all(trace_runs(t) for t in traces):
            break
        await asyncio.sleep(0.5)
    assert all(trace_runs(t) for t in traces), "every worker should own request partitions"
    return [trace_runs(t) for t in traces]


# --- a Redis server of the test's own -----------------------------------------------------
class RedisServer:
    """`redis-server` on a free port, no persistence: kill() loses everything, as a crash would.

    The machine's shared Redis is never touched: fault tests kill and restart their own."""

    def __init__(self, log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with open(self._log_path, "ab") as log:
            self._process = subprocess.Popen(
                [
                    REDIS_SERVER,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not listen on {self.port}")
            time.sleep(0.05)

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(10)
        self._process = None


@contextlib.contextmanager
def redis_server(log_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(log_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()
