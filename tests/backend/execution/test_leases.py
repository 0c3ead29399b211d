"""Workers claim a run in the database before they call its provider (backend/execution/leases.py).

Real workers on the embedded broker, the real simulated provider (its calls counted),
a real database of each kind and, where finals must be saved, the real event pump.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from backend.db.comparisons import create_comparison
from backend.db.engine import Database
from backend.db.leases import Claim, ClaimOutcome, claim_run
from backend.db.models import Run
from backend.db.records import NewRun, RunRecord
from backend.db.runs import get_runs, reset_run_for_retry, save_run_result
from backend.db.users import ensure_user
from backend.execution import leases as execution_leases
from backend.execution.leases import RunLeases
from backend.execution.worker import Worker
from backend.providers.base import ChatProvider, ChatRequest, StreamItem
from backend.queue.base import AnyEvent, Delivery
from backend.queue.embedded import EmbeddedBroker
from backend.queue.messages import ChunkEvent, FinalEvent, RunTask, StartedEvent
from backend.streaming.hub import RunHub
from backend.streaming.pump import EventPump
from devstack.postgres import make_migrated_database_url
from tests.backend.conftest import DoneResult
from tests.backend.execution.test_worker import expected_tokens, simulated, worker_running
from tests.db_support import DATABASE_KINDS

LEASE_S = 1.0  # polls every 0.1 s, renews every 0.33 s
# Where no worker dies, a lease that a loaded machine cannot miss: with 1 s, a renewal delayed
# past the second on a busy CI runner let the other worker take the live run over (2 calls).
LIVE_LEASE_S = 6.0


class AckCountingBroker(EmbeddedBroker):
    """The embedded broker, counting the acknowledgements of its deliveries."""

    def __init__(self) -> None:
        super().__init__()
        self.acks = 0

    async def deliveries(self) -> AsyncIterator[Delivery]:
        async for delivery in super().deliveries():
            yield Delivery(task=delivery.task, ack=self._ack)

    async def _ack(self) -> None:
        self.acks += 1


class CountingProvider:
    """The simulated provider, counting its calls (what a paid provider would bill)."""

    def __init__(self) -> None:
        self.calls = 0

    def resolve(self, model_id: str) -> ChatProvider:
        inner = simulated(model_id)
        outer = self

        class Counted:
            async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
                outer.calls += 1
                async for item in inner.stream(request):
                    yield item

        return Counted()


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with make_migrated_database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


async def _new_task(db: Database, prompt: str, model: str = "simulated:steady") -> tuple[RunRecord, RunTask]:
    async with db.session() as session:
        user = await ensure_user(session, "ada@example.com", "Ada")
    record = await create_comparison(
        db,
        user_id=user.id,
        project_id=user.default_project_id,
        prompt=prompt,
        runs=[NewRun(model=model, provider="simulated")],
    )
    run = record.runs[0]
    return run, RunTask(run_id=run.id, comparison_id=record.id, model=model, prompt=prompt, user_id=user.id)


async def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def collecting(broker: EmbeddedBroker) -> AsyncIterator[list[AnyEvent]]:
    """Every event the workers publish (instead of the event pump)."""
    events: list[AnyEvent] = []

    async def collect() -> None:
        async for event in broker.events():
            events.append(event)

    task = asyncio.create_task(collect())
    try:
        yield events
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _run_row(db: Database, run_id: str) -> tuple[str, int, str | None]:
    async with db.session() as session:
        row = (
            await session.execute(select(Run.status, Run.attempt, Run.claimed_by).where(Run.id == run_id))
        ).one()
    return row.status, row.attempt, row.claimed_by


async def test_a_replayed_task_calls_the_provider_once(db: Database, database_url: str) -> None:
    """Two workers (each its own connection pool) get the same task three times while it
    streams (a rebalance's re-read, a requeue after a broker restart), and once more after it
    ended: one provider call, every delivery acknowledged, the run saved once and complete."""
    prompt = "[[simulate:tokens=50]] replayed"
    run, task = await _new_task(db, prompt)
    broker = AckCountingBroker()
    provider = CountingProvider()
    hub = RunHub()
    hub.track(run.id, 0)
    pump = asyncio.create_task(EventPump(broker, hub, db).run())
    second_db = Database(database_url)
    try:
        async with (
            worker_running(broker, provider.resolve, leases=RunLeases(db, "w1", LIVE_LEASE_S)),
            worker_running(broker, provider.resolve, leases=RunLeases(second_db, "w2", LIVE_LEASE_S)),
        ):
            for _ in range(3):
                await broker.submit(task)
            await _until(lambda: broker.acks == 3, 10, "the three deliveries to be acknowledged")
            assert (await _run_row(db, run.id))[0] == "done"
            await broker.submit(task)  # replayed after the run ended
            await _until(lambda: broker.acks == 4, 5, "the late replay to be acknowledged")
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
        await second_db.dispose()
    assert provider.calls == 1
    async with db.session() as session:
        (saved,) = await get_runs(session, [run.id])
    assert saved.status == "done" and saved.output_text == "".join(expected_tokens(task))
    assert (await _run_row(db, run.id))[2] is None  # the final save cleared the claim


async def test_a_task_leased_by_another_live_worker_waits_then_is_skipped_once_final(
    db: Database, done_result: DoneResult
) -> None:
    run, task = await _new_task(db, "[[simulate:tokens=5]] elsewhere")
    assert await claim_run(db, run.id, 0, "elsewhere/1", 30.0) is ClaimOutcome.CLAIMED
    broker = AckCountingBroker()
    provider = CountingProvider()
    async with (
        collecting(broker) as events,
        worker_running(broker, provider.resolve, leases=RunLeases(db, "here", LEASE_S)),
    ):
        await broker.submit(task)
        await asyncio.sleep(1.0)  # ten polls: the other worker's lease is live all along
        assert (provider.calls, broker.acks, events) == (0, 0, [])
        async with db.session() as session:  # the other worker's run ends and is saved
            assert await save_run_result(session, **done_result(run.id, output_text="theirs"), cost_usd=0.0)
        await _until(lambda: broker.acks == 1, 3, "the skipped delivery to be acknowledged")
        await asyncio.sleep(0.2)
    assert (provider.calls, events) == (0, [])


async def test_a_dead_workers_run_is_retried_once_its_lease_ends(db: Database) -> None:
    run, task = await _new_task(db, "[[simulate:tokens=5]] orphan")
    assert await claim_run(db, run.id, 0, "dead/1", 0.8) is ClaimOutcome.CLAIMED  # never renewed
    broker = AckCountingBroker()
    provider = CountingProvider()
    loop = asyncio.get_running_loop()
    async with (
        collecting(broker) as events,
        worker_running(broker, provider.resolve, leases=RunLeases(db, "survivor", LEASE_S)),
    ):
        submitted = loop.time()
        await broker.submit(task)
        await _until(lambda: any(isinstance(e, FinalEvent) for e in events), 5, "the run's final event")
        waited = loop.time() - submitted
        await _until(lambda: broker.acks == 1, 2, "the delivery to be acknowledged")
    assert provider.calls == 1
    assert waited >= 0.5, f"ran {waited:.2f} s after submission, before the dead worker's lease ended"
    final = next(e for e in events if isinstance(e, FinalEvent))
    assert final.status == "done" and final.output_text == "".join(expected_tokens(task))
    assert (await _run_row(db, run.id))[2] is not None  # held by the survivor until the final save


async def test_a_run_whose_claim_is_lost_stops_without_a_final_event(db: Database) -> None:
    """A retry supersedes the attempt mid-stream: the next renewal finds the claim gone, the
    stream stops, and nothing claims to end an attempt that is no longer this worker's."""
    run, task = await _new_task(db, "[[simulate:tokens=300]] long")  # 3 s of streaming
    broker = AckCountingBroker()
    provider = CountingProvider()
    async with (
        collecting(broker) as events,
        worker_running(broker, provider.resolve, leases=RunLeases(db, "here", 0.6)),
    ):
        await broker.submit(task)
        await _until(lambda: any(isinstance(e, ChunkEvent) for e in events), 5, "the first chunk")
        async with db.session() as session:
            await reset_run_for_retry(session, run.id)
        await _until(lambda: broker.acks == 1, 2, "the superseded delivery to be acknowledged")
        chunks = len([e for e in events if isinstance(e, ChunkEvent)])
        await asyncio.sleep(0.3)
        assert len([e for e in events if isinstance(e, ChunkEvent)]) == chunks  # the stream stopped
    assert provider.calls == 1
    assert chunks < 300
    assert not [e for e in events if isinstance(e, FinalEvent)]


async def test_shutdown_releases_a_cut_off_run_and_leaves_a_waiting_task_unacknowledged(db: Database) -> None:
    cut_off, long_task = await _new_task(db, "[[simulate:tokens=300]] cut off")
    held, held_task = await _new_task(db, "[[simulate:tokens=5]] held elsewhere")
    assert await claim_run(db, held.id, 0, "elsewhere/1", 30.0) is ClaimOutcome.CLAIMED
    broker = AckCountingBroker()
    provider = CountingProvider()
    async with (
        collecting(broker) as events,
        worker_running(broker, provider.resolve, leases=RunLeases(db, "here", LEASE_S)) as worker,
    ):
        await broker.submit(long_task)
        await broker.submit(held_task)
        await _until(lambda: any(isinstance(e, ChunkEvent) for e in events), 5, "the first chunk")
        await worker.shutdown(grace_s=0.1)
    # The cut-off run is not acknowledged (another worker redoes it) and needs no lease wait.
    assert broker.acks == 0
    assert [e.run_id for e in events if isinstance(e, StartedEvent)] == [cut_off.id]
    assert not [e for e in events if isinstance(e, FinalEvent)]
    assert await _run_row(db, cut_off.id) == ("queued", 0, None)
    assert (await _run_row(db, held.id))[2] == "elsewhere/1"
    assert await claim_run(db, cut_off.id, 0, "next/1", 30.0) is ClaimOutcome.CLAIMED


def exclusive_worker(
    db: Database, broker: EmbeddedBroker, provider: CountingProvider | None = None
) -> contextlib.AbstractAsyncContextManager[Worker]:
    """The embedded queue's worker (claims beside its calls), on `provider` (a fresh one: None)."""
    resolve = (provider or CountingProvider()).resolve
    return worker_running(broker, resolve, leases=RunLeases(db, "here", LEASE_S, exclusive=True))


async def test_an_exclusive_worker_claims_beside_the_call_and_holds_the_run_while_it_streams(
    db: Database,
) -> None:
    """The embedded queue's worker: the claim is made (and renewed) as on any broker, the run
    is marked running by it, and the final event goes out as usual."""
    run, task = await _new_task(db, "[[simulate:tokens=60]] exclusive")
    broker = AckCountingBroker()
    provider = CountingProvider()
    async with (
        collecting(broker) as events,
        exclusive_worker(db, broker, provider),
    ):
        await broker.submit(task)
        await _until(lambda: any(isinstance(e, ChunkEvent) for e in events), 5, "the first chunk")
        await asyncio.sleep(0.1)
        status, _, holder = await _run_row(db, run.id)
        assert status == "running" and holder is not None and holder.startswith("here/")
        await _until(lambda: broker.acks == 1, 5, "the run to end")
    assert provider.calls == 1
    final = next(e for e in events if isinstance(e, FinalEvent))
    assert final.status == "done" and final.output_text == "".join(expected_tokens(task))


async def test_an_exclusive_worker_claims_once_the_call_is_under_way_not_with_its_first_words(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim waits EXCLUSIVE_CLAIM_AFTER_S: a fast server's first words do not wait behind
    its database write. Then it is made while the run still streams."""
    monkeypatch.setattr(execution_leases, "EXCLUSIVE_CLAIM_AFTER_S", 0.5)
    run, task = await _new_task(db, "[[simulate:tokens=100]] claimed later")  # steady: about 2 s
    broker = AckCountingBroker()
    async with (
        collecting(broker) as events,
        exclusive_worker(db, broker),
    ):
        await broker.submit(task)
        await _until(lambda: any(isinstance(e, ChunkEvent) for e in events), 5, "the first chunk")
        assert (await _run_row(db, run.id))[2] is None  # words out, no claim yet
        await asyncio.sleep(0.8)
        assert not any(isinstance(e, FinalEvent) for e in events)  # still streaming
        status, _, holder = await _run_row(db, run.id)
        assert status == "running" and holder is not None and holder.startswith("here/")
        await _until(lambda: broker.acks == 1, 10, "the run to end")
    final = next(e for e in events if isinstance(e, FinalEvent))
    assert final.status == "done"


async def test_an_exclusive_run_that_ends_before_its_claim_is_due_claims_at_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run over before EXCLUSIVE_CLAIM_AFTER_S does not wait for it: its end sends the claim,
    whose answer still decides that the final event goes out."""
    monkeypatch.setattr(execution_leases, "EXCLUSIVE_CLAIM_AFTER_S", 60.0)
    run, task = await _new_task(db, "[[simulate:tokens=2]] short")
    broker = AckCountingBroker()
    async with (
        collecting(broker) as events,
        exclusive_worker(db, broker),
    ):
        await broker.submit(task)
        await _until(lambda: broker.acks == 1, 10, "the run to end")
    final = next(e for e in events if isinstance(e, FinalEvent))
    assert final.status == "done" and final.output_text == "".join(expected_tokens(task))
    status, _, holder = await _run_row(db, run.id)
    assert status == "running" and holder is not None and holder.startswith("here/")  # no pump here


async def test_a_run_cut_off_while_it_winds_up_leaves_no_claim_behind_its_workers_stop(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Stop, then the shutdown while the run winds up: its deferred claim is sent and answered
    by `settle` (which a stopping worker awaits), not left to reach a database closed next."""
    monkeypatch.setattr(execution_leases, "EXCLUSIVE_CLAIM_AFTER_S", 60.0)
    run, task = await _new_task(db, "cut off")
    leases = RunLeases(db, "here", LEASE_S, exclusive=True)
    lease = await leases.acquire(task)
    assert lease is not None

    async def streaming() -> None:
        async with lease:
            await asyncio.sleep(30)

    owner = asyncio.create_task(streaming())
    await asyncio.sleep(0.01)
    owner.cancel()  # the Stop: the lease's exit begins
    await asyncio.sleep(0)
    owner.cancel()  # the shutdown, while it waits for its renewer
    with contextlib.suppress(asyncio.CancelledError):
        await owner
    assert leases.deferred_claims == 1
    await leases.settle(5.0)
    assert leases.deferred_claims == 0
    status, _, holder = await _run_row(db, run.id)
    assert status == "running" and holder is not None and holder.startswith("here/")


@pytest.mark.parametrize("refusal", ["superseded", "held elsewhere", "deleted"])
async def test_an_exclusive_worker_whose_claim_is_refused_publishes_nothing(
    db: Database, refusal: str
) -> None:
    """The claim is answered after the call started: a refusal stops the attempt like a lost
    lease, with no final event, and the run's row is left as the refusal found it."""
    run, task = await _new_task(db, f"[[simulate:tokens=300]] refused: {refusal}")
    if refusal == "superseded":
        async with db.session() as session:
            await reset_run_for_retry(session, run.id)  # attempt 1 now; the task is attempt 0
    elif refusal == "held elsewhere":
        assert await claim_run(db, run.id, 0, "elsewhere/1", 30.0) is ClaimOutcome.CLAIMED
    else:
        async with db.session() as session:
            await session.execute(delete(Run).where(Run.id == run.id))
            await session.commit()
    before = await _row_or_none(db, run.id)
    broker = AckCountingBroker()
    provider = CountingProvider()
    async with (
        collecting(broker) as events,
        exclusive_worker(db, broker, provider),
    ):
        await broker.submit(task)
        await _until(lambda: broker.acks == 1, 5, "the refused delivery to be acknowledged")
        chunks = len([e for e in events if isinstance(e, ChunkEvent)])
        await asyncio.sleep(0.2)
        assert len([e for e in events if isinstance(e, ChunkEvent)]) == chunks  # the stream stopped
    assert chunks < 300
    assert not [e for e in events if isinstance(e, FinalEvent)]
    assert await _row_or_none(db, run.id) == before


async def _row_or_none(db: Database, run_id: str) -> tuple[str, int, str | None] | None:
    async with db.session() as session:
        row = (
            await session.execute(select(Run.status, Run.attempt, Run.claimed_by).where(Run.id == run_id))
        ).one_or_none()
    return None if row is None else (row.status, row.attempt, row.claimed_by)


async def test_claims_asked_for_together_are_made_in_one_transaction_each_with_its_own_outcome(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight runs claimed at once (fifty pages pressing Run start two hundred): one transaction,
    and each claim answered for its own run (one of them held by another worker)."""
    tasks = [(await _new_task(db, f"together {i}"))[1] for i in range(8)]
    assert await claim_run(db, tasks[3].run_id, 0, "elsewhere/1", 30.0) is ClaimOutcome.CLAIMED
    writes = 0
    write = db.write

    async def counted(work: Callable[[Connection], object]) -> object:
        nonlocal writes
        writes += 1
        return await write(work)

    monkeypatch.setattr(db, "write", counted)
    leases = RunLeases(db, "here", LEASE_S)
    acquired = await asyncio.gather(*(leases._claim(task, f"here/{i}") for i, task in enumerate(tasks)))
    assert writes == 1
    assert acquired == [ClaimOutcome.HELD if i == 3 else ClaimOutcome.CLAIMED for i in range(8)]
    rows = [await _run_row(db, task.run_id) for task in tasks]
    assert [claimed_by for _, _, claimed_by in rows] == [
        "elsewhere/1" if i == 3 else f"here/{i}" for i in range(8)
    ]


async def test_a_group_of_claims_the_database_fails_is_tried_again_by_each_claimer(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = [(await _new_task(db, f"failing {i}"))[1] for i in range(3)]
    real, failures = execution_leases.claim_runs, [0]

    async def fails_once(database: Database, claims: list[Claim], lease_s: float) -> list[ClaimOutcome]:
        if not failures[0]:
            failures[0] += 1
            raise OSError("the database went away")
        return await real(database, claims, lease_s)

    monkeypatch.setattr(execution_leases, "claim_runs", fails_once)
    leases = RunLeases(db, "here", LEASE_S)
    acquired = await asyncio.gather(*(leases._claim(task, f"here/{i}") for i, task in enumerate(tasks)))
    assert failures == [1]
    assert acquired == [ClaimOutcome.CLAIMED] * 3
