"""The worker's token observer: told of each provider chunk before it is published and of the
run's end before its final event; the benchmark's file trace is one observer, chosen by env."""

from __future__ import annotations

import json
from pathlib import Path

from backend.execution.token_trace import FileTokenTrace, token_trace_from_env
from backend.queue.embedded import EmbeddedBroker
from backend.queue.messages import ChunkEvent, FinalEvent
from tests.backend.execution.test_worker import events_until_final, make_task, split, worker_running


class SeenByObserver:
    def __init__(self) -> None:
        self.seen: list[tuple[str, object]] = []

    def chunk_sent(self, event: ChunkEvent, t_wall: float) -> None:
        self.seen.append(("chunk", event.seq))

    def run_ended(self, run_id: str, attempt: int) -> None:
        self.seen.append(("ended", (run_id, attempt)))


async def test_the_observer_sees_every_chunk_then_the_end_of_the_run() -> None:
    broker = EmbeddedBroker()
    observer = SeenByObserver()
    task = make_task("[[simulate:tokens=6]] Hello")
    async with worker_running(broker, observer=observer):
        await broker.submit(task)
        _, chunks, final = split(await events_until_final(broker, task.run_id))
    assert final.status == "done"
    assert observer.seen == [("chunk", c.seq) for c in chunks] + [("ended", ("run-1", 0))]


async def test_the_file_trace_has_one_line_per_chunk_written_by_the_runs_end(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    trace = token_trace_from_env({"LLMDASH_TRACE_TOKENS": str(path)})
    assert isinstance(trace, FileTokenTrace)
    broker = EmbeddedBroker()
    task = make_task("[[simulate:tokens=5]] Hello")
    final_seen_with: list[str] = []

    def on_event(event: object) -> None:  # readers wait for the final event, then read the file
        if isinstance(event, FinalEvent):
            final_seen_with.extend(path.read_text().splitlines())

    async with worker_running(broker, observer=trace):
        await broker.submit(task)
        _, chunks, final = split(await events_until_final(broker, task.run_id, on_event=on_event))
    rows = [json.loads(line) for line in final_seen_with]
    assert [row["seq"] for row in rows] == [c.seq for c in chunks]
    assert rows[-1]["text_len"] == len(final.output_text.encode("utf-16-le")) // 2
    assert {row["run_id"] for row in rows} == {"run-1"}


def test_no_trace_unless_the_variable_names_a_file() -> None:
    assert token_trace_from_env({}) is None
    assert token_trace_from_env({"LLMDASH_TRACE_TOKENS": ""}) is None
