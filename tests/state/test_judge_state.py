"""JudgeState driven through its handlers: start a judge, follow it to its verdicts, who may
judge and save the rubric, and the refusals shown as messages (nothing saved)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from backend.db.models import RUBRIC_MAX_CHARS, Judgement, JudgeRun
from backend.i18n import said_in
from backend.judging.prompts import DEFAULT_RUBRIC
from backend.judging.verdicts import parse_verdict
from backend.runtime import Runtime, running
from devstack.postgres import migrated_sqlite_url
from state.compare import CompareState
from state.judge import JudgeState
from state.language import LanguageState
from state.rows import option_from_entry
from tests.backend.runtime_support import make_settings, owner, wait_until_final
from tests.state.support import in_tree, sign_in

J = JudgeState
# terse loses to the longer, structured coder answer in either order (simulated:judge).
PANES = [{"model": "simulated:terse"}, {"model": "simulated:coder"}]
PROMPT = "Explain how a bloom filter answers membership queries"


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(make_settings(migrated_sqlite_url(tmp_path), tmp_path)) as rt:
        yield rt


async def _finished(rt: Runtime) -> tuple[str, str]:
    record = await rt.comparisons.create(await owner(rt), {"prompt": PROMPT, "panes": PANES})
    await wait_until_final(rt.comparisons, record.id)
    return record.id, record.project_id


async def _tab(
    rt: Runtime, comparison_id: str, email: str = "ada@example.org", language: str = ""
) -> JudgeState:
    """A signed-in tab whose compare page shows `comparison_id`, with its judge panel loaded."""
    tab = in_tree(JudgeState)
    await sign_in(tab, rt, email)
    (await tab.get_state(LanguageState)).lang_cookie = language
    compare = await tab.get_state(CompareState)
    compare.comparison_id = comparison_id
    compare.models = [option_from_entry(e) for e in await rt.comparisons.models(await owner(rt, email))]
    await J.load.fn(tab)
    return tab


async def _follow(tab: JudgeState) -> None:
    async for _ in J.follow.fn(tab):
        pass


async def _judgements(rt: Runtime) -> int:
    async with rt.db.session() as session:
        return int((await session.execute(select(func.count()).select_from(Judgement))).scalar_one())


async def test_judge_streams_to_verdicts_per_order_and_a_result_per_pair(runtime: Runtime) -> None:
    comparison_id, _ = await _finished(runtime)
    tab = await _tab(runtime, comparison_id)
    assert (tab.can_run, tab.can_manage, tab.judge_model) == (True, True, "simulated:judge")
    assert tab.rubric == DEFAULT_RUBRIC and tab.rubric_is_default and not tab.rubric_edited
    assert tab.judgements == [] and tab.rubric_note == "The default rubric."

    followup = await J.start.fn(tab)
    assert followup == J.follow and tab.errors == {}
    (started,) = tab.judgements
    assert started.heading.startswith("simulated:judge · ")
    await _follow(tab)
    (judgement,) = tab.judgements
    assert judgement.finished and judgement.status == "Finished" and not tab.judging
    (pair,) = judgement.pairs
    assert said_in("en", pair.title) == "Pane 1 (simulated:terse) vs Pane 2 (simulated:coder)"
    assert said_in("en", pair.result) == "Pane 2 (simulated:coder) wins" and pair.note == "Both orders agree."
    assert [said_in("en", o.shown) for o in pair.orders] == [
        "A: Pane 1 (simulated:terse) · B: Pane 2 (simulated:coder)",
        "A: Pane 2 (simulated:coder) · B: Pane 1 (simulated:terse)",
    ]
    assert all(
        said_in("en", o.verdict) == "Prefers Pane 2 (simulated:coder)" and o.rationale for o in pair.orders
    )
    assert all(o.status == "done" and o.text == "" for o in pair.orders)

    again = await _tab(runtime, comparison_id)  # a reload shows the saved verdicts
    assert [j.id for j in again.judgements] == [judgement.id] and again.judgements[0].finished


async def test_refusals_are_shown_and_save_nothing(runtime: Runtime) -> None:
    comparison_id, _ = await _finished(runtime)
    tab = await _tab(runtime, comparison_id)
    J.set_judge_model.fn(tab, "openai:gpt-4o-mini")  # no key here: unavailable
    await J.start.fn(tab)
    assert "openai" in tab.model_error.lower() and tab.judgements == []
    J.set_judge_model.fn(tab, "simulated:judge")
    assert tab.model_error == ""
    J.set_rubric.fn(tab, "x" * (RUBRIC_MAX_CHARS + 1))
    assert tab.rubric_edited and tab.rubric_note.startswith("Edited")
    await J.start.fn(tab)
    too_long = f"The rubric is {RUBRIC_MAX_CHARS + 1:,} characters long; at most 4,000 are allowed."
    assert said_in("en", tab.rubric_error) == too_long
    await J.save_rubric.fn(tab)
    assert said_in("en", tab.rubric_error).startswith("The rubric is") and tab.notice == ""

    stalled = await runtime.comparisons.create(
        await owner(runtime), {"prompt": "[[simulate:stall@1:30]] slow", "panes": PANES}
    )
    running_tab = await _tab(runtime, stalled.id)
    await J.start.fn(running_tab)
    assert "still running" in running_tab.general_error and running_tab.judgements == []
    await runtime.comparisons.cancel(await owner(runtime), stalled.id, None)
    assert await _judgements(runtime) == 0


async def test_an_edited_rubric_judges_once_and_owners_save_it(runtime: Runtime) -> None:
    comparison_id, project_id = await _finished(runtime)
    tab = await _tab(runtime, comparison_id)
    J.set_rubric.fn(tab, "Prefer the shorter answer.")
    await J.start.fn(tab)
    await _follow(tab)
    assert tab.judgements[0].rubric_note == "Edited rubric"
    assert (await runtime.judges.rubric(await owner(runtime), project_id)).is_default  # not saved

    await J.save_rubric.fn(tab)
    assert tab.notice == "Rubric saved for this project." and not tab.rubric_is_default
    assert tab.rubric_note == "This project's rubric." and not tab.rubric_edited
    saved = await runtime.judges.rubric(await owner(runtime), project_id)
    assert saved.text == "Prefer the shorter answer." and not saved.is_default
    J.set_rubric.fn(tab, "")
    await J.save_rubric.fn(tab)
    assert tab.notice == "Default rubric restored." and tab.rubric == DEFAULT_RUBRIC


async def test_a_viewer_reads_verdicts_but_may_not_judge_a_stranger_sees_nothing(runtime: Runtime) -> None:
    comparison_id, project_id = await _finished(runtime)
    ada = await owner(runtime)
    await runtime.projects.set_member(ada, project_id, "ed@example.org", "editor")
    await runtime.projects.set_member(ada, project_id, "vic@example.org", "viewer")
    editor = await _tab(runtime, comparison_id, "ed@example.org")
    assert (editor.can_run, editor.can_manage) == (True, False)
    await J.start.fn(editor)
    await _follow(editor)
    await J.save_rubric.fn(editor)  # as if a crafted event got past the page
    assert (
        said_in("en", editor.general_error) == "Your role (editor) does not allow you to manage this project."
    )
    assert (await runtime.judges.rubric(ada, project_id)).is_default

    vic = await _tab(runtime, comparison_id, "vic@example.org")
    assert (vic.can_run, vic.can_manage) == (False, False)
    assert said_in("en", vic.judgements[0].pairs[0].result) == "Pane 2 (simulated:coder) wins"
    await J.start.fn(vic)  # a crafted event: refused, nothing saved
    assert vic.general_error != "" and await _judgements(runtime) == 1

    eve = await _tab(runtime, comparison_id, "eve@example.org")
    assert said_in("en", eve.general_error) == f"No comparison {comparison_id}." and eve.judgements == []
    eve._comparison_id = comparison_id
    await J.start.fn(eve)
    assert (
        said_in("en", eve.general_error) == f"No comparison {comparison_id}."
        and await _judgements(runtime) == 1
    )


async def test_a_blind_comparison_is_judged_by_label(runtime: Runtime) -> None:
    record = await runtime.comparisons.create(
        await owner(runtime), {"prompt": PROMPT, "panes": PANES, "blind": True}
    )
    await wait_until_final(runtime.comparisons, record.id)
    tab = await _tab(runtime, record.id)
    await J.start.fn(tab)
    await _follow(tab)
    (pair,) = tab.judgements[0].pairs
    assert said_in("en", pair.title) == "Model A vs Model B"
    assert said_in("en", pair.result) in ("Model A wins", "Model B wins")
    shown = repr(tab.judgements)
    assert "simulated:terse" not in shown and "simulated:coder" not in shown


async def test_signed_out_the_panel_sends_to_login(runtime: Runtime) -> None:
    comparison_id, _ = await _finished(runtime)
    tab = in_tree(JudgeState)
    (await tab.get_state(CompareState)).comparison_id = comparison_id
    tab._comparison_id = comparison_id
    for event in (J.load.fn(tab), J.start.fn(tab), J.save_rubric.fn(tab)):
        assert "/login?next=" in str(await event)
    followed = [e async for e in J.follow.fn(tab)]
    assert len(followed) == 1 and "/login?next=" in str(followed[0])
    assert await _judgements(runtime) == 0


async def test_in_a_conversation_the_panel_judges_the_turn_picked(runtime: Runtime) -> None:
    comparison_id, _ = await _finished(runtime)
    await runtime.turns.send(await owner(runtime), comparison_id, {"message": "And a cuckoo filter?"})
    await wait_until_final(runtime.comparisons, comparison_id)
    tab = await _tab(runtime, comparison_id)
    assert (tab.turn, tab.turn_options) == ("2", ["1", "2"])  # the latest turn by default

    J.set_turn.fn(tab, "1")
    await J.start.fn(tab)
    await _follow(tab)
    J.set_turn.fn(tab, "2")
    await J.start.fn(tab)
    await _follow(tab)
    assert tab.errors == {}
    assert [j.turn for j in tab.judgements] == [2, 1]  # newest first
    saved = await runtime.judges.judgements(await owner(runtime), comparison_id)
    assert [v.judgement.turn for v in saved] == [1, 2]

    J.set_turn.fn(tab, "9")  # not a turn of this comparison: a clear message, nothing started
    await J.start.fn(tab)
    assert "no turn 9" in tab.general_error and len(tab.judgements) == 2


async def test_a_japanese_tab_reads_the_pairs_and_orders_in_japanese(runtime: Runtime) -> None:
    """Texts naming panes are kept in every language, fixed ones stay msgids: the page shows
    both in its language, and again when the language is switched (tests/browser/test_i18n.py)."""
    comparison_id, _ = await _finished(runtime)
    tab = await _tab(runtime, comparison_id, language="ja")
    await J.start.fn(tab)
    await _follow(tab)
    (judgement,) = tab.judgements
    (pair,) = judgement.pairs
    assert said_in("ja", pair.title) == "ペイン 1（simulated:terse） 対 ペイン 2（simulated:coder）"
    assert said_in("ja", pair.result) == "ペイン 2（simulated:coder） の勝ち"
    assert said_in("en", pair.result) == "Pane 2 (simulated:coder) wins"  # the same text, switched
    assert pair.note == "Both orders agree." and judgement.status == "Finished"  # msgids: t_var
    assert [said_in("ja", o.shown) for o in pair.orders] == [
        "A：ペイン 1（simulated:terse）・B：ペイン 2（simulated:coder）",
        "A：ペイン 2（simulated:coder）・B：ペイン 1（simulated:terse）",
    ]
    assert {said_in("ja", o.verdict) for o in pair.orders} == {"ペイン 2（simulated:coder） を支持"}

    J.set_rubric.fn(tab, "x" * (RUBRIC_MAX_CHARS + 1))  # a service's refusal, in the tab's language
    await J.start.fn(tab)
    assert said_in("ja", tab.rubric_error) == "評価基準が 4,001 文字あります。4,000 文字までにしてください。"


async def test_why_an_order_has_no_verdict_is_shown_in_the_page_language_saved_rows_too(
    runtime: Runtime,
) -> None:
    """Judge errors are stored as English text (rows saved before msgids existed too); the
    panel keeps each in every language, so the page shows it in its own and again on a switch."""
    comparison_id, _ = await _finished(runtime)
    tab = await _tab(runtime, comparison_id)
    await J.start.fn(tab)
    await _follow(tab)
    unparsed = str.__str__(parse_verdict("no JSON here").error)  # what the row holds: English
    saved = ["The judge's run ended cancelled.", unparsed]  # the first as rows saved before had it
    async with runtime.db.session() as session:
        ids = list((await session.execute(select(JudgeRun.id).order_by(JudgeRun.first_pane))).scalars())
        for judge_run_id, error in zip(ids, saved, strict=True):
            await session.execute(
                update(JudgeRun)
                .where(JudgeRun.id == judge_run_id)
                .values(winner=None, rationale="", error=error)
            )
        await session.commit()
    again = await _tab(runtime, comparison_id, language="ja")
    (pair,) = again.judgements[0].pairs
    errors = [order.error for order in pair.orders]
    assert [said_in("en", e) for e in errors] == ["The judge's run was stopped.", unparsed]
    detail = unparsed.removeprefix("The judge's answer is not a valid verdict: ")
    assert [said_in("ja", e) for e in errors] == [
        "ジャッジの実行は停止されました。",
        f"ジャッジの回答は有効な判定ではありません: {detail}",
    ]
