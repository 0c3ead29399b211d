"""The judge's structured answer, parsed with LangChain, and how two orders of a pair combine.

The judge streams text like any model; once its run is done the text is parsed into a
:class:`Verdict` by LangChain's ``PydanticOutputParser`` (the same parser whose format
instructions the prompt carries), so a judge that wraps its JSON in a code fence or adds a
sentence around it still parses. Text that does not parse is an error for that order of the
pair, never an exception for the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from langchain_core.exceptions import OutputParserException
from langchain_core.output_parsers import PydanticOutputParser
from pydantic import BaseModel, Field

RATIONALE_MAX_CHARS = 4000
Winner = Literal["A", "B", "tie"]


class Verdict(BaseModel):
    """Which of the two answers shown is better, and why (reasoning first, then the choice)."""

    rationale: str = Field(
        min_length=1,
        max_length=RATIONALE_MAX_CHARS,
        description="A few sentences comparing the two answers against the rubric.",
    )
    winner: Winner = Field(
        description='"A" if answer A is better, "B" if answer B is better, "tie" if neither.'
    )


VERDICT_PARSER: PydanticOutputParser[Verdict] = PydanticOutputParser(pydantic_object=Verdict)


@dataclass(frozen=True, slots=True)
class ParsedVerdict:
    verdict: Verdict | None
    error: str  # empty when verdict is set


def parse_verdict(text: str) -> ParsedVerdict:
    """The verdict in a judge's answer, or why there is none."""
    if not text.strip():
        return ParsedVerdict(None, "The judge answered nothing.")
    try:
        return ParsedVerdict(VERDICT_PARSER.parse(text), "")
    except OutputParserException as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else "unparseable"
        return ParsedVerdict(None, f"The judge's answer is not a valid verdict: {first_line[:300]}")


PairResult = Literal["a_wins", "b_wins", "tie"]


def pane_winner(winner: str, first_pane: int, second_pane: int) -> int | None:
    """The pane an order's verdict prefers (None for a tie)."""
    if winner == "A":
        return first_pane
    if winner == "B":
        return second_pane
    return None


def combine(pane_a: int, pane_b: int, preferred: tuple[int | None, int | None]) -> tuple[PairResult, bool]:
    """The pair's result from the panes its two orders preferred, and whether they agreed.

    Orders that disagree count as a tie: a judge that prefers whatever it read first (position
    bias) then moves no rating.
    """
    first, second = preferred
    if first != second:
        return "tie", False
    if first is None:
        return "tie", True
    return ("a_wins" if first == pane_a else "b_wins"), True
