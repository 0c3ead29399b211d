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

from backend.i18n import N_, Message, recognize
from backend.run_errors import run_error_message

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


# Why an order has no verdict. Stored as English text with the judge run (as before: rows saved
# earlier hold the same sentences) and said again in the reader's language where shown
# (`verdict_error_message`); the parser's own words after "not a valid verdict:" stay as written.
NO_ANSWER = N_("The judge answered nothing.")
NOT_A_VERDICT = N_("The judge's answer is not a valid verdict: {detail}")
RUN_ENDED = N_("The judge's run ended {status}.")  # a status without a sentence of its own
RUN_ENDED_AS = {  # one whole sentence per final status (no status word glued into English)
    "cancelled": N_("The judge's run was stopped."),
    "error": N_("The judge's run failed."),
}


def parse_verdict(text: str) -> ParsedVerdict:
    """The verdict in a judge's answer, or why there is none."""
    if not text.strip():
        return ParsedVerdict(None, NO_ANSWER)
    try:
        return ParsedVerdict(VERDICT_PARSER.parse(text), "")
    except OutputParserException as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else "unparseable"
        return ParsedVerdict(None, Message(NOT_A_VERDICT, detail=first_line[:300]))


def run_ended(status: str) -> str:
    """Why a judge run that did not finish as done has no verdict (when its run has no error)."""
    return RUN_ENDED_AS.get(status) or Message(RUN_ENDED, status=status)


def verdict_error_message(stored: str) -> str:
    """A judge run's stored error as the message it was made from (the stored text is English),
    so that it can be said in the reader's language: a Message when it has figures in it, the
    msgid itself when fixed; else the judge run's own error (backend/run_errors.py). Rows saved
    before the per-status sentences ("The judge's run ended cancelled.") get them too."""
    said = recognize(stored, (NOT_A_VERDICT, RUN_ENDED))
    if isinstance(said, Message) and said.msgid == RUN_ENDED:
        return run_ended(str(said.params["status"]))
    return run_error_message(said)


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
