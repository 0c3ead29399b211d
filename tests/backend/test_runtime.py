"""Runtime wiring: start-up (migrations, interrupted runs), current(), shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import text

from backend import runtime as runtime_module
from backend.db.comparisons import create_comparison
from backend.db.engine import Database
from backend.db.records import INTERRUPTED, NewRun
from backend.db.runs import mark_run_running
from backend.db.users import default_project_id
from backend.queue.messages import RunTask
from backend.runtime import Runtime, running
from backend.settings import Settings
from tests.backend.runtime_support import (
    ProviderCalls,
    expected_output,
    make_settings,
    owner,
    wait_until_final,
)
from tests.redis_support import TEST_REDIS_URL, redis_prefix


async def test_running_starts_and_exposes_current(runtime_database_url: str, tmp_path: Path) -> None:
    settings = make_settings(runtime_database_url, tmp_path)
    with pytest.raises(RuntimeError, match="not started"):
        runtime_module.current()
    async with running(settings) as rt:
        assert runtime_module.current() is rt
        assert rt.settings is settings
        async with rt.db.session() as session:
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
        assert all(not t.done() for t in rt._tasks)  # pump and worker are running
    with pytest.raises(RuntimeError):
        runtime_module.current()
    assert all(t.done() for t in rt._tasks)


def test_empty_database_url_means_sqlite_in_data_dir(tmp_path: Path) -> None:
    settings = make_settings("", tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'dashboard.db').resolve()}"
    rt = Runtime.build(settings)
    assert rt.comparisons is not None and rt.accounts is not None


def test_settings_ignore_the_environment_when_given_explicitly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    assert make_settings("", tmp_path).openai_api_key.get_secret_value() == ""
    assert Settings(_env_file=None).openai_api_key.get_secret_value() == "sk-from-env"


async def test_runtime_resolves_providers_and_runs_a_comparison(
    runtime_database_url: str, tmp_path: Path
) -> None:
    prompt = "[[simulate:tokens=5]] quick check"
    async with running(make_settings(runtime_database_url, tmp_path)) as rt:
        provider = rt.resolve_provider("simulated:instant")
        assert hasattr(provider, "stream")
        record = await rt.comparisons.create(
            await owner(rt), {"prompt": prompt, "panes": [{"model": "simulated:instant"}]}
        )
        saved = await wait_until_final(rt.comparisons, record.id)
    run = saved.runs[0]
    assert run.status == "done"
    assert run.output_text == expected_output(run, prompt)


async def test_runs_left_by_a_previous_process_are_marked_interrupted(
    runtime_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(runtime_database_url, tmp_path)
    async with running(settings) as rt:
        user = await owner(rt)
        user_id = user.user_id
        finished = await rt.comparisons.create(
            user,
            {"prompt": "[[simulate:tokens=3]] done before", "panes": [{"model": "simulated:instant"}]},
        )
        finished_saved = await wait_until_final(rt.comparisons, finished.id)

    # The "previous process" wrote runs and died before they finished.
    db = Database(settings.resolved_database_url)
    try:
        async with db.session() as session:
            project_id = await default_project_id(session, user_id)
        orphan = await create_comparison(
            db,
            user_id=user_id,
            project_id=project_id,
            prompt="left behind",
            runs=[
                NewRun(model="simulated:ponder", provider="simulated"),
                NewRun(model="simulated:swift", provider="simulated"),
            ],
        )
        async with db.session() as session:
            assert await mark_run_running(session, orphan.runs[1].id, 0)
    finally:
        await db.dispose()

    async with running(settings) as rt:
        after = await rt.comparisons.get_unchecked(orphan.id)
        assert [r.status for r in after.runs] == ["error", "error"]
        for run in after.runs:
            assert run.error_kind == INTERRUPTED
            assert run.error == "Interrupted: the server restarted."
            assert run.finished_at is not None
        # finished work is left alone
        assert (await rt.comparisons.get_unchecked(finished.id)).runs == finished_saved.runs
        summary = next(i for i in (await rt.comparisons.history(user)).items if i.id == orphan.id)
        assert (summary.n_error, summary.n_active) == (2, 0)


async def test_stopping_mid_run_then_restarting_interrupts_it(
    runtime_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(runtime_database_url, tmp_path)
    async with running(settings) as rt:
        record = await rt.comparisons.create(
            await owner(rt),
            {"prompt": "[[simulate:tokens=500]] never finishes", "panes": [{"model": "simulated:ponder"}]},
        )
    async with running(settings) as rt:
        run = (await rt.comparisons.get_unchecked(record.id)).runs[0]
        assert run.status == "error" and run.error_kind == INTERRUPTED


async def test_a_request_replayed_while_its_run_streams_calls_the_provider_once(
    runtime_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded worker claims runs as worker processes do (the first delivery beside its
    provider call, a second one of the same attempt before it): the replay finds the run leased
    by the first delivery, waits, and is skipped once the run is saved final."""
    provider = ProviderCalls(monkeypatch)
    prompt = "[[simulate:tokens=50]] replayed"
    async with running(make_settings(runtime_database_url, tmp_path, run_lease_seconds=1.0)) as rt:
        record = await rt.comparisons.create(
            await owner(rt), {"prompt": prompt, "panes": [{"model": "simulated:steady"}]}
        )
        run = record.runs[0]
        # The same request again, as a requeue after a broker restart or a rebalance sends it.
        await rt.broker.submit(
            RunTask(
                run_id=run.id,
                comparison_id=record.id,
                model=run.model,
                prompt=prompt,
                user_id=record.user_id,
            )
        )
        saved = await wait_until_final(rt.comparisons, record.id)
        await asyncio.sleep(0.5)  # the replay polls every 0.1 s: it has seen the run final
    assert saved.runs[0].status == "done"
    assert saved.runs[0].output_text == expected_output(saved.runs[0], prompt)
    assert provider.calls == ["steady"]


@contextlib.asynccontextmanager
async def counting_relay(redis_url: str) -> AsyncIterator[tuple[str, Callable[[], int]]]:
    """A TCP relay in front of the real Redis that counts the connections opened through it:
    (the URL to give the app, the count so far)."""
    target = urlsplit(redis_url)
    opened = 0

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        nonlocal opened
        opened += 1
        server_reader, server_writer = await asyncio.open_connection(target.hostname, target.port or 6379)
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield urlunsplit((target.scheme, f"127.0.0.1:{port}", target.path, "", "")), lambda: opened
    finally:
        server.close()


@pytest.mark.redis
async def test_the_health_checks_ask_redis_on_the_process_connections_not_new_ones(
    runtime_database_url: str, tmp_path: Path
) -> None:
    """The watch asked Redis every second on a client of its own, opened and closed each time."""
    async with counting_relay(TEST_REDIS_URL) as (url, opened), redis_prefix() as (_, prefix):
        settings = make_settings(
            runtime_database_url,
            tmp_path,
            redis_url=url,
            redis_key_prefix=prefix,
            health_remote_check_seconds=1,
        )
        async with running(settings) as rt:
            assert (await rt.health_watch.report())["redis"] == "ok"
            before = opened()
            await asyncio.sleep(3.5)  # three remote checks at one a second
            report = await rt.health_watch.report()
            after = opened()
    assert after - before == 0, f"{after - before} Redis connections opened by 3.5 s of health checks"
    assert report["ok"] is True and report["redis"] == "ok"
    assert report["remote_checked_ms_ago"] < 1500  # asked within the last second and a half
