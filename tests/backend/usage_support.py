"""Finished runs with chosen figures, saved with bulk Core inserts (fast even at 100,000 rows),
for the usage and export tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from backend.auth.permissions import Principal
from backend.db.models import Comparison, Run, new_id
from backend.runtime import Runtime

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)  # a Monday


@dataclass(frozen=True)
class R:
    """One run to save: its model and figures; ``at`` is when it finished."""

    model: str = "simulated:instant"
    status: str = "done"
    ttft_ms: float | None = 100.0
    total_ms: float | None = 1100.0
    input_tokens: int = 10
    output_tokens: int = 11
    cost_usd: float = 0.0
    at: datetime = T0
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


async def personal_project(rt: Runtime, who: Principal) -> str:
    return next(p.id for p in await rt.projects.list_for(who) if p.name == "Personal")


async def save_runs(
    rt: Runtime,
    who: Principal,
    project_id: str,
    runs: Sequence[R],
    *,
    per_comparison: int = 100,
    blind: bool = False,
) -> list[str]:
    """Saves ``runs`` in comparisons of ``per_comparison`` panes each; returns the comparison ids."""
    comparisons: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for start in range(0, len(runs), per_comparison):
        cid = new_id()
        comparisons.append(
            {
                "id": cid,
                "project_id": project_id,
                "user_id": who.user_id,
                "prompt": "usage test",
                "system_prompt": "",
                "settings": {"blind": True} if blind else {},
                "created_at": runs[start].at - timedelta(seconds=5),
            }
        )
        for position, run in enumerate(runs[start : start + per_comparison]):
            rows.append(
                {
                    "id": new_id(),
                    "comparison_id": cid,
                    "position": position,
                    "provider": run.model.split(":", 1)[0],
                    "model": run.model,
                    "params": {},
                    "status": run.status,
                    "error": run.error,
                    "ttft_ms": run.ttft_ms,
                    "total_ms": run.total_ms,
                    "input_tokens": run.input_tokens,
                    "output_tokens": run.output_tokens,
                    "cost_usd": run.cost_usd,
                    "created_at": run.at - timedelta(seconds=2),
                    "finished_at": run.at,
                    **run.extra,
                }
            )

    def work(connection: Connection) -> None:
        connection.execute(insert(Comparison), comparisons)
        for chunk in range(0, len(rows), 10_000):
            connection.execute(insert(Run), rows[chunk : chunk + 10_000])

    await rt.db.write(work)
    return [c["id"] for c in comparisons]


def nearest_rank(values: Sequence[float], percent: int) -> float | None:
    """The reference percentile: the smallest value with at least ``percent``% at or below it."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = -(-len(ordered) * percent // 100)  # ceil
    return ordered[max(rank, 1) - 1]
