"""The improvement chain: ``ChatPromptTemplate | the chosen model | PydanticOutputParser``.

The model is any catalog model behind the app's provider interface, wrapped as a LangChain
runnable (it streams through the same adapter as a run and the text is joined); the parser's
format instructions are in the prompt, so the answer parses into a :class:`Proposal`.
"""

from __future__ import annotations

from langchain_core.output_parsers import PydanticOutputParser
from langchain_core.prompt_values import PromptValue
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, Field

from backend.providers.base import ChatProvider, ChatRequest, TextChunk
from backend.services.validation import MAX_PROMPT_CHARS

REASON_MAX_CHARS = 2000
PROMPT_START, PROMPT_END = "<<<PROMPT>>>", "<<<END OF PROMPT>>>"
SYSTEM_START, SYSTEM_END = "<<<SYSTEM PROMPT>>>", "<<<END OF SYSTEM PROMPT>>>"


class Proposal(BaseModel):
    """A revised prompt and system prompt, and why they should do better."""

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS, description="The revised prompt.")
    system_prompt: str = Field(
        default="", max_length=MAX_PROMPT_CHARS, description="The revised system prompt."
    )
    reason: str = Field(
        min_length=1, max_length=REASON_MAX_CHARS, description="Why, in one or two sentences."
    )


PROPOSAL_PARSER: PydanticOutputParser[Proposal] = PydanticOutputParser(pydantic_object=Proposal)

TEMPLATE = ChatPromptTemplate.from_messages(
    [
        (
            "system",
            "You improve prompts. From a prompt, the answers several models gave to it, and what "
            "people and an LLM judge said about those answers, write a revised prompt and system "
            "prompt that would get better answers, and say why briefly.\n\n{format_instructions}",
        ),
        (
            "human",
            SYSTEM_START + "\n{system_prompt}\n" + SYSTEM_END + "\n\n" + PROMPT_START + "\n{prompt}\n"
            "" + PROMPT_END + "\n\nThe answers:\n{outputs}\n\nFeedback:\n{feedback}\n\n"
            "Reply with the JSON proposal only.",
        ),
    ]
)


def model_runnable(provider: ChatProvider, model_name: str, max_tokens: int) -> Runnable[PromptValue, str]:
    """A provider of this app as a LangChain runnable: chat messages in, the whole answer out."""

    async def call(value: PromptValue) -> str:
        messages = value.to_messages()
        system = "\n\n".join(str(m.content) for m in messages if m.type == "system")
        human = "\n\n".join(str(m.content) for m in messages if m.type != "system")
        request = ChatRequest(
            model=model_name, prompt=human, system_prompt=system, temperature=0.0, max_tokens=max_tokens
        )
        parts = [item.text async for item in provider.stream(request) if isinstance(item, TextChunk)]
        return "".join(parts)

    return RunnableLambda(call)


async def propose(
    provider: ChatProvider,
    model_name: str,
    *,
    prompt: str,
    system_prompt: str,
    outputs: str,
    feedback: str,
    max_tokens: int,
) -> Proposal:
    """Run the chain; raises OutputParserException when the answer is no proposal."""
    chain = TEMPLATE | model_runnable(provider, model_name, max_tokens) | PROPOSAL_PARSER
    return await chain.ainvoke(
        {
            "format_instructions": PROPOSAL_PARSER.get_format_instructions(),
            "prompt": prompt,
            "system_prompt": system_prompt or "(none)",
            "outputs": outputs,
            "feedback": feedback,
        }
    )
