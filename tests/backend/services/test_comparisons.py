"""The comparison service end to end: database, queue, worker and pump all real."""

from __future__ import annotations

import asyncio

import pytest

from backend.catalog import estimate_tokens
from backend.db.records import ComparisonRecord
from backend.runtime import Runtime
from backend.services.comparisons import InvalidComparison, NotFound
from tests.backend.runtime_support import expected_output, owner, wait_for_live_text, wait_until_final

PROMPT = "[[simulate:tokens=8]] Compare how rivers and glaciers shape valleys"
SYSTEM = "Answer in one paragraph."


async def create(rt: Runtime, models: list[str], prompt: str = PROMPT, **kw: object) -> ComparisonRecord:
    panes = [{"model": m, **kw} for m in models]
    return await rt.comparisons.create(
        await owner(rt), {"prompt": prompt, "system_prompt": SYSTEM, "panes": panes}
    )


async def test_three_models_stream_and_are_saved_exactly(rt: Runtime) -> None:
    models = ["simulated:instant", "simulated:swift", "simulated:steady"]
    created = await rt.comparisons.create(
        await owner(rt),
        {
            "prompt": PROMPT,
            "system_prompt": SYSTEM,
            "panes": [
                {"model": "simulated:instant"},
                {"model": "simulated:swift", "temperature": 0.2, "max_tokens": 300, "seed": 11},
                {"model": "simulated:steady"},
            ],
        },
    )
    assert [r.model for r in created.runs] == models
    assert [r.position for r in created.runs] == [0, 1, 2]
    assert all(r.status == "queued" and r.attempt == 0 for r in created.runs)
    assert created.runs[1].params == {"temperature": 0.2, "max_tokens": 300, "seed": 11}

    saved = await wait_until_final(rt.comparisons, created.id)
    assert saved.prompt == PROMPT and saved.system_prompt == SYSTEM
    for run in saved.runs:
        expected = expected_output(run, PROMPT, SYSTEM)
        assert run.status == "done", (run.model, run.error)
        assert run.output_text == expected
        assert run.error == "" and run.error_kind == ""
        assert run.ttft_ms is not None and run.ttft_ms >= 0
        assert run.total_ms is not None and run.total_ms >= run.ttft_ms
        assert run.output_tokens == 8
        assert run.input_tokens == estimate_tokens(SYSTEM + PROMPT)
        assert run.cost_usd == 0.0
        assert run.finished_at is not None
    # paced models really waited for their first token
    by_model = {r.model: r for r in saved.runs}
    assert by_model["simulated:steady"].ttft_ms >= 90  # type: ignore[operator]
    # the seed changes the answer: swift's text differs from what it would say without one
    assert len({r.output_text for r in saved.runs}) == 3


async def test_history_lists_newest_first_with_models(rt: Runtime) -> None:
    first = await create(rt, ["simulated:instant"], prompt="[[simulate:tokens=3]] first question")
    await wait_until_final(rt.comparisons, first.id)
    await asyncio.sleep(0.01)  # distinct created_at
    second = await create(
        rt, ["simulated:instant", "simulated:swift"], prompt="\n  [[simulate:tokens=3]] second question\nmore"
    )
    await wait_until_final(rt.comparisons, second.id)

    page = await rt.comparisons.history(await owner(rt))
    assert page.total == 2
    assert [item.id for item in page.items] == [second.id, first.id]
    newest = page.items[0]
    assert newest.models == ("simulated:instant", "simulated:swift")
    assert newest.prompt_first_line == "[[simulate:tokens=3]] second question"
    assert (newest.n_runs, newest.n_done, newest.n_error, newest.n_active) == (2, 2, 0, 0)
    assert page.items[1].models == ("simulated:instant",)

    # another user sees nothing; page size 1 paginates
    assert (await rt.comparisons.history(await owner(rt, "bob@example.org"))).total == 0
    one = await rt.comparisons.history(await owner(rt), page=2, page_size=1)
    assert [i.id for i in one.items] == [first.id] and one.n_pages == 2


async def test_cancel_a_slow_run_saves_its_partial_text(rt: Runtime) -> None:
    prompt = "[[simulate:tokens=400]] Think slowly about erosion"
    record = await create(rt, ["simulated:ponder", "simulated:instant"], prompt=prompt)
    slow = record.runs[0]
    await wait_for_live_text(rt.comparisons, record.id, slow.id)

    cancelled = await rt.comparisons.cancel(await owner(rt), record.id, [slow.id])
    assert cancelled == [slow.id]
    saved = await wait_until_final(rt.comparisons, record.id, timeout=5)
    slow_saved, fast_saved = saved.runs

    assert slow_saved.status == "cancelled"
    full = expected_output(slow_saved, prompt, SYSTEM)
    assert 0 < len(slow_saved.output_text) < len(full)
    assert full.startswith(slow_saved.output_text)  # exactly what had streamed, no gaps
    assert slow_saved.error == "Stopped by the user."
    assert slow_saved.ttft_ms is not None

    assert fast_saved.status == "done"
    assert fast_saved.output_text == expected_output(fast_saved, prompt, SYSTEM)


async def test_cancel_whole_comparison_right_after_create(rt: Runtime) -> None:
    prompt = "[[simulate:tokens=400]] Stop at once"
    record = await create(rt, ["simulated:ponder", "simulated:swift"], prompt=prompt)
    assert sorted(await rt.comparisons.cancel(await owner(rt), record.id)) == sorted(
        r.id for r in record.runs
    )
    saved = await wait_until_final(rt.comparisons, record.id, timeout=5)
    assert [r.status for r in saved.runs] == ["cancelled", "cancelled"]
    for run in saved.runs:
        assert expected_output(run, prompt, SYSTEM).startswith(run.output_text)


async def test_retry_a_finished_run_gives_the_same_exact_answer(rt: Runtime) -> None:
    record = await create(rt, ["simulated:instant", "simulated:swift"])
    first = await wait_until_final(rt.comparisons, record.id)
    target = first.runs[1]

    retried = await rt.comparisons.retry(await owner(rt), record.id, target.id)
    assert retried.id == target.id
    assert retried.attempt == 1
    assert retried.status == "queued" and retried.output_text == "" and retried.ttft_ms is None

    saved = await wait_until_final(rt.comparisons, record.id, attempt={target.id: 1})
    again = saved.runs[1]
    assert again.attempt == 1 and again.status == "done"
    assert again.output_text == target.output_text == expected_output(again, PROMPT, SYSTEM)
    assert saved.runs[0] == first.runs[0]  # the other pane is untouched


async def test_retry_mid_stream_ignores_the_abandoned_attempt(rt: Runtime) -> None:
    prompt = "[[simulate:tokens=60]] retry me while streaming"
    record = await create(rt, ["simulated:swift"], prompt=prompt)
    run = record.runs[0]
    await wait_for_live_text(rt.comparisons, record.id, run.id)
    retried = await rt.comparisons.retry(await owner(rt), record.id, run.id)
    assert retried.attempt == 1

    saved = await wait_until_final(rt.comparisons, record.id, attempt={run.id: 1})
    final = saved.runs[0]
    assert final.attempt == 1
    assert final.status == "done"
    assert final.output_text == expected_output(final, prompt, SYSTEM)  # not the cancelled attempt's text
    await asyncio.sleep(0.1)  # any late event of attempt 0 must not overwrite it
    assert (await rt.comparisons.get_unchecked(record.id)).runs[0] == final


async def test_failing_run_saves_error_while_others_complete(rt: Runtime) -> None:
    prompt = "[[simulate:tokens=50]] flaky networks"
    record = await create(rt, ["simulated:instant", "simulated:flaky", "simulated:swift"], prompt=prompt)
    saved = await wait_until_final(rt.comparisons, record.id)
    instant, flaky, swift = saved.runs

    assert flaky.status == "error"
    assert flaky.error_kind == "unavailable"
    assert "simulated failure after 40 tokens" in flaky.error
    full = expected_output(flaky, prompt, SYSTEM)
    assert flaky.output_text and full.startswith(flaky.output_text) and flaky.output_text != full

    for run in (instant, swift):
        assert run.status == "done"
        assert run.output_text == expected_output(run, prompt, SYSTEM)
        assert run.output_tokens == 50

    summary = (await rt.comparisons.history(await owner(rt))).items[0]
    assert (summary.n_done, summary.n_error, summary.n_active) == (2, 1, 0)


async def test_with_live_output_overlays_streaming_text(rt: Runtime) -> None:
    prompt = "[[simulate:tokens=400]] live overlay"
    record = await create(rt, ["simulated:ponder"], prompt=prompt)
    run_id = record.runs[0].id
    text = await wait_for_live_text(rt.comparisons, record.id, run_id)
    live = rt.comparisons.with_live_output(await rt.comparisons.get_unchecked(record.id)).runs[0]
    assert live.status == "running"
    assert live.output_text.startswith(text)
    assert live.output_tokens >= 1 and live.ttft_ms is not None
    assert (await rt.comparisons.get_unchecked(record.id)).runs[0].output_text == ""  # not saved until final
    await rt.comparisons.cancel(await owner(rt), record.id)
    await wait_until_final(rt.comparisons, record.id)


async def test_invalid_input_creates_nothing(rt: Runtime) -> None:
    with pytest.raises(InvalidComparison) as info:
        await rt.comparisons.create(await owner(rt), {"prompt": "", "panes": [{"model": "simulated:swift"}]})
    assert info.value.errors == {"prompt": "Enter a prompt."}
    assert (await rt.comparisons.history(await owner(rt))).total == 0
    assert rt.broker.pending_tasks == 0  # type: ignore[attr-defined]


async def test_unknown_ids_raise_not_found(rt: Runtime) -> None:
    with pytest.raises(NotFound):
        await rt.comparisons.get_unchecked("no-such-comparison")
    with pytest.raises(NotFound):
        await rt.comparisons.cancel(await owner(rt), "no-such-comparison")
    record = await create(rt, ["simulated:instant"])
    with pytest.raises(NotFound):
        await rt.comparisons.retry(await owner(rt), record.id, "no-such-run")
    await wait_until_final(rt.comparisons, record.id)


async def test_models_lists_simulated_available_and_keyed_families_not(rt: Runtime) -> None:
    entries = {e.id: e for e in await rt.comparisons.models()}
    assert entries["simulated:swift"].available and entries["simulated:swift"].simulated
    assert not entries["openai:gpt-4o"].available
    assert "OPENAI_API_KEY" in entries["openai:gpt-4o"].reason
    assert not entries["ollama:llama3.2"].available
