"""Vector indexes behind one async interface, with a registry of lazily imported adapters.

VECTOR_INDEX picks one: "usearch" (the embedded default: usearch HNSW with SQLite for the rows,
files under DATA_DIR/vectors-usearch), "lancedb" (embedded, files under DATA_DIR/vectors) or
"pinecone" (PINECONE_API_KEY and PINECONE_INDEX_HOST; one namespace per project).

Each comparison is a few vectors: its prompt (with the system prompt) and each answer, with
ids "<comparison id>#p" and "<comparison id>#o<pane>", so a comparison's vectors are removed by id
on every index. Every vector carries the comparison's project, models, date and whether it has
votes, so the project filter (and the others) run inside the index query.

An index records the embedding model that made it (`open` checks it): vectors of two models
are never mixed; a different model gets IndexModelMismatch until `reset` (the admin reindex).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from backend.services.validation import MAX_PANES
from backend.settings import Settings

_INDEXES: dict[str, str] = {
    "usearch": "backend.search.vector_usearch:from_settings",
    "lancedb": "backend.search.vector_lance:from_settings",
    "pinecone": "backend.search.vector_pinecone:from_settings",
}
TEXT_METADATA_CHARS = 1000  # of each part, kept beside its vector for the result's snippet


class VectorIndexError(RuntimeError):
    """The index could not be reached or refused the request: the message says why."""


class IndexModelMismatch(VectorIndexError):
    """The index was built by another embedding model: it must be rebuilt before use."""

    def __init__(self, index_model: str, wanted: str) -> None:
        super().__init__(
            f"The search index was built with {index_model}, not {wanted}: "
            "run `python -m backend.admin reindex --rebuild` to rebuild it with the new model."
        )
        self.index_model = index_model
        self.wanted = wanted


@dataclass(frozen=True, slots=True)
class VectorItem:
    comparison_id: str
    part: str  # "p" (prompt and system prompt) or "o<position>" (an answer)
    project_id: str
    vector: list[float]
    text: str
    models: tuple[str, ...]
    created_at: float  # epoch seconds
    has_votes: bool

    @property
    def id(self) -> str:
        return f"{self.comparison_id}#{self.part}"


@dataclass(frozen=True, slots=True)
class VectorFilter:
    project_ids: tuple[str, ...]  # never empty: nobody searches outside their projects
    model: str = ""
    created_from: float | None = None
    created_to: float | None = None
    has_votes: bool | None = None


@dataclass(frozen=True, slots=True)
class VectorHit:
    comparison_id: str
    project_id: str
    part: str
    score: float  # cosine similarity, higher is closer
    text: str


def part_ids(comparison_id: str) -> list[str]:
    """Every vector id a comparison can have."""
    return [f"{comparison_id}#p", *(f"{comparison_id}#o{i}" for i in range(MAX_PANES))]


def split_id(vector_id: str) -> tuple[str, str]:
    comparison_id, _, part = vector_id.partition("#")
    return comparison_id, part


class VectorIndex(Protocol):
    name: str

    async def open(self, model_id: str, dimensions: int) -> None:
        """Connect; stamp an empty index with the model, refuse (IndexModelMismatch) another's."""
        ...

    async def reset(self, model_id: str, dimensions: int) -> None:
        """Remove every vector and stamp the index with this model (a rebuild)."""
        ...

    async def replace(self, project_id: str, comparison_id: str, items: Sequence[VectorItem]) -> None:
        """The comparison's vectors become `items` (its former parts are removed)."""
        ...

    async def replace_many(self, batch: Sequence[tuple[str, str, Sequence[VectorItem]]]) -> None:
        """`replace` for several (project id, comparison id, items) at once (fewer writes)."""
        ...

    async def delete(self, project_id: str, comparison_id: str) -> None: ...

    async def query(self, vector: Sequence[float], where: VectorFilter, k: int) -> list[VectorHit]: ...

    async def count(self) -> int: ...

    async def close(self) -> None: ...


@cache
def _factory(name: str) -> Callable[[Settings], VectorIndex]:
    module_name, _, attribute = _INDEXES[name].partition(":")
    factory: Callable[[Settings], VectorIndex] = getattr(importlib.import_module(module_name), attribute)
    return factory


def make_vector_index(settings: Settings) -> VectorIndex:
    return _factory(settings.vector_index)(settings)
