"""What the judge reads: a system message with the rubric and the verdict's format
instructions, and a user message with the original request and the two answers.

Built with a LangChain ``ChatPromptTemplate``; the two messages become the system prompt and
prompt of the judge's run. The answers sit between fixed markers, which the simulated judge
(backend/providers/simulated_judge.py) reads back.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage
from langchain_core.prompts import ChatPromptTemplate

from backend.judging.verdicts import VERDICT_PARSER

DEFAULT_RUBRIC = (
    "Judge which answer better serves the person who asked.\n"
    "- Correctness: no factual or logical errors; says so when unsure.\n"
    "- Helpfulness: answers what was asked, completely, with useful specifics.\n"
    "- Clarity: well organised and easy to follow; structure where it helps.\n"
    "- Concision: no padding; length alone is not a merit.\n"
    "Ignore the order in which the answers are shown and the answers' length as such."
)

ANSWER_A_START, ANSWER_A_END = "<<<ANSWER A>>>", "<<<END OF ANSWER A>>>"
ANSWER_B_START, ANSWER_B_END = "<<<ANSWER B>>>", "<<<END OF ANSWER B>>>"

_TEMPLATE = ChatPromptTemplate.from_messages(
    [
        (
            "system",
            "You are an impartial judge comparing two answers to the same request.\n\n"
            "Rubric:\n{rubric}\n\n{format_instructions}",
        ),
        (
            "human",
            "The request's system prompt:\n{system_prompt}\n\n{earlier}The request:\n{prompt}\n\n"
            + ANSWER_A_START
            + "\n{answer_a}\n"
            + ANSWER_A_END
            + "\n\n"
            + ANSWER_B_START
            + "\n{answer_b}\n"
            + ANSWER_B_END
            + "\n\nWhich answer is better? Reply with the JSON verdict only.",
        ),
    ]
)


def judge_messages(
    *,
    rubric: str,
    prompt: str,
    system_prompt: str,
    answer_a: str,
    answer_b: str,
    earlier: Sequence[str] = (),
) -> tuple[str, str]:
    """(system prompt, prompt) of one judge run: answer A is shown first. ``earlier``: the
    person's messages before ``prompt`` in a conversation, oldest first, so a follow-up such as
    "And in Python?" is judged as the question it is (each model answered them in its own
    conversation, so only the person's side is common to both answers)."""
    messages: list[BaseMessage] = _TEMPLATE.format_messages(
        rubric=rubric,
        format_instructions=VERDICT_PARSER.get_format_instructions(),
        system_prompt=system_prompt or "(none)",
        earlier=_earlier_block(earlier),
        prompt=prompt,
        answer_a=answer_a,
        answer_b=answer_b,
    )
    system, human = messages
    return str(system.content), str(human.content)


def _earlier_block(earlier: Sequence[str]) -> str:
    if not earlier:
        return ""
    numbered = "\n".join(f"{i}. {message}" for i, message in enumerate(earlier, start=1))
    return f"The person's earlier messages in this conversation, oldest first:\n{numbered}\n\n"
