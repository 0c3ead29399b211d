"""The vector side at scale without LanceDB (bench/search.py runs it beside LanceDB's figures):
the same random 384-dimension unit vectors across 50 projects, queried for a person in 25 of
them, by

- usearch HNSW, one index per project (as Pinecone keeps one namespace per project): the
  project filter is the choice of indexes, each answers its top k, and the answers are merged;
- exact search in numpy over the allowed projects' vectors (a matrix product), the truth that
  recall is measured against.

Wall time on this shared machine is mostly waiting for a core; CPU time per query (this process's)
is printed beside it, being what a query costs whatever the load.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

K = 10
PROJECTS = 50
ALLOWED = 25  # the person's projects: the first 25


def random_unit_vectors(n: int, dims: int = 384, seed: int = 17) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dims)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = rng.standard_normal((100, dims)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return vectors, queries


def _percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return ordered[len(ordered) // 2], ordered[max(0, int(len(ordered) * 0.95) - 1)]


def scale_usearch(n: int, expansion_search: int = 128, connectivity: int = 16) -> dict[str, float]:
    """Build per-project HNSW indexes over `n` vectors; query p50/p95 (wall and CPU) and recall@10
    against exact search; the same for the exact numpy search itself."""
    from usearch.index import Index

    vectors, queries = random_unit_vectors(n)
    project_of = np.arange(n) % PROJECTS
    started = time.perf_counter()
    indexes: list[Any] = []
    for project in range(PROJECTS):
        rows = np.nonzero(project_of == project)[0]
        index = Index(
            ndim=vectors.shape[1],
            metric="cos",
            dtype="f32",
            connectivity=connectivity,
            expansion_search=expansion_search,
        )
        index.add(rows, vectors[rows], threads=1)
        indexes.append(index)
    build_s = time.perf_counter() - started
    allowed_rows = np.nonzero(project_of < ALLOWED)[0]
    allowed_vectors = vectors[allowed_rows]
    exact_wall, exact_cpu, wall, cpu, recalls = [], [], [], [], []
    for query in queries:
        started, cpu_started = time.perf_counter(), time.process_time()
        scores = allowed_vectors @ query
        best = np.argpartition(-scores, K)[:K]
        truth = set(allowed_rows[best].tolist())
        exact_wall.append((time.perf_counter() - started) * 1000)
        exact_cpu.append((time.process_time() - cpu_started) * 1000)
        started, cpu_started = time.perf_counter(), time.process_time()
        keys, distances = [], []
        for index in indexes[:ALLOWED]:
            found = index.search(query, K, threads=1)
            keys.append(found.keys)
            distances.append(found.distances)
        merged = np.concatenate(keys)[np.argsort(np.concatenate(distances))[:K]]
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        recalls.append(len(truth & set(merged.tolist())) / K)
    p50, p95 = _percentiles(wall)
    cpu50, cpu95 = _percentiles(cpu)
    exact50, exact95 = _percentiles(exact_wall)
    exact_cpu50, _ = _percentiles(exact_cpu)
    return {
        "vectors": n,
        "build_s": build_s,
        "p50_ms": p50,
        "p95_ms": p95,
        "cpu_p50_ms": cpu50,
        "cpu_p95_ms": cpu95,
        "recall@10": statistics.fmean(recalls),
        "exact_p50_ms": exact50,
        "exact_p95_ms": exact95,
        "exact_cpu_p50_ms": exact_cpu50,
    }
