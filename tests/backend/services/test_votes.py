"""Votes through the service on a started runtime: who may vote, when, and the tally."""

from __future__ import annotations

import pytest

from backend.db.records import ComparisonRecord
from backend.runtime import Runtime
from backend.services.access import NotFound
from backend.services.votes import InvalidVote, VoteService
from tests.backend.runtime_support import owner, wait_until_final

PROMPT = "[[simulate:tokens=3]] Which river is longer?"
MODELS = ["simulated:instant", "simulated:swift"]


async def finished(
    rt: Runtime, models: list[str] = MODELS, email: str = "ada@example.org"
) -> ComparisonRecord:
    created = await rt.comparisons.create(
        await owner(rt, email), {"prompt": PROMPT, "panes": [{"model": m} for m in models]}
    )
    return await wait_until_final(rt.comparisons, created.id)


async def test_one_vote_per_person_and_voting_again_replaces_it(rt: Runtime) -> None:
    votes = VoteService(rt.db)
    ada = await owner(rt)
    comparison = await finished(rt)
    await votes.vote(ada, comparison.id, 0, ["up", "down"], "first try")
    tally = await votes.vote(ada, comparison.id, 1, ["down", "up"])
    assert tally.votes == 1
    assert [(p.model, p.best, p.thumbs_up, p.thumbs_down) for p in tally.panes] == [
        ("simulated:instant", 0, 0, 1),
        ("simulated:swift", 1, 1, 0),
    ]
    assert tally.mine is not None and tally.mine.best_pane == 1 and tally.mine.comment == ""


async def test_the_tally_counts_every_members_vote(rt: Runtime) -> None:
    votes = VoteService(rt.db)
    ada = await owner(rt)
    comparison = await finished(rt)
    members = [await owner(rt, f"m{i}@example.org") for i in range(4)]
    for member, role in zip(members, ("viewer", "editor", "viewer", "owner"), strict=True):
        await rt.projects.set_member(ada, comparison.project_id, member.email, role)
    choices: tuple[int | str, ...] = (0, "tie", "all_bad", 0)
    for member, best in zip(members, choices, strict=True):
        await votes.vote(member, comparison.id, best, ["up"])
    tally = await votes.tally(ada, comparison.id)
    assert (tally.votes, tally.tie, tally.all_bad) == (4, 1, 1)
    assert [p.best for p in tally.panes] == [2, 0]
    assert [p.thumbs_up for p in tally.panes] == [4, 0]
    assert tally.mine is None  # ada has not voted


async def test_a_viewer_may_vote_and_a_non_member_finds_nothing(rt: Runtime) -> None:
    votes = VoteService(rt.db)
    ada, vic, eve = await owner(rt), await owner(rt, "vic@example.org"), await owner(rt, "eve@example.org")
    comparison = await finished(rt)
    await rt.projects.set_member(ada, comparison.project_id, vic.email, "viewer")
    assert (await votes.vote(vic, comparison.id, "tie")).votes == 1
    with pytest.raises(NotFound):
        await votes.vote(eve, comparison.id, 0)
    with pytest.raises(NotFound):
        await votes.tally(eve, comparison.id)
    assert (await votes.tally(ada, comparison.id)).votes == 1


async def test_a_vote_on_a_running_comparison_is_refused_and_nothing_saved(rt: Runtime) -> None:
    votes = VoteService(rt.db)
    ada = await owner(rt)
    running = await rt.comparisons.create(
        ada, {"prompt": "[[simulate:stall@1:30]] slow", "panes": [{"model": m} for m in MODELS]}
    )
    with pytest.raises(InvalidVote) as refused:
        await votes.vote(ada, running.id, 0)
    assert "still running" in refused.value.errors["comparison"]
    assert (await votes.tally(ada, running.id)).votes == 0
    await rt.comparisons.cancel(ada, running.id)


@pytest.mark.parametrize(
    ("best", "thumbs", "comment", "field", "words"),
    [
        (2, [], "", "best", "0 to 1"),
        (-1, [], "", "best", "0 to 1"),
        ("first", [], "", "best", "'tie' or 'all_bad'"),
        (True, [], "", "best", "0 to 1"),
        (0, ["up", "up", "up"], "", "thumbs", "2 panes"),
        (0, ["sideways"], "", "thumbs", "'up', 'down'"),
        (0, [], "x" * 2001, "comment", "2,000 characters"),
        (0, [], "a\x00b", "comment", "NUL"),
    ],
)
async def test_invalid_votes_get_a_clear_message_and_save_nothing(
    rt: Runtime, best: object, thumbs: list[str | None], comment: str, field: str, words: str
) -> None:
    votes = VoteService(rt.db)
    ada = await owner(rt)
    comparison = await finished(rt)
    with pytest.raises(InvalidVote) as refused:
        await votes.vote(ada, comparison.id, best, thumbs, comment)  # type: ignore[arg-type]
    assert words in refused.value.errors[field]
    assert (await votes.tally(ada, comparison.id)).votes == 0
