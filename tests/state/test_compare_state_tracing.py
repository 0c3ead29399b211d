"""The Run pressed on the page starts the trace (there is no HTTP request under a Reflex event):
`compare.run` is the root, and the runs' spans through the embedded queue join it."""

from __future__ import annotations

from pathlib import Path

from backend.runtime import running
from devstack.otlp_receiver import otlp_receiver
from state.compare import CompareState
from state.rows import ModelOption, PaneRow
from tests.backend.runtime_support import make_settings, wait_until_final
from tests.state.support import in_tree, sign_in

INTERNAL, CONSUMER = 1, 5  # OTLP's span kinds


async def test_a_run_pressed_on_the_page_is_the_root_of_its_runs_trace(tmp_path: Path) -> None:
    with otlp_receiver() as receiver:
        settings = make_settings(
            f"sqlite:///{tmp_path / 'run.db'}",
            tmp_path,
            otel_traces_exporter="otlp",
            otel_exporter_otlp_endpoint=receiver.endpoint,
            otel_traces_sample_ratio=1.0,
        )
        async with running(settings) as rt:
            state = in_tree(CompareState)
            state.models = [
                ModelOption(id=m, label=m, family="simulated", available=True, reason="", simulated=True)
                for m in ("simulated:swift", "simulated:coder")
            ]
            state.panes = [PaneRow(pane_id="p0", model="simulated:swift", label="swift")]
            await sign_in(state, rt)
            state.prompt = "Trace the page [[simulate:tokens=4]]"
            await CompareState.run.fn(state)
            (run,) = (await wait_until_final(rt.comparisons, state.comparison_id)).runs
            await rt.pump.drain()
        spans = receiver.wait_for(lambda got: any(s.name == "run.save" for s in got))
    (root,) = [s for s in spans if s.name == "compare.run"]
    trace = {s.span_id: s for s in spans if s.trace_id == root.trace_id}
    assert (root.kind, root.parent_id, root.service) == (INTERNAL, "", "llmdash-web")
    assert all(s.parent_id in trace for s in trace.values() if s is not root)
    names = sorted(s.name for s in trace.values() if s.name.startswith(("compare", "comparison", "run.")))
    assert names == ["compare.run", "comparison.create", "run.enqueue", "run.execute", "run.save"]
    (execute,) = [s for s in trace.values() if s.name == "run.execute"]
    assert execute.kind == CONSUMER and execute.attributes["llmdash.run_id"] == run.id
