"""The run loop the Tansu probes share: each case against one broker, a line per case, the rows saved."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from bench.common import write_probe_rows
from tests.support.tansu import Tansu, tansu_broker

Case = TypeVar("Case")
Row = dict[str, Any]


def run_tansu_probe(
    results_name: str,
    cases: Sequence[Case],
    measure: Callable[[Tansu, Case], Awaitable[Row]],
    describe: Callable[[Case, Row], str],
    fresh_broker: bool = False,
) -> int:
    """Start a Tansu broker (or, with `fresh_broker`, one per case), measure each case in turn
    against it, print `describe(case, row)` as each ends and write the rows to
    bench/results/`results_name`.  Returns the exit status."""

    async def run() -> list[Row]:
        rows = []
        with contextlib.ExitStack() as stack:
            shared = None if fresh_broker else stack.enter_context(tansu_broker())
            for case in cases:
                with contextlib.nullcontext(shared) if shared else tansu_broker() as broker:
                    row = await measure(broker, case)
                rows.append(row)
                print(describe(case, row), flush=True)
        return rows

    write_probe_rows(results_name, asyncio.run(run()))
    return 0
