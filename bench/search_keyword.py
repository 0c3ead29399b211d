"""The keyword side at scale (bench/search.py runs it): query time of `keyword_ids` on SQLite's
FTS5 trigram index (migration 0018) against the LIKE scan it replaced, over `n` generated
comparisons (a prompt and two answers each, English and Japanese words), for a person in 25 of
50 projects. PostgreSQL's pg_trgm side is not timed here (the tests run it on both engines).
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, and_, exists, or_, select, text

from backend.db.engine import Database
from backend.db.models import Comparison, Run
from backend.search.keyword import _like, _readable, keyword_ids, terms_of

SYLLABLES: tuple[str, ...] = (
    "ka",
    "ri",
    "to",
    "mo",
    "ne",
    "su",
    "ha",
    "yu",
    "ro",
    "mi",
    "ta",
    "ke",
    "no",
    "shi",
    "ra",
    "pe",
)
SYLLABLES += ("lu", "vo", "gan", "dor")
VOCABULARY = sorted({a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES})  # 8,000 words
WORDS_JA: tuple[str, ...] = (
    "味噌汁",
    "京都",
    "旅行",
    "俳句",
    "紅葉",
    "睡眠",
    "通信",
    "内定",
    "ギター",
    "戦争",
    "重複",
    "猫",
)
WORDS_JA += ("宇宙", "ストレス", "複利", "登山", "免疫", "正規表現", "腰痛", "献立")
JA_SHARE = 0.01  # of the words: Japanese, so a Japanese term is selective as a rare word is


def _ranked() -> tuple[list[str], list[float]]:
    """The vocabulary in a fixed random order, with Zipf-like cumulative weights (word r: 1/(r+10))."""
    words = list(VOCABULARY)
    random.Random(5).shuffle(words)
    cumulative, total = [], 0.0
    for rank in range(len(words)):
        total += 1.0 / (rank + 10)
        cumulative.append(total)
    return words, cumulative


WORDS, CUMULATIVE = _ranked()
# A frequent word with a mid one, a mid one, a rare one; Japanese of 3+ characters and under 3.
QUERIES = (f"{WORDS[20]} {WORDS[400]}", WORDS[400], WORDS[3000], "正規表現", "京都 旅行", "猫")


def _sentence(rng: random.Random, n: int) -> str:
    words = rng.choices(WORDS, cum_weights=CUMULATIVE, k=n)
    return " ".join(rng.choice(WORDS_JA) if rng.random() < JA_SHARE else word for word in words)


async def _seed(db: Database, n: int) -> None:
    rng = random.Random(17)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    async with db.session() as session:
        await session.execute(
            text("INSERT INTO users (id, email, created_at) VALUES ('u', 'u@x.org', :t)"), {"t": t0}
        )
        for p in range(50):
            pid = f"p{p:02d}"
            await session.execute(
                text("INSERT INTO projects (id, owner_id, name, created_at) VALUES (:p, 'u', :p, :t)"),
                {"p": pid, "t": t0},
            )
            if p < 25:
                await session.execute(
                    text(
                        "INSERT INTO project_members (id, project_id, user_id, email, role, created_at) "
                        "VALUES (:p, :p, 'u', 'u@x.org', 'owner', :t)"
                    ),
                    {"p": pid, "t": t0},
                )
        for start in range(0, n, 5000):
            rows = range(start, min(n, start + 5000))
            await session.execute(
                text(
                    "INSERT INTO comparisons (id, project_id, user_id, prompt, system_prompt, settings, "
                    "created_at) VALUES (:id, :p, 'u', :prompt, '', '{}', :t)"
                ),
                [
                    {
                        "id": f"c{i}",
                        "p": f"p{i % 50:02d}",
                        "prompt": _sentence(rng, 12),
                        "t": t0 + timedelta(seconds=i),
                    }
                    for i in rows
                ],
            )
            await session.execute(
                text(
                    "INSERT INTO runs (id, comparison_id, position, provider, model, params, output_text, "
                    "created_at) VALUES (:id, :c, :pos, 'simulated', 'simulated:swift', '{}', :out, :t)"
                ),
                [
                    {"id": f"r{i}-{pos}", "c": f"c{i}", "pos": pos, "out": _sentence(rng, 60), "t": t0}
                    for i in rows
                    for pos in (0, 1)
                ],
            )
        await session.commit()


def _like_scan(terms: list[str]) -> ColumnElement[bool]:
    """What keyword search did before 0018: every term by ILIKE over prompts and answers."""

    def matches(term: str) -> ColumnElement[bool]:
        pattern = _like(term)
        in_answers = exists().where(
            Run.comparison_id == Comparison.id, Run.output_text.ilike(pattern, escape="\\")
        )
        return or_(
            Comparison.prompt.ilike(pattern, escape="\\"),
            Comparison.system_prompt.ilike(pattern, escape="\\"),
            in_answers,
        )

    return and_(*(matches(t) for t in terms))


async def keyword_scale(n: int, where: Path, rounds: int = 5) -> dict[str, float]:
    """p50/p95 of one keyword query (ms) with the index and with the LIKE scan; seeding time."""
    db = Database(f"sqlite:///{where / 'keyword.db'}")
    projects = tuple(f"p{p:02d}" for p in range(50))
    try:
        await db.upgrade()
        started = time.perf_counter()
        await _seed(db, n)
        seed_s = time.perf_counter() - started
        indexed: list[float] = []
        scanned: list[float] = []
        cpu: dict[str, list[float]] = {query: [] for query in QUERIES}
        async with db.session() as session:
            for _ in range(rounds):
                for query in QUERIES:
                    started, cpu_started = time.perf_counter(), time.process_time()
                    await keyword_ids(session, "u", projects, query, 60)
                    indexed.append((time.perf_counter() - started) * 1000)
                    cpu[query].append((time.process_time() - cpu_started) * 1000)
            for query in QUERIES[:3]:  # the scan is slow: fewer rounds
                stmt = (
                    select(Comparison.id)
                    .where(*_readable("u", projects), _like_scan(terms_of(query)))
                    .order_by(Comparison.created_at.desc())
                    .limit(60)
                )
                started = time.perf_counter()
                await session.execute(stmt)
                scanned.append((time.perf_counter() - started) * 1000)
    finally:
        await db.dispose()
    indexed.sort()
    return {
        "comparisons": n,
        "seed_s": seed_s,
        "fts_p50_ms": statistics.median(indexed),
        "fts_p95_ms": indexed[max(0, int(len(indexed) * 0.95) - 1)],
        "like_median_ms": statistics.median(scanned),
        "fts_cpu_ms_by_query": {query: round(statistics.median(ms), 1) for query, ms in cpu.items()},  # type: ignore[dict-item]
    }
