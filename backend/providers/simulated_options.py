"""How a simulated answer honours a run's options and images, as a real model would: the
images are acknowledged, JSON output is a JSON document (following the schema's properties),
and the answer ends before the first stop sequence."""

from __future__ import annotations

import json
from collections.abc import Generator, Mapping
from typing import Any

from backend.providers.base import ChatRequest
from backend.providers.simulated_markdown import split_tokens_stepped

_JSON_PLACEHOLDERS: dict[str, Any] = {
    "integer": 1,
    "number": 1.0,
    "boolean": True,
    "array": [],
    "object": {},
    "null": None,
}


def shaped_answer(
    tokens: list[str], request: ChatRequest
) -> Generator[None, None, tuple[list[str], str | None]]:
    """The answer's tokens with the request's images, JSON format and stop sequences applied;
    and "stop" when a stop sequence ended it (None: it ended on its own). Stepped (it yields while
    it splits a long answer again: see `planning`)."""
    options = request.options
    if not request.images and options.response_format == "text" and not options.stop:
        # Nothing to apply: the tokens are already the split of their own join (each ends in a
        # non-space and each after the first starts with a space), and splitting 32,768 of them
        # again took 7-13 ms of the event loop.
        return tokens, None
    text = "".join(tokens)
    if request.images:
        sizes = ", ".join(f"{image.media_type} {len(image.data):,} bytes" for image in request.images)
        text = f"I see {len(request.images)} image(s) ({sizes}).\n\n{text}"
    if options.response_format == "json_schema" and options.json_schema is not None:
        text = json.dumps(_fill_schema(options.json_schema, text), ensure_ascii=False)
    elif options.response_format == "json":
        text = json.dumps({"answer": text}, ensure_ascii=False)
    cut = min((i for s in options.stop if (i := text.find(s)) >= 0), default=-1)
    if cut >= 0:
        return (yield from split_tokens_stepped(text[:cut])), "stop"
    return (yield from split_tokens_stepped(text)), None


def _fill_schema(schema: Mapping[str, Any], text: str) -> Any:
    """A value of the schema's type: an object gets each property, a string the answer."""
    kind = schema.get("type", "object")
    if kind == "object":
        properties = schema.get("properties")
        if not isinstance(properties, Mapping) or not properties:
            return {"answer": text}
        return {
            name: _fill_schema(sub if isinstance(sub, Mapping) else {}, text)
            for name, sub in properties.items()
        }
    if kind == "string" or not isinstance(kind, str):
        return text
    return _JSON_PLACEHOLDERS.get(kind, text)


def _table(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
