"""Shared pieces of the benchmarks: paths, targets, statistics, the worker's token trace."""

from __future__ import annotations

import contextlib
import json
import math
import re
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from backend.providers.base import ChatRequest
from backend.providers.simulated import simulated_text
from backend.streaming.follower import short_key

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
STEADY = "simulated:steady"

TARGET_DOM_P95_MS = 100.0
TARGET_WS_RATIO = 3.0
WS_TARGET_PANES = 8  # bytes per pane are measured on the same 8-pane page as (1)
TARGET_WS_SIMILAR = 1.25  # "similar for both lengths": the larger ratio is at most 25% above the smaller
TARGET_ADDED_TTFT_MS = 2.0  # issue 22, target (e): the API's added time to first token, p50, embedded
TARGET_KAFKA_DOM_P95_RATIO = 1.5  # Kafka mode's token-to-DOM p95 at most 1.5x the embedded mode's


# --- small helpers -----------------------------------------------------------
def percentile(values: Iterable[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100); NaN for no values."""
    data = sorted(values)
    if not data:
        return math.nan
    pos = (len(data) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else math.nan,
        "mean": sum(values) / len(values) if values else math.nan,
    }


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def expected_text(prompt: str, max_tokens: int = 1024) -> str:
    return "".join(
        simulated_text("steady", ChatRequest(model="steady", prompt=prompt, max_tokens=max_tokens))
    )


def read_trace(path: Path) -> dict[str, list[tuple[int, float]]]:
    """run key -> [(text length after the chunk in UTF-16 units, wall time s)] in publish order."""
    lines: dict[str, list[tuple[int, float]]] = defaultdict(list)
    if not path.exists():
        return lines
    for raw in path.read_text().splitlines():
        with contextlib.suppress(ValueError, KeyError):
            row = json.loads(raw)
            lines[short_key(f"{row['run_id']}:{row['attempt']}")].append(
                (int(row["text_len"]), float(row["t_wall"]))
            )
    return lines


def read_traces(paths: Iterable[Path]) -> dict[str, list[tuple[int, float]]]:
    """The traces of several workers (Kafka mode: one file per worker process), merged."""
    merged: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for path in paths:
        for key, rows in read_trace(path).items():
            merged[key].extend(rows)
    return merged


def trace_supported() -> bool:
    """Whether the worker writes the token trace (wherever the worker's code lives now)."""
    sources = [*(ROOT / "workers").glob("*.py"), *(ROOT / "backend").rglob("*.py")]
    return any("LLMDASH_TRACE_TOKENS" in path.read_text(errors="replace") for path in sources)


def app_log_problems(log_path: Path) -> list[str]:
    if not log_path.exists():
        return []
    pattern = re.compile(
        r"Traceback|\bERROR\b|Exception|Error:|WARNING|reading it from 0|held too long", re.IGNORECASE
    )
    return [
        line.rstrip() for line in log_path.read_text(errors="replace").splitlines() if pattern.search(line)
    ]


def write_results(name: str, results: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / name
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return out


def write_probe_rows(name: str, rows: list[dict[str, Any]]) -> None:
    """A probe's rows, with when they were taken; says where they went."""
    out = write_results(name, {"started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "rows": rows})
    print(f"results: {out}")


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")
