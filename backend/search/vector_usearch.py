"""The embedded default vector index: usearch, one index per project, with SQLite beside it.

SQLite (DATA_DIR/vectors-usearch/vectors.sqlite3, WAL) is the store: each vector's row (its
metadata, its text for the snippet, the vector itself) and a tombstone per removed vector, in
one transaction per write, so several processes (web, workers) write safely. The usearch
indexes live in each process's memory, built from those rows and saved beside them
(hnsw/*.usearch) as a cache; before each query a process applies what the others wrote since it
last looked (the rows past its last key, the tombstones past its last one): one cheap read when
nothing changed.

One usearch index per project (as Pinecone keeps a namespace per project): the project filter
is the choice of indexes, so another project's vectors are never candidates. The vectors are
kept as int8 (a quarter of float32's memory; usearch compares them with SIMD integer
instructions): a project of up to EXACT_BELOW vectors is scanned whole (2 ms of CPU for 50,000
here), a larger one is searched through its HNSW graph. Each index answers its nearest `fetch`,
SQLite keeps those that pass the other filters (model, date, votes: `key IN (...)` and the
filter in one query), and they are ranked again on their float32 vectors from SQLite; if fewer
than k pass, the fetch grows fourfold until it covers every vector of the projects.

Why not LanceDB (the default before, still VECTOR_INDEX=lancedb): at 100,000 vectors its
IVF-HNSW-SQ index reached recall@10 0.77 against exact search, and its exact search took 300 ms
at p95 here. Why scans rather than HNSW at this size: on bench/search.py's random 384-dimension
vectors a global HNSW graph (ef 64-256, the filter applied after) reached recall@10 0.07-0.23,
while the int8 scan with the float32 re-rank costs a few ms per query
(bench/RESULTS.md, search17c).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from backend.search.vectors import (
    TEXT_METADATA_CHARS,
    IndexModelMismatch,
    VectorFilter,
    VectorHit,
    VectorIndexError,
    VectorItem,
)
from backend.settings import Settings

EXACT_BELOW = 500_000  # a project's vectors: up to this many are scanned whole (int8, ~15 ms of CPU)
OVERFETCH = 4  # candidates per k from each index, ranked again on float32
EF_SEARCH = 256  # HNSW candidate list, for projects past EXACT_BELOW
CONNECTIVITY = 16
EF_ADD = 128
CATCH_UP_CHUNK = 20_000  # rows read at a time when catching up
SAVE_EVERY = 5_000  # changes applied before the graph is saved again (and on close)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS info (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vectors (
    key INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    comparison_id TEXT NOT NULL,
    part TEXT NOT NULL,
    project_id TEXT NOT NULL,
    text TEXT NOT NULL,
    models TEXT NOT NULL,
    created_at REAL NOT NULL,
    has_votes INTEGER NOT NULL,
    vector BLOB NOT NULL,
    UNIQUE (project_id, id)
);
CREATE INDEX IF NOT EXISTS vectors_comparison ON vectors (comparison_id);
CREATE INDEX IF NOT EXISTS vectors_project ON vectors (project_id);
CREATE TABLE IF NOT EXISTS removed (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, key INTEGER NOT NULL, project_id TEXT NOT NULL
);
"""


def filter_sql(where: VectorFilter) -> tuple[str, list[Any]]:
    """The filter as a SQL condition on `vectors`, with its parameters."""
    if not where.project_ids:
        raise ValueError("a vector query needs at least one project")
    clauses = [f"project_id IN ({', '.join('?' * len(where.project_ids))})"]
    params: list[Any] = list(where.project_ids)
    if where.model:
        clauses.append("EXISTS (SELECT 1 FROM json_each(models) WHERE value = ?)")
        params.append(where.model)
    if where.created_from is not None:
        clauses.append("created_at >= ?")
        params.append(float(where.created_from))
    if where.created_to is not None:
        clauses.append("created_at < ?")
        params.append(float(where.created_to))
    if where.has_votes is not None:
        clauses.append("has_votes = ?")
        params.append(int(where.has_votes))
    return " AND ".join(clauses), params


def _unit(vector: Sequence[float]) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(array))
    return array / norm if norm > 0 else array


class _Graph:
    """One process's usearch indexes (one per project) and what it has applied of the store."""

    def __init__(self, dimensions: int, generation: str) -> None:
        self.dimensions = dimensions
        self.generation = generation
        self.indexes: dict[str, Any] = {}
        self.last_key = 0
        self.last_removed = 0
        self.project_of: dict[int, str] = {}
        self.unsaved = 0

    def new_index(self) -> Any:
        from usearch.index import Index

        return Index(
            ndim=self.dimensions,
            metric="cos",
            dtype="i8",
            connectivity=CONNECTIVITY,
            expansion_add=EF_ADD,
            expansion_search=EF_SEARCH,
        )

    def add(self, keys: list[int], projects: list[str], vectors: np.ndarray) -> None:
        for project in dict.fromkeys(projects):
            rows = [i for i, p in enumerate(projects) if p == project]
            index = self.indexes.get(project)
            if index is None:
                index = self.indexes[project] = self.new_index()
            index.add(np.asarray([keys[i] for i in rows], dtype=np.uint64), vectors[rows], threads=1)
        self.project_of.update(zip(keys, projects, strict=True))
        if keys:
            self.last_key = max(self.last_key, keys[-1])
            self.unsaved += len(keys)

    def remove(self, keys: Iterable[int]) -> None:
        for key in keys:
            project = self.project_of.pop(key, None)
            if project is not None:
                self.indexes[project].remove(key)
                self.unsaved += 1

    def size(self, project: str) -> int:
        index = self.indexes.get(project)
        return len(index) if index is not None else 0

    def nearest(self, project: str, query: np.ndarray, fetch: int) -> list[tuple[int, float]]:
        index = self.indexes[project]
        size = len(index)
        found = index.search(query, min(fetch, size), exact=size <= EXACT_BELOW, threads=1)
        return list(zip(found.keys.tolist(), found.distances.tolist(), strict=True))


class UsearchVectorIndex:
    name = "usearch"

    def __init__(self, path: Path) -> None:
        self._path = path
        self._db: sqlite3.Connection | None = None
        self._graph: _Graph | None = None
        self._dimensions = 0
        self._lock = threading.Lock()  # one thread at a time on the connection and the graph

    # --- the store -------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self._path.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self._path / "vectors.sqlite3", check_same_thread=False, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            self._db = db
        return self._db

    def _info(self, name: str) -> str:
        row = self._connect().execute("SELECT value FROM info WHERE name = ?", (name,)).fetchone()
        return str(row[0]) if row else ""

    def _opened(self) -> tuple[sqlite3.Connection, _Graph]:
        if self._db is None or self._graph is None:
            raise VectorIndexError("the vector index is not open")
        return self._db, self._graph

    def _open(self, model_id: str, dimensions: int) -> None:
        db = self._connect()
        with db:
            made_by = self._info("model")
            if not made_by:
                db.execute("DELETE FROM vectors")
                db.execute("DELETE FROM removed")
                self._stamp(db, model_id, dimensions)
            elif made_by != model_id:
                raise IndexModelMismatch(made_by, model_id)
        self._dimensions = int(self._info("dimensions"))
        self._graph = self._load_graph()
        self._catch_up()

    def _stamp(self, db: sqlite3.Connection, model_id: str, dimensions: int) -> None:
        generation = os.urandom(8).hex()  # a rebuild: every process's graph starts again
        db.executemany(
            "INSERT OR REPLACE INTO info (name, value) VALUES (?, ?)",
            [("model", model_id), ("dimensions", str(dimensions)), ("generation", generation)],
        )

    def _reset(self, model_id: str, dimensions: int) -> None:
        db = self._connect()
        with db:
            db.execute("DELETE FROM vectors")
            db.execute("DELETE FROM removed")
            self._stamp(db, model_id, dimensions)
        self._graph_state_file().unlink(missing_ok=True)
        self._dimensions = dimensions
        self._graph = _Graph(dimensions, self._info("generation"))

    # --- the graph's cache on disk ------------------------------------------------------------
    def _graph_dir(self) -> Path:
        return self._path / "hnsw"

    def _graph_state_file(self) -> Path:
        return self._path / "hnsw.json"

    def _load_graph(self) -> _Graph:
        """The saved indexes if they belong to this generation of the store (then only what came
        after them is applied), else empty ones that the catch-up fills from the rows."""
        generation = self._info("generation")
        graph = _Graph(self._dimensions, generation)
        try:
            state = json.loads(self._graph_state_file().read_text())
            if state["generation"] != generation:
                return graph
            for project, name in state["files"].items():
                index = graph.indexes[project] = graph.new_index()
                index.load(str(self._graph_dir() / name))
            graph.last_key, graph.last_removed = int(state["last_key"]), int(state["last_removed"])
            rows = self._connect().execute(
                "SELECT key, project_id FROM vectors WHERE key <= ?", (graph.last_key,)
            )
            graph.project_of.update(rows)
            if len(graph.project_of) != sum(len(index) for index in graph.indexes.values()):
                raise ValueError("the saved indexes do not match the rows")
            return graph
        except (OSError, ValueError, KeyError, RuntimeError):
            return _Graph(self._dimensions, generation)  # no cache, or a damaged one: from the rows

    def _save_graph(self, graph: _Graph) -> None:
        """Each project's index to its own file, then the state naming them (renamed into place
        last, so a reader sees a complete set or the one before)."""
        directory = self._graph_dir()
        directory.mkdir(exist_ok=True)
        files: dict[str, str] = {}
        for project, index in graph.indexes.items():
            name = f"{hashlib.sha256(project.encode()).hexdigest()[:24]}-{graph.last_key}.usearch"
            partial = directory / f"{name}.{os.getpid()}.tmp"
            index.save(str(partial))
            os.replace(partial, directory / name)
            files[project] = name
        state = {
            "generation": graph.generation,
            "last_key": graph.last_key,
            "last_removed": graph.last_removed,
            "files": files,
        }
        partial_state = self._path / f"hnsw.json.{os.getpid()}.tmp"
        partial_state.write_text(json.dumps(state))
        os.replace(partial_state, self._graph_state_file())
        for old in directory.glob("*.usearch"):
            if old.name not in files.values():
                old.unlink(missing_ok=True)
        graph.unsaved = 0

    def _catch_up(self) -> None:
        """Apply what any process wrote since this one last looked."""
        db, graph = self._opened()
        if self._info("generation") != graph.generation:  # another process rebuilt the index
            self._dimensions = int(self._info("dimensions"))
            graph = self._graph = _Graph(self._dimensions, self._info("generation"))
        while True:  # the new rows in chunks: a rebuild of 100,000 never holds them all at once
            added = db.execute(
                "SELECT key, project_id, vector FROM vectors WHERE key > ? ORDER BY key LIMIT ?",
                (graph.last_key, CATCH_UP_CHUNK),
            ).fetchall()
            if added:
                vectors = np.frombuffer(b"".join(row[2] for row in added), dtype=np.float32)
                graph.add(
                    [row[0] for row in added], [row[1] for row in added], vectors.reshape(len(added), -1)
                )
            if len(added) < CATCH_UP_CHUNK:
                break
        # After the rows: a tombstone of a row not read yet means the row is gone, never read.
        removed = db.execute(
            "SELECT seq, key FROM removed WHERE seq > ? ORDER BY seq", (graph.last_removed,)
        ).fetchall()
        if removed:
            graph.remove(row[1] for row in removed)
            graph.last_removed = removed[-1][0]
        if graph.unsaved >= SAVE_EVERY:
            self._save_graph(graph)

    # --- writes ---------------------------------------------------------------------------
    def _replace(self, batch: Sequence[tuple[str, str, Sequence[VectorItem]]]) -> None:
        db, _ = self._opened()
        with db:
            db.execute("BEGIN IMMEDIATE")  # one writer at a time, across processes
            for _, comparison_id, items in batch:
                self._remove_comparison(db, comparison_id)
                for item in items:  # an id is one vector in its project (as in a Pinecone namespace)
                    self._remove_where(db, "project_id = ? AND id = ?", (item.project_id, item.id))
                db.executemany(
                    "INSERT INTO vectors (id, comparison_id, part, project_id, text, models, created_at,"
                    " has_votes, vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [_row(item, self._dimensions) for item in items],
                )
        self._catch_up()

    @classmethod
    def _remove_comparison(cls, db: sqlite3.Connection, comparison_id: str) -> None:
        cls._remove_where(db, "comparison_id = ?", (comparison_id,))

    @staticmethod
    def _remove_where(db: sqlite3.Connection, condition: str, params: tuple[str, ...]) -> None:
        """Delete rows, leaving a tombstone for each (how other processes learn of it)."""
        db.execute(
            f"INSERT INTO removed (key, project_id) SELECT key, project_id FROM vectors WHERE {condition}",
            params,
        )
        db.execute(f"DELETE FROM vectors WHERE {condition}", params)

    def _delete(self, comparison_id: str) -> None:
        db, _ = self._opened()
        with db:
            db.execute("BEGIN IMMEDIATE")
            self._remove_comparison(db, comparison_id)
        self._catch_up()

    # --- queries --------------------------------------------------------------------------
    def _query(self, vector: Sequence[float], where: VectorFilter, k: int) -> list[VectorHit]:
        self._catch_up()
        _, graph = self._opened()
        query = _unit(vector)
        condition, params = filter_sql(where)
        projects = [p for p in dict.fromkeys(where.project_ids) if graph.size(p)]
        in_projects = sum(graph.size(p) for p in projects)
        if k <= 0 or not projects:
            return []
        fetch = OVERFETCH * k
        while True:
            candidates = [found for p in projects for found in graph.nearest(p, query, fetch)]
            candidates.sort(key=lambda found: found[1])
            keys = [key for key, _ in candidates[:fetch]]  # the nearest `fetch` of them all
            hits = self._matching(keys, condition, params, query)
            if len(hits) >= k or fetch >= in_projects:
                return hits[:k]
            fetch *= 4

    def _matching(
        self, keys: list[int], condition: str, params: list[Any], query: np.ndarray
    ) -> list[VectorHit]:
        """The candidates that pass the filter, ranked on their float32 vectors."""
        db, _ = self._opened()
        rows = db.execute(
            "SELECT comparison_id, project_id, part, text, vector FROM vectors"
            f" WHERE key IN ({', '.join('?' * len(keys))}) AND {condition}",
            [*keys, *params],
        ).fetchall()
        if not rows:
            return []
        scores = (
            np.frombuffer(b"".join(row[4] for row in rows), dtype=np.float32).reshape(len(rows), -1) @ query
        )
        ranked = sorted(zip(scores.tolist(), rows, strict=True), key=lambda pair: -pair[0])
        return [
            VectorHit(comparison_id=c, project_id=p, part=part, score=score, text=text)
            for score, (c, p, part, text, _) in ranked
        ]

    # --- the async interface (each call on a worker thread: the event loop never waits) ----
    async def _run(self, function: Any, *args: Any) -> Any:
        def locked() -> Any:
            with self._lock:
                try:
                    return function(*args)
                except sqlite3.Error as error:
                    raise VectorIndexError(f"the vector index could not be used: {error}") from error

        return await asyncio.to_thread(locked)

    async def open(self, model_id: str, dimensions: int) -> None:
        await self._run(self._open, model_id, dimensions)

    async def reset(self, model_id: str, dimensions: int) -> None:
        await self._run(self._reset, model_id, dimensions)

    async def replace(self, project_id: str, comparison_id: str, items: Sequence[VectorItem]) -> None:
        await self._run(self._replace, [(project_id, comparison_id, items)])

    async def replace_many(self, batch: Sequence[tuple[str, str, Sequence[VectorItem]]]) -> None:
        if batch:
            await self._run(self._replace, batch)

    async def delete(self, project_id: str, comparison_id: str) -> None:
        await self._run(self._delete, comparison_id)

    async def query(self, vector: Sequence[float], where: VectorFilter, k: int) -> list[VectorHit]:
        hits: list[VectorHit] = await self._run(self._query, vector, where, k)
        return hits

    async def count(self) -> int:
        def counted() -> int:
            db, _ = self._opened()
            return int(db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

        result: int = await self._run(counted)
        return result

    async def close(self) -> None:
        def closed() -> None:
            if self._graph is not None and self._db is not None:
                self._catch_up()
                if self._graph.unsaved:
                    self._save_graph(self._graph)
            if self._db is not None:
                self._db.close()
            self._db, self._graph = None, None

        await self._run(closed)


def _row(item: VectorItem, dimensions: int) -> tuple[Any, ...]:
    vector = _unit(item.vector)
    if vector.shape != (dimensions,):
        raise VectorIndexError(f"a vector of {vector.shape[0]} dimensions in an index of {dimensions}")
    return (
        item.id,
        item.comparison_id,
        item.part,
        item.project_id,
        item.text[:TEXT_METADATA_CHARS],
        json.dumps(list(item.models)),
        item.created_at,
        int(item.has_votes),
        vector.tobytes(),
    )


def from_settings(settings: Settings) -> UsearchVectorIndex:
    return UsearchVectorIndex(settings.data_dir / "vectors-usearch")
