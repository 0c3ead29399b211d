"""The embedded default vector index at scale (bench/search.py prints it beside the other figures):
random 384-dimension unit vectors across 50 projects, written through the index's own API (SQLite
rows and one usearch int8 index per project), queried through its own API for a person in 25 of
them; recall@10 against exact float32 search (numpy) over the same allowed vectors.

Wall time on this shared machine is mostly waiting for a core; CPU time per query (this process's)
is printed beside it, being what a query costs whatever the load.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from backend.search.vector_usearch import UsearchVectorIndex
from backend.search.vectors import VectorFilter, VectorItem

K = 10
PROJECTS = 50
ALLOWED = 25  # the person's projects: the first 25
WRITE_BATCH = 5_000


def random_unit_vectors(
    n: int, queries: int, dims: int = 384, seed: int = 17
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dims)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    asked = rng.standard_normal((queries, dims)).astype(np.float32)
    asked /= np.linalg.norm(asked, axis=1, keepdims=True)
    return vectors, asked


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share) - 1)] if share < 1 else ordered[-1]


async def scale_default(n: int, where: Path, n_queries: int = 200) -> dict[str, float]:
    """Write `n` vectors into the default index, then query it: p50/p95 wall and CPU, recall@10."""
    vectors, queries = random_unit_vectors(n, n_queries)
    project_of = np.arange(n) % PROJECTS
    index = UsearchVectorIndex(where)
    await index.reset("bench:random", vectors.shape[1])
    started, cpu_started = time.perf_counter(), time.process_time()
    for start in range(0, n, WRITE_BATCH):
        await index.replace_many(
            [
                (
                    f"p{project_of[i]:02d}",
                    f"c{i}",
                    [
                        VectorItem(
                            f"c{i}", "p", f"p{project_of[i]:02d}", vectors[i].tolist(), "", (), 0.0, False
                        )
                    ],
                )
                for i in range(start, min(n, start + WRITE_BATCH))
            ]
        )
    build_s, build_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    allowed_rows = np.nonzero(project_of < ALLOWED)[0]
    allowed_vectors = vectors[allowed_rows]
    where_filter = VectorFilter(tuple(f"p{p:02d}" for p in range(ALLOWED)))
    wall, cpu, recalls = [], [], []
    for query in queries:
        started, cpu_started = time.perf_counter(), time.process_time()
        hits = await index.query(query.tolist(), where_filter, K)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        truth = allowed_rows[np.argpartition(-(allowed_vectors @ query), K)[:K]]
        recalls.append(len({f"c{i}" for i in truth} & {hit.comparison_id for hit in hits}) / K)
    await index.close()
    return {
        "vectors": n,
        "build_s": build_s,
        "build_cpu_s": build_cpu_s,
        "p50_ms": percentile(wall, 0.5),
        "p95_ms": percentile(wall, 0.95),
        "cpu_p50_ms": percentile(cpu, 0.5),
        "cpu_p95_ms": percentile(cpu, 0.95),
        "recall@10": statistics.fmean(recalls),
        "min_recall@10": min(recalls),
    }
