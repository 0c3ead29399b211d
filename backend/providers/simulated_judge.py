"""The simulated judge's answer: a valid verdict, deterministic from the judge prompt (or, asked
to improve a prompt, a proposal asking for the structure it likes).

It reads the two answers between the judge prompt's markers and prefers the one that scores
higher on length and Markdown structure (headings, list items, bold, code fences) — a crude
but predictable taste, so tests know the winner in advance; equal scores are a tie. It never
looks at which answer came first, so both orders of a pair agree.
"""

from __future__ import annotations

import json
import re

from backend.judging.prompts import ANSWER_A_END, ANSWER_A_START, ANSWER_B_END, ANSWER_B_START
from backend.prompting.chain import PROMPT_END, PROMPT_START, SYSTEM_END, SYSTEM_START

STRUCTURE_WEIGHT = 25  # one heading or list item counts as much as 25 words
_STRUCTURE = re.compile(r"^\s*(#{1,6}\s|[-*+]\s|\d+[.)]\s|```)|\*\*[^*]+\*\*", re.MULTILINE)


def _between(text: str, start: str, end: str) -> str | None:
    _, found, rest = text.partition(start)
    if not found:
        return None
    body, closed, _ = rest.partition(end)
    return body.strip() if closed else None


def score(answer: str) -> tuple[int, int]:
    """(words, structural elements) of an answer."""
    return len(answer.split()), len(_STRUCTURE.findall(answer))


def judge_reply(prompt: str) -> str:
    """The JSON verdict the simulated judge answers to a judge prompt; a JSON proposal to a
    prompt-improvement request."""
    original = _between(prompt, PROMPT_START, PROMPT_END)
    if original is not None:
        return _proposal(original, _between(prompt, SYSTEM_START, SYSTEM_END) or "")
    answer_a = _between(prompt, ANSWER_A_START, ANSWER_A_END)
    answer_b = _between(prompt, ANSWER_B_START, ANSWER_B_END)
    if answer_a is None or answer_b is None:
        verdict = {"rationale": "No pair of answers to compare was found in the request.", "winner": "tie"}
        return json.dumps(verdict)
    (words_a, parts_a), (words_b, parts_b) = score(answer_a), score(answer_b)
    total_a = words_a + STRUCTURE_WEIGHT * parts_a
    total_b = words_b + STRUCTURE_WEIGHT * parts_b
    winner = "A" if total_a > total_b else "B" if total_b > total_a else "tie"
    figures = (
        f"Answer A has {words_a} words and {parts_a} structural elements; "
        f"answer B has {words_b} words and {parts_b}."
    )
    reason = {
        "A": "Answer A covers the request more fully and is better organised.",
        "B": "Answer B covers the request more fully and is better organised.",
        "tie": "Neither answer is more complete or better organised than the other.",
    }[winner]
    return json.dumps({"rationale": f"{figures} {reason}", "winner": winner})


IMPROVED_SUFFIX = "Answer with a short heading, then the key points as a bulleted list."
IMPROVED_SYSTEM = "You are a precise assistant: structured, complete and concise."


def _proposal(prompt: str, system_prompt: str) -> str:
    """Ask for the structure the simulated judge rewards (deterministic from the prompt)."""
    revised = prompt if prompt.endswith(IMPROVED_SUFFIX) else f"{prompt}\n\n{IMPROVED_SUFFIX}"
    system = system_prompt if system_prompt not in ("", "(none)") else IMPROVED_SYSTEM
    reason = "Answers with headings and lists were preferred; the revised prompt asks for that structure."
    return json.dumps({"prompt": revised, "system_prompt": system, "reason": reason})
