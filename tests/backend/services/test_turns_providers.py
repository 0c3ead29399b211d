"""A follow-up through a real provider adapter (the OpenAI one, against the local fake server):
the whole conversation goes over the wire, and the comparison owner's budget is checked first."""

from __future__ import annotations

import pytest

from backend.runtime import Runtime
from backend.services.budgets import BudgetExceeded
from backend.services.projects import ProjectService
from tests.backend.runtime_support import owner, wait_until_final
from tests.backend.services.test_budgets import PRICED, brt, server, set_budget
from tests.support.fake_llm_server import FakeLLMServer

__all__ = ["brt", "server"]  # the fixtures, used by name

CHAT = "/v1/chat/completions"


async def test_the_follow_up_sends_the_conversation_to_the_provider(
    brt: Runtime, server: FakeLLMServer
) -> None:
    ada = await owner(brt)
    created = await brt.comparisons.create(
        ada, {"prompt": "Name a river", "system_prompt": "Be brief.", "panes": [PRICED]}
    )
    first = await wait_until_final(brt.comparisons, created.id)
    assert first.runs[0].status == "done" and first.runs[0].output_text

    await brt.turns.send(ada, created.id, {"message": "And a lake?"})
    saved = await wait_until_final(brt.comparisons, created.id)
    assert saved.runs[0].turn == 2 and saved.runs[0].status == "done", saved.runs[0].error
    assert server.last_body(CHAT)["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Name a river"},
        {"role": "assistant", "content": first.runs[0].output_text},
        {"role": "user", "content": "And a lake?"},
    ]


async def test_an_editors_follow_up_is_checked_against_the_owners_budget(brt: Runtime) -> None:
    ada = await owner(brt)
    projects = ProjectService(brt.db)
    project_id = await projects.create(ada, "Team")
    editor = await owner(brt, "ed@example.org")
    await projects.set_member(ada, project_id, "ed@example.org", "editor")
    created = await brt.comparisons.create(
        ada, {"prompt": "Name a river", "panes": [PRICED], "project_id": project_id}
    )
    await wait_until_final(brt.comparisons, created.id)
    await set_budget(brt, ada, 0.0001)
    with pytest.raises(BudgetExceeded, match=r"This follow-up could cost up to .* the comparison owner's"):
        await brt.turns.send(editor, created.id, {"message": "And a lake?"})
    assert (await brt.comparisons.get_unchecked(created.id)).latest_turn == 1  # nothing saved
