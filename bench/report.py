"""The streaming benchmark's table: one column of figures per mode, the Kafka/embedded ratio, targets."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from bench.common import (
    TARGET_ADDED_TTFT_MS,
    TARGET_DOM_P95_MS,
    TARGET_KAFKA_DOM_P95_RATIO,
    TARGET_WS_RATIO,
    TARGET_WS_SIMILAR,
    WS_TARGET_PANES,
    verdict,
)

Row = tuple[str, ...]  # metric, one value per mode, [kafka/embedded,] target, result


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b or math.isnan(a) or math.isnan(b):
        return None
    return a / b


def _x(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x"


def _ms_pair(lat: dict[str, float]) -> str:
    return f"{lat['p50']:.1f} / {lat['p95']:.1f} ms"


class Table:
    """Rows of figures, one column per mode, then each other mode's ratio to the embedded one."""

    def __init__(self, modes: list[str]) -> None:
        self.modes = modes
        self.others = [m for m in modes if m != "embedded"] if "embedded" in modes else []
        self.both = bool(self.others)
        self.rows: list[Row] = []

    @property
    def header(self) -> Row:
        return ("metric", *self.modes, *(f"{m}/embedded" for m in self.others), "target", "result")

    def add(
        self,
        metric: str,
        values: dict[str, str],
        target: str,
        result: str,
        nums: dict[str, float] | None = None,
        only: str | None = None,
    ) -> None:
        """nums: the figure each mode's ratio to the embedded mode is worked out from (`only`: one mode)."""
        cells = [values.get(mode, "") for mode in self.modes]
        ratios = [
            _x(_ratio(nums.get(m), nums.get("embedded"))) if nums and only in (None, m) else ""
            for m in self.others
        ]
        self.rows.append((metric, *cells, *ratios, target, result))

    def results(self, oks: dict[str, bool | None]) -> str:
        """PASS/FAIL per mode, in column order ("PASS / FAIL")."""
        return " / ".join(verdict(oks[mode]) for mode in self.modes if mode in oks)

    def render(self) -> str:
        rows = [self.header, *self.rows]
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(self.header))]
        fmt: Callable[[Row], str] = lambda row: " | ".join(  # noqa: E731
            str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
        ).rstrip()
        lines = [fmt(self.header), "-+-".join("-" * w for w in widths)]
        lines.extend(fmt(row) for row in self.rows)
        return "\n".join(lines)

    def as_dicts(self) -> list[dict[str, str]]:
        return [dict(zip(self.header, row, strict=True)) for row in self.rows]

    def failed(self) -> bool:
        return any("FAIL" in row[-1] for row in self.rows)


def _dom_rows(table: Table, by_mode: dict[str, dict[str, Any]]) -> None:
    doms = {mode: r.get("token_to_dom", {}) for mode, r in by_mode.items() if "token_to_dom" in r}
    for mode, dom in doms.items():
        if "skipped" in dom:
            table.add(f"(1) token-to-DOM ({mode})", {mode: dom["skipped"]}, "", "n/a")
    for key in ("sessions_1", "sessions_max"):
        runs = {m: d[key] for m, d in doms.items() if isinstance(d.get(key), dict)}
        if not runs:
            continue
        sessions = max(r["sessions"] for r in runs.values())
        who = f"{sessions} session(s) x {next(iter(runs.values()))['panes_per_session']} panes"
        is_target = key == "sessions_max" and sessions >= 20
        values: dict[str, str] = {}
        oks: dict[str, bool | None] = {}
        p95: dict[str, float] = {}
        for mode, run in runs.items():
            rendered = run.get("rendered", {})
            if "token_to_dom_ms" not in rendered:
                values[mode] = str(rendered.get("error", "failed"))
                oks[mode] = False
                continue
            lat = rendered["token_to_dom_ms"]
            p95[mode] = lat["p95"]
            clean = rendered["tokens_never_in_dom"] == 0 and rendered["text_mismatch_count"] == 0
            oks[mode] = lat["p95"] < TARGET_DOM_P95_MS and clean
            values[mode] = _ms_pair(lat)
            if not clean:
                lost, bad = rendered["tokens_never_in_dom"], rendered["text_mismatch_count"]
                values[mode] += f" ({lost} tokens lost, {bad} bad panes)"
        target = f"p95 < {TARGET_DOM_P95_MS:.0f} ms" + ("" if is_target else " (info)")
        table.add(
            f"(1) token-to-DOM p50/p95, {who}",
            values,
            target,
            table.results(oks) if is_target else "info",
            p95,
        )
        for other in table.others:
            ratio = _ratio(p95.get(other), p95.get("embedded"))
            ok = None if ratio is None else ratio <= TARGET_KAFKA_DOM_P95_RATIO
            target = f"p95 <= {TARGET_KAFKA_DOM_P95_RATIO:.1f}x embedded"
            table.add(f"    {other} p95 / embedded p95, {who}", {}, target, verdict(ok), p95, only=other)
        values, p95 = {}, {}
        for mode, run in runs.items():
            transport = run.get("transport_only", {})
            if "token_to_apply_ms" not in transport:
                continue
            t = transport["token_to_apply_ms"]
            p95[mode] = t["p95"]
            values[mode] = _ms_pair(t)
            if transport["tokens_never_arrived"] or transport["text_mismatch_count"]:
                lost, bad = transport["tokens_never_arrived"], transport["text_mismatch_count"]
                values[mode] += f" ({lost} lost, {bad} bad)"
        if values:
            table.add(f"    server+network only (no render), {who}", values, "(diagnostic)", "", p95)


def _ws_rows(table: Table, by_mode: dict[str, dict[str, Any]]) -> None:
    cases: dict[tuple[int, int], dict[str, float]] = {}
    for mode, results in by_mode.items():
        for r in results.get("ws_bytes", []):
            cases.setdefault((r["panes"], r["tokens_per_pane"]), {})[mode] = r["ratio"]
    for (panes, tokens), ratios in cases.items():
        label = f"(2) WS bytes / text bytes, {panes} pane(s) x {tokens} tokens"
        values = {mode: f"{v:.2f}x" for mode, v in ratios.items()}
        if panes == WS_TARGET_PANES:
            oks: dict[str, bool | None] = {mode: v < TARGET_WS_RATIO for mode, v in ratios.items()}
            table.add(label, values, f"< {TARGET_WS_RATIO:.0f}x", table.results(oks), ratios)
        else:
            table.add(label, values, "(info)", "info", ratios)
    spread: dict[str, float] = {}
    for mode in by_mode:
        target_ratios = [v[mode] for (p, _), v in cases.items() if p == WS_TARGET_PANES and mode in v]
        if len(target_ratios) >= 2:
            spread[mode] = max(target_ratios) / min(target_ratios)
    if spread:
        oks = {mode: v <= TARGET_WS_SIMILAR for mode, v in spread.items()}
        table.add(
            "(2) ratio similar across lengths (max/min)",
            {mode: f"{v:.2f}" for mode, v in spread.items()},
            f"<= {TARGET_WS_SIMILAR:.2f}",
            table.results(oks),
        )


def _ttft_rows(table: Table, by_mode: dict[str, dict[str, Any]]) -> None:
    ttfts = {mode: r["ttft"] for mode, r in by_mode.items() if r.get("ttft")}
    if not ttfts:
        return

    def pick(key: str) -> dict[str, float]:
        return {mode: t[key]["p95"] for mode, t in ttfts.items()}

    direct = {mode: _ms_pair(t["direct_ms"]) for mode, t in ttfts.items()}
    table.add("(3) TTFT direct p50/p95", direct, "(reference)", "")
    api = {mode: _ms_pair(t["api_ms"]) for mode, t in ttfts.items()}
    table.add("(3) TTFT via API p50/p95", api, "", "", pick("api_ms"))
    added = {mode: t["added_p50_ms"] for mode, t in ttfts.items()}
    table.add(
        "(3) API added TTFT at p50",
        {mode: f"{v:.1f} ms" for mode, v in added.items()},
        f"< {TARGET_ADDED_TTFT_MS:.0f} ms",
        table.results({mode: v < TARGET_ADDED_TTFT_MS for mode, v in added.items()}),
    )


def build_table(by_mode: dict[str, dict[str, Any]]) -> Table:
    """by_mode: "embedded"/"kafka" -> that mode's results (token_to_dom, ws_bytes, ttft)."""
    table = Table(list(by_mode))
    _dom_rows(table, by_mode)
    _ws_rows(table, by_mode)
    _ttft_rows(table, by_mode)
    for name in sorted({n for r in by_mode.values() for n in r.get("errors", {})}):
        failed = {mode: r["errors"][name][:60] for mode, r in by_mode.items() if name in r.get("errors", {})}
        table.add(f"{name} did not complete", failed, "", "FAIL")
    return table
