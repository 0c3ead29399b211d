"""UsageState driven through its handlers: the figures of my projects only, the filters, the
burn-down, and the export served as a download (bounded on the page)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import state.usage as usage_module
from backend.i18n import said_in
from backend.runtime import Runtime, running
from devstack.postgres import migrated_sqlite_url
from state.language import LanguageState
from state.usage import ALL_PROJECTS, EVERYONE, TOO_MANY_RUNS, UsageState
from tests.backend.runtime_support import make_settings, owner
from tests.backend.usage_support import R, personal_project, save_runs
from tests.state.support import in_tree, sign_in

U = UsageState
A, B = "simulated:instant", "simulated:swift"


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(make_settings(migrated_sqlite_url(tmp_path), tmp_path)) as rt:
        yield rt


async def _tab(rt: Runtime, email: str = "ada@example.org") -> UsageState:
    tab = in_tree(UsageState)
    await sign_in(tab, rt, email)
    await U.load.fn(tab)
    return tab


async def test_the_sentences_made_here_are_kept_in_every_language(runtime: Runtime) -> None:
    """The total and the budget summary are said in both languages, amounts as each writes them:
    the page shows its own, and again at once when the person switches (t_var)."""
    ada = await owner(runtime, "ada@example.org")
    now = datetime.now(UTC)
    await save_runs(runtime, ada, await personal_project(runtime, ada), [R(at=now, cost_usd=0.5)])
    tab = in_tree(UsageState)
    await sign_in(tab, runtime, "ada@example.org")
    (await tab.get_state(LanguageState)).lang_cookie = "ja"
    await U.load.fn(tab)
    assert said_in("ja", tab.total_text) == "過去 30 日で 1 回の実行、$0.50。"
    assert said_in("en", tab.total_text) == "1 run, $0.50 in the last 30 days."
    assert "$0.50" in said_in("ja", tab.burn_text) and "月間予算は未設定です" in said_in("ja", tab.burn_text)
    await runtime.accounts.set_budget(ada, 2.0)
    await U.load.fn(tab)
    assert "$2.00 のうち $0.50 を使用、残り $1.50。" in said_in("ja", tab.burn_text)
    assert said_in("en", tab.burn_text).endswith("; $1.50 left.")


async def test_my_usage_by_model_over_time_and_the_burn_down(runtime: Runtime) -> None:
    ada, eve = await owner(runtime, "ada@example.org"), await owner(runtime, "eve@example.org")
    now = datetime.now(UTC)
    await save_runs(
        runtime, ada, await personal_project(runtime, ada), [R(at=now, cost_usd=0.5), R(model=B, at=now)]
    )
    await save_runs(runtime, eve, await personal_project(runtime, eve), [R(model="eve:secret", at=now)])
    tab = await _tab(runtime)
    assert tab.loaded and not tab.empty and tab.project_id == ALL_PROJECTS and not tab.is_admin
    assert [r.model for r in tab.rows] == [A, B]  # nothing of eve's
    a = tab.rows[0]
    assert (a.runs, a.cost, a.ttft_p50, a.tps_p50, a.error_rate) == (1, "$0.50", "100 ms", "10.0 tok/s", "0%")
    assert [p["runs"] for p in tab.chart] == [2] and tab.chart[0]["cost"] == 0.5
    assert said_in("en", tab.total_text) == "2 runs, $0.50 in the last 30 days."
    assert tab.burn[-1]["spent"] == 0.5 and "remaining" not in tab.burn[-1]
    assert said_in("en", tab.burn_text).startswith("$0.50 spent in") and "No monthly budget" in tab.burn_text

    await runtime.accounts.set_budget(ada, 2.0)
    assert U.set_group.fn(tab, "week") == U.load  # the filters reload through a checked load
    await U.load.fn(tab)
    assert tab.group == "week" and tab.chart[0]["bucket"] <= now.strftime("%Y-%m-%d")
    assert tab.burn[-1]["remaining"] == 1.5 and "$1.50 left" in said_in("en", tab.burn_text)


async def test_projects_i_cannot_read_and_everyone_fall_back_to_mine(runtime: Runtime) -> None:
    eve = await owner(runtime, "eve@example.org")
    tab = await _tab(runtime)
    for planted in (await personal_project(runtime, eve), EVERYONE):
        U.set_project.fn(tab, planted)
        await U.load.fn(tab)
        assert tab.project_id == ALL_PROJECTS and tab.error == ""
    assert tab.empty


async def test_the_export_is_a_download_of_my_runs(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    ada = await owner(runtime)
    now = datetime.now(UTC) - timedelta(minutes=5)
    await save_runs(
        runtime, ada, await personal_project(runtime, ada), [R(at=now, error="=1+1", status="error")]
    )
    tab = await _tab(runtime)
    spec = await U.export.fn(tab, "csv")
    url = str(spec)
    encoded = url.split("base64,", 1)[1].split('"', 1)[0].split("\\", 1)[0]
    text = base64.b64decode(encoded).decode()
    assert text.startswith("run_id,") and "'=1+1" in text and tab.export_error == ""

    monkeypatch.setattr(usage_module, "PAGE_EXPORT_MAX_RUNS", 0)
    assert await U.export.fn(tab, "jsonl") is None
    assert tab.export_error == TOO_MANY_RUNS
