"""The embedded default vector index: LanceDB, files under DATA_DIR/vectors.

Chosen over usearch + SQLite because LanceDB is one library that does what search needs here:
it persists (Lance columnar files, crash-safe versions), filters on metadata inside the vector
query (a SQL `where` prefilter: project, model, date, votes), has an async API (no thread of our
own, the event loop never blocks), and builds ANN indexes (IVF-PQ, IVF-HNSW) when a table grows,
with exact search below that. usearch would leave the filters, the persistence of metadata and
their consistency with the vectors to us.

The embedding model that made the vectors is written in the table's schema metadata; one table
per dimension size is not needed since a different model is refused outright.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from backend.search.vectors import (
    TEXT_METADATA_CHARS,
    IndexModelMismatch,
    VectorFilter,
    VectorHit,
    VectorIndexError,
    VectorItem,
)
from backend.settings import Settings

TABLE = "comparisons"
MODEL_KEY = b"llmdash.embedding_model"
ANN_EF = 600  # HNSW candidates per query (only with an ANN index; below that the search is exact)
ANN_REFINE = 5  # re-rank 5 x k candidates on the full vectors (the index stores them quantised)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def where_clause(where: VectorFilter) -> str:
    """The SQL prefilter of a query (values quoted; ids and model ids are plain text)."""
    if not where.project_ids:
        raise ValueError("a vector query needs at least one project")
    clauses = [f"project_id IN ({', '.join(_quote(p) for p in where.project_ids)})"]
    if where.model:
        clauses.append(f"array_has(models, {_quote(where.model)})")
    if where.created_from is not None:
        clauses.append(f"created_at >= {float(where.created_from)!r}")
    if where.created_to is not None:
        clauses.append(f"created_at < {float(where.created_to)!r}")
    if where.has_votes is not None:
        clauses.append(f"has_votes = {'true' if where.has_votes else 'false'}")
    return " AND ".join(clauses)


class LanceVectorIndex:
    name = "lancedb"

    def __init__(self, path: Path) -> None:
        self._path = path
        self._table: Any = None
        self._db: Any = None

    async def _connect(self) -> Any:
        if self._db is None:
            import lancedb

            self._path.mkdir(parents=True, exist_ok=True)
            self._db = await lancedb.connect_async(str(self._path))
        return self._db

    @staticmethod
    def _schema(model_id: str, dimensions: int) -> Any:
        import pyarrow as pa

        return pa.schema(
            [
                pa.field("id", pa.string()),
                pa.field("comparison_id", pa.string()),
                pa.field("part", pa.string()),
                pa.field("project_id", pa.string()),
                pa.field("vector", pa.list_(pa.float32(), dimensions)),
                pa.field("text", pa.string()),
                pa.field("models", pa.list_(pa.string())),
                pa.field("created_at", pa.float64()),
                pa.field("has_votes", pa.bool_()),
            ],
            metadata={MODEL_KEY: model_id.encode()},
        )

    async def open(self, model_id: str, dimensions: int) -> None:
        db = await self._connect()
        try:
            table = await db.open_table(TABLE)
        except ValueError:  # "Table 'comparisons' was not found": a new index
            self._table = await db.create_table(TABLE, schema=self._schema(model_id, dimensions))
            return
        metadata = (await table.schema()).metadata or {}
        made_by = metadata.get(MODEL_KEY, b"").decode()
        if made_by != model_id:
            raise IndexModelMismatch(made_by or "an unknown model", model_id)
        self._table = table

    async def reset(self, model_id: str, dimensions: int) -> None:
        db = await self._connect()
        await db.drop_table(TABLE, ignore_missing=True)
        self._table = await db.create_table(TABLE, schema=self._schema(model_id, dimensions))

    def _opened(self) -> Any:
        if self._table is None:
            raise VectorIndexError("the vector index is not open")
        return self._table

    async def replace(self, project_id: str, comparison_id: str, items: Sequence[VectorItem]) -> None:
        table = self._opened()
        await table.delete(f"comparison_id = {_quote(comparison_id)}")
        if items:
            await table.add([_row(item) for item in items])

    async def replace_many(self, batch: Sequence[tuple[str, str, Sequence[VectorItem]]]) -> None:
        if not batch:
            return
        table = self._opened()
        ids = ", ".join(_quote(comparison_id) for _, comparison_id, _ in batch)
        await table.delete(f"comparison_id IN ({ids})")  # one new table version, not one per comparison
        rows = [_row(item) for _, _, items in batch for item in items]
        if rows:
            await table.add(rows)

    async def delete(self, project_id: str, comparison_id: str) -> None:
        await self._opened().delete(f"comparison_id = {_quote(comparison_id)}")

    async def query(self, vector: Sequence[float], where: VectorFilter, k: int) -> list[VectorHit]:
        rows = (
            await self._opened()
            .vector_search(list(vector))
            .distance_type("cosine")
            .where(where_clause(where))
            .select(["comparison_id", "project_id", "part", "text", "_distance"])
            .ef(ANN_EF)  # with an ANN index: recall@10 0.97 on bench/search.py's random vectors
            .refine_factor(ANN_REFINE)
            .limit(k)
            .to_list()
        )
        return [
            VectorHit(
                comparison_id=row["comparison_id"],
                project_id=row["project_id"],
                part=row["part"],
                score=1.0 - float(row["_distance"]),
                text=row["text"],
            )
            for row in rows
        ]

    async def count(self) -> int:
        return int(await self._opened().count_rows())

    async def create_ann_index(self) -> None:
        """An IVF-HNSW-SQ index over the vectors (worth it past ~100k vectors; bench/search.py)."""
        from lancedb.index import IvfHnswSq

        await self._opened().create_index("vector", config=IvfHnswSq(distance_type="cosine"), replace=True)

    async def close(self) -> None:
        self._table = None
        self._db = None


def _row(item: VectorItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "comparison_id": item.comparison_id,
        "part": item.part,
        "project_id": item.project_id,
        "vector": item.vector,
        "text": item.text[:TEXT_METADATA_CHARS],
        "models": list(item.models),
        "created_at": item.created_at,
        "has_votes": item.has_votes,
    }


def from_settings(settings: Settings) -> LanceVectorIndex:
    return LanceVectorIndex(settings.data_dir / "vectors")
