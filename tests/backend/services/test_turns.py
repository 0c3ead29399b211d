"""Follow-up turns (issue 19) end to end: database, queue, worker and pump all real."""

from __future__ import annotations

import pytest

from backend.auth.permissions import AccessDenied
from backend.db.records import ComparisonRecord, RunRecord
from backend.providers.base import ChatRequest
from backend.providers.simulated import simulated_text
from backend.runtime import Runtime
from backend.services.comparisons import InvalidComparison
from backend.services.export import comparison_markdown
from backend.services.projects import ProjectService
from backend.services.shares import ShareService
from tests.backend.runtime_support import owner, wait_until_final

PROMPT = "[[simulate:tokens=6]] How do rivers shape valleys?"
SYSTEM = "Be brief."


def answer(run: RunRecord, prompt: str, history: list[tuple[str, str]]) -> str:
    """What the simulated model of ``run`` says to ``prompt`` after ``history``."""
    request = ChatRequest(
        model=run.model.split(":", 1)[1],
        prompt=prompt,
        system_prompt=SYSTEM,
        temperature=run.params.temperature,
        max_tokens=run.params.max_tokens,
        seed=run.params.seed,
        history=tuple(history),
    )
    return "".join(simulated_text(run.model.split(":", 1)[1], request))


async def finished(
    rt: Runtime, models: tuple[str, ...] = ("simulated:instant", "simulated:swift")
) -> ComparisonRecord:
    created = await rt.comparisons.create(
        await owner(rt), {"prompt": PROMPT, "system_prompt": SYSTEM, "panes": [{"model": m} for m in models]}
    )
    return await wait_until_final(rt.comparisons, created.id)


async def test_a_follow_up_to_every_pane_continues_each_models_own_conversation(rt: Runtime) -> None:
    first = await finished(rt)
    follow_up = "[[simulate:tokens=5]] And glaciers?"
    sent = await rt.turns.send(await owner(rt), first.id, {"message": follow_up})
    assert [r.turn for r in sent.runs] == [2, 2]
    assert [r.status for r in sent.runs] == ["queued", "queued"]
    assert [(t.turn, t.message, t.position) for t in sent.turns] == [(2, follow_up, None)]

    saved = await wait_until_final(rt.comparisons, first.id)
    assert saved.latest_turn == 2
    assert [r.id for r in saved.past_runs] == [r.id for r in first.runs]  # turn 1 kept as it was
    for old, new in zip(first.runs, saved.runs, strict=True):
        assert new.position == old.position and new.model == old.model and new.params == old.params
        assert new.status == "done", new.error
        # each model read its own first answer, not the other pane's
        assert new.output_text == answer(new, follow_up, [(PROMPT, old.output_text)])
        assert new.output_text != answer(new, follow_up, [])
        assert new.input_tokens > old.input_tokens  # the whole conversation was sent
    assert saved.history_of(saved.runs[0]) == [(PROMPT, first.runs[0].output_text)]


async def test_a_follow_up_to_one_pane_leaves_the_others_where_they_were(rt: Runtime) -> None:
    first = await finished(rt)
    to_one = "[[simulate:tokens=4]] Only you: shorter please"
    sent = await rt.turns.send(await owner(rt), first.id, {"message": to_one, "position": 1})
    assert sent.turns[0].position == 1
    assert [r.turn for r in sent.runs] == [1, 2]
    await wait_until_final(rt.comparisons, first.id)

    to_all = "[[simulate:tokens=4]] Both: one more example"
    await rt.turns.send(await owner(rt), first.id, {"message": to_all})
    saved = await wait_until_final(rt.comparisons, first.id)
    assert [r.turn for r in saved.runs] == [3, 3]
    pane0, pane1 = saved.runs
    # pane 0 never saw turn 2; pane 1 did
    assert saved.history_of(pane0) == [(PROMPT, first.runs[0].output_text)]
    assert [m for m, _ in saved.history_of(pane1)] == [PROMPT, to_one]
    assert pane1.output_text == answer(pane1, to_all, saved.history_of(pane1))
    assert [r.turn for r in saved.pane_runs(1)] == [1, 2, 3]
    page = await rt.comparisons.history(await owner(rt))
    assert page.items[0].n_turns == 3 and page.items[0].n_runs == 2


async def test_a_follow_up_is_refused_before_anything_is_saved(rt: Runtime) -> None:
    ada = await owner(rt)
    running = await rt.comparisons.create(
        ada, {"prompt": "[[simulate:stall@1:5]] slow", "panes": [{"model": "simulated:instant"}]}
    )
    with pytest.raises(InvalidComparison) as still_running:
        await rt.turns.send(ada, running.id, {"message": "next"})
    assert "finished" in still_running.value.errors["message"]
    await rt.comparisons.cancel(ada, running.id)

    done = await finished(rt)
    for payload, field in (
        ({"message": "   "}, "message"),
        ({"message": "hi", "position": 5}, "position"),
        ({"message": "hi", "run_id": "nope"}, "run_id"),
        ({"message": "hi", "colour": "red"}, "colour"),
    ):
        with pytest.raises(InvalidComparison) as refused:
            await rt.turns.send(ada, done.id, payload)
        assert field in refused.value.errors, (payload, refused.value.errors)
    assert (await rt.comparisons.get_unchecked(done.id)).latest_turn == 1


async def test_the_context_check_counts_the_whole_conversation(rt: Runtime) -> None:
    """Each message fits the 32,768-token window alone; the conversation does not."""
    ada = await owner(rt)
    long = "[[simulate:tokens=4]] " + "word " * 20_000  # about 25,000 tokens
    created = await rt.comparisons.create(
        ada, {"prompt": long, "panes": [{"model": "simulated:instant", "max_tokens": 4000}]}
    )
    await wait_until_final(rt.comparisons, created.id)
    with pytest.raises(InvalidComparison) as refused:
        await rt.turns.send(ada, created.id, {"message": long})
    message = refused.value.errors["message"]
    assert "conversation" in message and "context window of 32,768 tokens" in message
    await rt.turns.send(ada, created.id, {"message": "[[simulate:tokens=4]] short one"})  # fits


async def test_a_viewer_cannot_send_a_follow_up_and_an_editor_can(rt: Runtime) -> None:
    ada = await owner(rt)
    projects = ProjectService(rt.db)
    project_id = await projects.create(ada, "Team")
    await owner(rt, "vi@example.org")
    await owner(rt, "ed@example.org")
    await projects.set_member(ada, project_id, "vi@example.org", "viewer")
    await projects.set_member(ada, project_id, "ed@example.org", "editor")
    created = await rt.comparisons.create(
        ada, {"prompt": PROMPT, "panes": [{"model": "simulated:instant"}], "project_id": project_id}
    )
    await wait_until_final(rt.comparisons, created.id)
    with pytest.raises(AccessDenied):
        await rt.turns.send(await owner(rt, "vi@example.org"), created.id, {"message": "hi"})
    sent = await rt.turns.send(await owner(rt, "ed@example.org"), created.id, {"message": "hi"})
    assert sent.latest_turn == 2


async def test_fork_and_share_page_keep_the_whole_conversation(rt: Runtime) -> None:
    ada = await owner(rt)
    first = await finished(rt)
    await rt.turns.send(ada, first.id, {"message": "[[simulate:tokens=3]] more", "position": 0})
    source = await wait_until_final(rt.comparisons, first.id)
    shares = ShareService(rt.db)
    link = await shares.create(ada, first.id)

    public = await shares.resolve(link.token)
    assert public.runs[0].message == "[[simulate:tokens=3]] more"
    assert [(e.turn, e.message, e.answer) for e in public.runs[0].earlier] == [
        (1, PROMPT, first.runs[0].output_text)
    ]
    assert public.runs[1].message == "" and public.runs[1].earlier == ()

    fork = await shares.fork(await owner(rt, "eve@example.org"), link.token)
    copied = await rt.comparisons.get_unchecked(fork.id)
    assert [(t.turn, t.message, t.position) for t in copied.turns] == [
        (t.turn, t.message, t.position) for t in source.turns
    ]
    assert [(r.position, r.turn, r.output_text) for r in copied.runs] == [
        (r.position, r.turn, r.output_text) for r in source.runs
    ]
    assert [(r.position, r.turn, r.output_text) for r in copied.past_runs] == [
        (r.position, r.turn, r.output_text) for r in source.past_runs
    ]


async def test_a_vote_records_the_turn_it_is_about(rt: Runtime) -> None:
    ada = await owner(rt)
    first = await finished(rt)
    tally = await rt.votes.vote(ada, first.id, 0)
    assert tally.mine is not None and tally.mine.turn == 1
    await rt.turns.send(ada, first.id, {"message": "[[simulate:tokens=3]] again"})
    with pytest.raises(Exception, match="still running"):
        await rt.votes.vote(ada, first.id, 1)  # the vote is about the latest turn, not finished yet
    await wait_until_final(rt.comparisons, first.id)
    tally = await rt.votes.vote(ada, first.id, 1)
    assert tally.mine is not None and tally.mine.turn == 2 and tally.mine.best_pane == 1


async def test_the_markdown_export_holds_the_whole_conversation(rt: Runtime) -> None:
    first = await finished(rt)
    await rt.turns.send(await owner(rt), first.id, {"message": "[[simulate:tokens=3]] more", "position": 1})
    saved = await wait_until_final(rt.comparisons, first.id)
    text = comparison_markdown(saved)
    assert text.index("## Prompt") < text.index(first.runs[0].output_text) < text.index("## Turn 2")
    after = text.split("## Turn 2", 1)[1]
    assert "[[simulate:tokens=3]] more" in after
    assert "## Pane 2: simulated:swift" in after and "## Pane 1:" not in after
    assert saved.runs[1].output_text in after


async def test_a_judges_own_comparison_takes_no_follow_up(rt: Runtime) -> None:
    ada = await owner(rt)
    first = await finished(rt)
    view = await rt.judges.start(ada, first.id, "simulated:judge")
    judge_comparison = view.judgement.runs[0].run_comparison_id
    await wait_until_final(rt.comparisons, judge_comparison)
    with pytest.raises(InvalidComparison) as refused:
        await rt.turns.send(ada, judge_comparison, {"message": "Are you sure?"})
    assert refused.value.errors == {"message": "A judge's verdict takes no follow-up."}
