"""A judge on the scale-out stack: Apache Kafka and a real `python -m workers` process serve the
judge's runs like any run; the web process saves them and stores the verdicts."""

from __future__ import annotations

import asyncio

import pytest

from backend.queue.kafka import KafkaBroker
from backend.ranking import Source
from backend.runtime import Runtime
from backend.services.leaderboard import LeaderboardService
from devstack.kafka_workers import worker_processes
from tests.backend.queue.test_kafka import KafkaSetup, rt, setup
from tests.backend.runtime_support import owner, wait_for_workers, wait_until_final

pytestmark = pytest.mark.postgres
__all__ = ["rt", "setup"]  # the Kafka runtime fixtures, shared with the queue's tests


async def test_a_judge_runs_on_kafka_workers(setup: KafkaSetup, rt: Runtime) -> None:
    assert isinstance(rt.broker, KafkaBroker)
    with worker_processes(setup.env(), 1, setup.tmp_path):
        await wait_for_workers(rt, 1)
        ada = await owner(rt)
        panes = [{"model": "simulated:terse"}, {"model": "simulated:instant"}]
        created = await rt.comparisons.create(ada, {"prompt": "Explain bloom filters", "panes": panes})
        await wait_until_final(rt.comparisons, created.id, timeout=30.0)
        await rt.judges.start(ada, created.id, "simulated:judge")
        for _ in range(600):
            (view,) = await rt.judges.judgements(ada, created.id)
            if view.finished:
                break
            await asyncio.sleep(0.05)
        assert [(r.run and r.run.status, r.winner) for r in view.judgement.runs] == [
            ("done", "B"),
            ("done", "A"),
        ]
        assert (view.pairs[0].result, view.pairs[0].agreed) == ("b_wins", True)
        board = await LeaderboardService(rt.db).leaderboard(
            ada, created.project_id, source=Source.JUDGE, min_comparisons=1
        )
        assert [r.model for r in board.board.rows] == ["simulated:instant", "simulated:terse"]
