"""The leaderboard served by the real service from a real database: first fit, cached serves,
and the refit a new vote triggers.

The bench's votes are written into a fresh SQLite database (the embedded default) as one
project's comparisons, runs and votes, with one user per voter. LeaderboardService then
answers as it does for the page and the API: each request checks membership and reads the
project's fingerprint (count and latest time of its votes and finished runs), and a board
whose fingerprint has not changed comes from the in-process cache.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

from backend.auth.permissions import Principal
from backend.db.engine import Database
from backend.db.models import Comparison, Project, ProjectMember, Run, User, Vote, new_id, utcnow
from backend.ranking import Vote as RankingVote
from backend.ranking import VoteChoice
from backend.services.leaderboard import LeaderboardService
from backend.services.votes import VoteService

CHUNK = 2000  # rows per INSERT statement


@dataclass(frozen=True)
class StoreTimings:
    first_fit_ms: float  # the first request: read every vote and run, fit, cache
    cached_ms: list[float]  # later requests with nothing changed
    refit_ms: list[float]  # a request right after a vote changed
    refits_were_new: bool  # every post-vote request answered a new board with the changed vote
    cached_were_cached: bool  # every unchanged request answered the cached board itself


async def _fill(db: Database, votes: list[RankingVote]) -> tuple[Principal, str, list[str]]:
    """One project holding every vote's comparison; returns (owner, project id, comparison ids)."""
    now = utcnow()
    voters = sorted({v.voter for v in votes})
    user_ids = {name: new_id() for name in voters}
    owner_id = user_ids[voters[0]]
    project_id = new_id()
    comparison_ids = [new_id() for _ in votes]
    async with db.session() as session:
        await session.execute(
            insert(User),
            [
                {"id": uid, "email": f"{name}@bench.example", "display_name": name}
                for name, uid in user_ids.items()
            ],
        )
        await session.execute(insert(Project), [{"id": project_id, "owner_id": owner_id, "name": "bench"}])
        await session.execute(
            insert(ProjectMember),
            [
                {
                    "project_id": project_id,
                    "user_id": uid,
                    "email": f"{name}@bench.example",
                    "role": "owner" if uid == owner_id else "viewer",
                }
                for name, uid in user_ids.items()
            ],
        )
        for start in range(0, len(votes), CHUNK):
            part = list(zip(comparison_ids[start : start + CHUNK], votes[start : start + CHUNK], strict=True))
            await session.execute(
                insert(Comparison),
                [
                    {"id": cid, "project_id": project_id, "user_id": owner_id, "prompt": "bench"}
                    for cid, _ in part
                ],
            )
            await session.execute(
                insert(Run),
                [
                    {
                        "comparison_id": cid,
                        "position": position,
                        "provider": "bench",
                        "model": model,
                        "status": "done",
                        "ttft_ms": 200.0 + 10 * position,
                        "total_ms": 2000.0,
                        "output_tokens": 100,
                        "finished_at": now - timedelta(seconds=len(votes) - start),
                    }
                    for cid, v in part
                    for position, model in enumerate(v.pane_models)
                ],
            )
            await session.execute(
                insert(Vote),
                [
                    {
                        "comparison_id": cid,
                        "user_id": user_ids[v.voter],
                        "best_pane": v.best if isinstance(v.best, int) else None,
                        "no_winner": None if isinstance(v.best, int) else VoteChoice(v.best).value,
                        "thumbs": [None] * len(v.pane_models),
                        "created_at": v.at,
                        "updated_at": v.at,
                    }
                    for cid, v in part
                ],
            )
        await session.commit()
    owner = Principal(user_id=owner_id, email=f"{voters[0]}@bench.example", display_name=voters[0])
    return owner, project_id, comparison_ids


async def measure(votes: list[RankingVote], runs: int, refits: int) -> StoreTimings:
    with tempfile.TemporaryDirectory(prefix="llmdash-bench-board-") as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'board.db'}")
        try:
            await db.upgrade()
            owner, project_id, comparison_ids = await _fill(db, votes)
            service = LeaderboardService(db)

            async def board_ms() -> tuple[float, object]:
                start = time.perf_counter()
                result = await service.leaderboard(owner, project_id, min_comparisons=1)
                return (time.perf_counter() - start) * 1000.0, result

            first_ms, board = await board_ms()
            cached, refit = [], []
            same, new = True, True
            for _ in range(runs):
                ms, again = await board_ms()
                cached.append(ms)
                same = same and again is board
            for i in range(refits):
                # The owner's own vote on one of the comparisons (a new vote the first time,
                # a changed one after): the fingerprint moves, so the next request refits.
                await VoteService(db).vote(owner, comparison_ids[i], "tie" if i % 2 else 0)
                ms, after = await board_ms()
                refit.append(ms)
                new = new and after is not board
                board = after
                ms, again = await board_ms()  # and is cached again at once
                cached.append(ms)
                same = same and again is board
            return StoreTimings(first_ms, cached, refit, new, same)
        finally:
            await db.dispose()
