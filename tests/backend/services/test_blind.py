"""Blind comparisons and battles through the service: labels until a vote or a reveal."""

from __future__ import annotations

import pytest

from backend.auth.permissions import AccessDenied
from backend.runtime import Runtime
from backend.services.blind import HIDDEN_ERROR, draw_battle, pane_label
from backend.services.projects import InvalidProject
from backend.services.shares import ShareService
from backend.services.validation import InvalidComparison
from backend.services.votes import VoteService
from tests.backend.runtime_support import owner, wait_until_final

PROMPT = "[[simulate:tokens=3]] Which river is longer?"
MODELS = ["simulated:instant", "simulated:swift", "simulated:coder"]
LABELS = ["Model A", "Model B", "Model C"]


def _blind_payload(models: list[str] = MODELS) -> dict[str, object]:
    return {"prompt": PROMPT, "panes": [{"model": m} for m in models], "blind": True}


async def test_a_blind_comparison_shows_labels_until_its_reader_reveals(rt: Runtime) -> None:
    ada = await owner(rt)
    created = await rt.comparisons.create(ada, _blind_payload())
    assert created.masked and created.blind
    assert [r.model for r in created.runs] == LABELS
    assert all(r.provider == "" for r in created.runs)

    await wait_until_final(rt.comparisons, created.id)
    seen = await rt.comparisons.get(ada, created.id)
    assert [r.model for r in seen.runs] == LABELS
    assert all(r.cost_usd == 0.0 and r.input_tokens == 0 for r in seen.runs)
    assert [r.output_text for r in seen.runs] == [
        r.output_text for r in (await rt.comparisons.get_unchecked(created.id)).runs
    ]  # the answers themselves are what the person judges

    (item,) = (await rt.comparisons.history(ada)).items
    assert item.masked and list(item.models) == LABELS

    revealed = await rt.comparisons.reveal(ada, created.id)
    assert not revealed.masked
    assert sorted(r.model for r in revealed.runs) == sorted(MODELS)
    assert sorted((await rt.comparisons.history(ada)).items[0].models) == sorted(MODELS)


async def test_revealing_is_per_person_and_a_vote_reveals(rt: Runtime) -> None:
    ada, vic = await owner(rt), await owner(rt, "vic@example.org")
    created = await rt.comparisons.create(ada, _blind_payload(MODELS[:2]))
    await rt.projects.set_member(ada, created.project_id, vic.email, "viewer")
    await wait_until_final(rt.comparisons, created.id)
    await rt.comparisons.reveal(ada, created.id)

    assert (await rt.comparisons.get(vic, created.id)).masked
    votes = VoteService(rt.db)
    before = await votes.tally(vic, created.id)
    assert [p.model for p in before.panes] == LABELS[:2]
    after = await votes.vote(vic, created.id, 0)
    assert sorted(p.model for p in after.panes) == sorted(MODELS[:2])
    assert not (await rt.comparisons.get(vic, created.id)).masked


async def test_blind_panes_are_shuffled_on_the_server(rt: Runtime) -> None:
    ada = await owner(rt)
    orders = set()
    for _ in range(12):  # all 12 in the picked order: (1/6)^11 if the order were random
        created = await rt.comparisons.create(ada, _blind_payload())
        orders.add(tuple(r.model for r in (await rt.comparisons.get_unchecked(created.id)).runs))
    assert all(sorted(order) == sorted(MODELS) for order in orders)
    assert len(orders) > 1


async def test_an_open_comparison_is_never_masked(rt: Runtime) -> None:
    ada = await owner(rt)
    created = await rt.comparisons.create(ada, {"prompt": PROMPT, "panes": [{"model": m} for m in MODELS]})
    assert not created.masked and [r.model for r in created.runs] == MODELS
    assert not (await rt.comparisons.history(ada)).items[0].masked


async def test_a_battle_draws_two_different_available_models_and_runs_blind(rt: Runtime) -> None:
    ada = await owner(rt)
    available = {m.id for m in await rt.comparisons.models(ada) if m.available}
    created = await rt.comparisons.create(ada, {"prompt": PROMPT, "panes": [], "battle": True})
    assert created.masked and [r.model for r in created.runs] == LABELS[:2]
    drawn = [r.model for r in (await rt.comparisons.get_unchecked(created.id)).runs]
    assert len(set(drawn)) == 2 and set(drawn) <= available


async def test_a_failed_blind_run_hides_the_providers_error(rt: Runtime) -> None:
    ada = await owner(rt)
    # The simulated family fails on request, with a message that names the model.
    payload = _blind_payload(MODELS[:2]) | {"prompt": "[[simulate:fail@1]] hi"}
    created = await rt.comparisons.create(ada, payload)
    raw = await wait_until_final(rt.comparisons, created.id)
    assert all(r.status == "error" and r.error for r in raw.runs)
    seen = await rt.comparisons.get(ada, created.id)
    assert [r.error for r in seen.runs] == [HIDDEN_ERROR, HIDDEN_ERROR]
    assert all(r.error != HIDDEN_ERROR for r in raw.runs)


async def test_a_battle_without_a_pool_leaves_the_judge_out(rt: Runtime) -> None:
    """simulated:judge answers a verdict, not the prompt: no contest, and it would give itself away."""
    ada = await owner(rt)
    entries = [m for m in await rt.comparisons.models(ada) if m.id in ("simulated:judge", "simulated:swift")]
    assert len(entries) == 2 and all(e.available for e in entries)
    with pytest.raises(InvalidComparison):
        draw_battle(entries)
    pool = ["simulated:judge", "simulated:swift"]  # a project may still put it in its pool
    assert sorted(draw_battle(entries, pool)) == pool


def test_labels_run_past_z() -> None:
    assert [pane_label(i) for i in (0, 1, 25, 26)] == ["Model A", "Model B", "Model Z", "Model 27"]


async def test_a_battle_needs_two_available_models(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    ada = await owner(rt)
    only_one = [m for m in await rt.comparisons.models(ada) if m.available][:1]

    async def models(*_: object) -> list[object]:
        return only_one  # type: ignore[return-value]

    monkeypatch.setattr(rt.comparisons, "models", models)
    with pytest.raises(InvalidComparison) as refused:
        await rt.comparisons.create(ada, {"prompt": PROMPT, "panes": [], "battle": True})
    assert "two available models" in refused.value.errors["panes"]
    assert (await rt.comparisons.history(ada)).total == 0


async def test_a_battle_draws_from_the_projects_pool(rt: Runtime) -> None:
    ada = await owner(rt)
    project_id = (await rt.projects.list_for(ada))[0].id
    pool = ["simulated:swift", "simulated:coder"]
    assert await rt.projects.set_battle_pool(ada, project_id, [*pool, " simulated:swift "]) == pool
    for _ in range(4):
        created = await rt.comparisons.create(ada, {"prompt": PROMPT, "panes": [], "battle": True})
        drawn = [r.model for r in (await rt.comparisons.get_unchecked(created.id)).runs]
        assert sorted(drawn) == sorted(pool)


async def test_a_pool_is_set_by_owners_and_needs_two_model_ids(rt: Runtime) -> None:
    ada, ed = await owner(rt), await owner(rt, "ed@example.org")
    project_id = (await rt.projects.list_for(ada))[0].id
    await rt.projects.set_member(ada, project_id, ed.email, "editor")
    with pytest.raises(AccessDenied):
        await rt.projects.set_battle_pool(ed, project_id, ["simulated:swift", "simulated:coder"])
    for bad in (["simulated:swift"], ["no family here", "simulated:coder"]):
        with pytest.raises(InvalidProject):
            await rt.projects.set_battle_pool(ada, project_id, bad)
    assert await rt.projects.battle_pool(ed, project_id) == []


async def test_a_share_link_shows_labels_until_its_creator_reveals(rt: Runtime) -> None:
    ada = await owner(rt)
    created = await rt.comparisons.create(ada, _blind_payload(MODELS[:2]))
    await wait_until_final(rt.comparisons, created.id)
    shares = ShareService(rt.db)
    link = await shares.create(ada, created.id)
    before = await shares.resolve(link.token)
    assert [r.model for r in before.runs] == LABELS[:2]
    assert [r.model_label for r in before.runs] == LABELS[:2]
    await rt.comparisons.reveal(ada, created.id)
    after = await shares.resolve(link.token)
    assert sorted(r.model for r in after.runs) == sorted(MODELS[:2])
