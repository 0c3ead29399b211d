"""Verdict parsing (LangChain's PydanticOutputParser), the two-order rule, the judge prompt and
the simulated judge's answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from backend.db.judgements import JudgementRecord, JudgeRunRecord
from backend.i18n import Message, gettext
from backend.judging.pairs import judge_outcomes, pairs_of
from backend.judging.prompts import ANSWER_A_START, ANSWER_B_END, judge_messages
from backend.judging.verdicts import combine, parse_verdict, run_ended, verdict_error_message
from backend.providers.base import ChatRequest
from backend.providers.simulated import simulated_text
from backend.providers.simulated_judge import judge_reply
from backend.ranking import Result, Source

NOW = datetime(2026, 12, 4, tzinfo=UTC)
SHORT = "A bloom filter is a bit array."
LONG = "## Bloom filters\n\n- **Bits**: k hashes set bits.\n- A lookup checks them.\n- No false negatives."


def test_a_verdict_parses_bare_or_fenced_and_anything_else_is_an_error() -> None:
    bare = parse_verdict('{"rationale": "B is complete.", "winner": "B"}')
    fenced = parse_verdict('Here it is:\n```json\n{"rationale": "Even.", "winner": "tie"}\n```')
    assert bare.verdict is not None and bare.verdict.winner == "B" and bare.error == ""
    assert fenced.verdict is not None and fenced.verdict.winner == "tie"
    for text in ("The first answer is better.", '{"winner": "C", "rationale": "x"}', '{"winner": "A"}', "  "):
        parsed = parse_verdict(text)
        assert parsed.verdict is None and parsed.error, text


def test_why_an_order_has_no_verdict_is_said_in_the_readers_language_old_rows_too() -> None:
    """Stored as English text (as before); said again in the reader's language where shown."""
    unparsed = parse_verdict("The first answer is better.").error
    assert isinstance(unparsed, Message) and unparsed.startswith(
        "The judge's answer is not a valid verdict: "
    )
    detail = unparsed.removeprefix("The judge's answer is not a valid verdict: ")
    stored = str.__str__(unparsed)  # what a database row gives back: plain English text
    assert (
        gettext("ja", verdict_error_message(stored)) == f"ジャッジの回答は有効な判定ではありません: {detail}"
    )
    assert (
        gettext("ja", verdict_error_message(parse_verdict("  ").error))
        == "ジャッジは何も回答しませんでした。"
    )
    # A row saved before this change ("ended <status>"), and the sentences new rows get.
    assert (
        gettext("ja", verdict_error_message("The judge's run ended cancelled."))
        == "ジャッジの実行は停止されました。"
    )
    assert verdict_error_message("The judge's run ended cancelled.") == run_ended("cancelled")
    assert (
        gettext("ja", verdict_error_message("The judge's run ended paused."))
        == "ジャッジの実行は「paused」で終了しました。"
    )
    # The judge's own run's error: the app's sentences are translated, a provider's words kept.
    assert gettext("ja", verdict_error_message("Stopped by the user.")) == "ユーザーが停止しました。"
    assert gettext("ja", verdict_error_message("upstream said 502")) == "upstream said 502"
    assert gettext("en", verdict_error_message(stored)) == stored


@pytest.mark.parametrize(
    ("preferred", "expected"),
    [
        ((1, 1), ("b_wins", True)),
        ((0, 0), ("a_wins", True)),
        ((None, None), ("tie", True)),
        ((0, 1), ("tie", False)),  # each order prefers whatever came first: position bias
        ((0, None), ("tie", False)),
    ],
)
def test_two_orders_combine_and_disagreement_is_a_tie(
    preferred: tuple[int | None, int | None], expected: tuple[str, bool]
) -> None:
    assert combine(0, 1, preferred) == expected


def _run(
    first: int, second: int, winner: str | None, error: str = "", settled: bool = True
) -> JudgeRunRecord:
    return JudgeRunRecord(
        id=f"{first}{second}",
        judgement_id="j",
        run_comparison_id=f"c{first}{second}",
        first_pane=first,
        second_pane=second,
        winner=winner,
        rationale="because" if winner else "",
        error=error,
        settled_at=NOW if settled else None,
        run=None,
    )


def _judgement(*runs: JudgeRunRecord) -> JudgementRecord:
    return JudgementRecord("j", "cmp", "simulated:judge", "rubric", "u", NOW, runs)


def test_pairs_wait_for_both_orders_and_only_decided_pairs_become_outcomes() -> None:
    judgement = _judgement(
        _run(0, 1, "B"),
        _run(1, 0, "A"),  # both prefer pane 1
        _run(0, 2, "A"),
        _run(2, 0, "A"),  # positional: a tie
        _run(1, 2, "A"),
        _run(2, 1, None, settled=False),  # still running
    )
    pairs = {(p.pane_a, p.pane_b): p for p in pairs_of(judgement)}
    assert (pairs[(0, 1)].status, pairs[(0, 1)].result, pairs[(0, 1)].agreed) == ("done", "b_wins", True)
    assert (pairs[(0, 2)].result, pairs[(0, 2)].agreed) == ("tie", False)
    assert pairs[(1, 2)].status == "pending" and pairs[(1, 2)].result is None
    outcomes = judge_outcomes([(judgement, ("m0", "m1", "m2"))])
    assert [(o.model_a, o.model_b, o.result) for o in outcomes] == [
        ("m0", "m1", Result.B_WINS),
        ("m0", "m2", Result.TIE),
    ]
    assert all(o.source is Source.JUDGE and o.cluster == "j" for o in outcomes)
    failed = _judgement(_run(0, 1, "A"), _run(1, 0, None, error="The judge's answer is not a valid verdict"))
    assert pairs_of(failed)[0].status == "error" and judge_outcomes([(failed, ("m0", "m1"))]) == []
    same_model = _judgement(_run(0, 1, "A"), _run(1, 0, "B"))
    assert judge_outcomes([(same_model, ("m0", "m0"))]) == []


def test_the_prompt_carries_rubric_format_instructions_and_both_answers_in_order() -> None:
    system, prompt = judge_messages(
        rubric="Prefer {braces} kept as typed.", prompt="Q?", system_prompt="", answer_a=SHORT, answer_b=LONG
    )
    assert "Prefer {braces} kept as typed." in system
    assert '"winner"' in system and '"rationale"' in system  # LangChain's format instructions
    assert (
        prompt.index(ANSWER_A_START) < prompt.index(SHORT) < prompt.index(LONG) < prompt.index(ANSWER_B_END)
    )


def test_the_simulated_judge_prefers_the_longer_structured_answer_in_either_order() -> None:
    _, a_short = judge_messages(rubric="r", prompt="Q?", system_prompt="", answer_a=SHORT, answer_b=LONG)
    _, a_long = judge_messages(rubric="r", prompt="Q?", system_prompt="", answer_a=LONG, answer_b=SHORT)
    _, even = judge_messages(rubric="r", prompt="Q?", system_prompt="", answer_a=SHORT, answer_b=SHORT)
    assert json.loads(judge_reply(a_short))["winner"] == "B"
    assert json.loads(judge_reply(a_long))["winner"] == "A"
    assert json.loads(judge_reply(even))["winner"] == "tie"
    assert json.loads(judge_reply("no answers here"))["winner"] == "tie"
    # Streamed like any simulated model, its text is a verdict that parses, the same every time.
    request = ChatRequest(model="judge", prompt=a_short, system_prompt="s", temperature=0.0, max_tokens=1024)
    chunks = simulated_text("judge", request)
    assert len(chunks) > 5 and chunks == simulated_text("judge", request)
    parsed = parse_verdict("".join(chunks))
    assert parsed.verdict is not None and parsed.verdict.winner == "B" and "words" in parsed.verdict.rationale
