"""(3) The API's added time to first token.

The target's figure is measured as gateways measure theirs (LiteLLM's proxy overhead, for one):
the same provider called directly over HTTP, and through the app (POST /api/v1/comparisons with
`Accept: text/event-stream`, the app's worker calling that provider); the difference is what the
app adds. The provider is a local OpenAI-compatible server in this process
(tests/support/fake_llm_server.py), known to the app as an operator endpoint. The stricter figure
of earlier runs is printed beside it: the simulated model through the API against the simulated
model called in-process (no HTTP in the baseline, so the client's own request is counted too).

`python -m bench.ttft` measures the target's figure alone (an embedded app, about a minute), and
with `--baseline DIR` (another checkout, e.g. `git archive <commit> | tar -x -C DIR`) the same
figure of that code's app beside this one's, the probes alternating between the two so that both
meet the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from backend.providers import registry
from backend.providers.base import ChatRequest, TextChunk
from backend.settings import Settings
from backend.streaming.follower import short_key
from bench.app_runs import AppUnderTest, embedded_app
from bench.common import STEADY, TARGET_ADDED_TTFT_MS, log, read_traces, summary, verdict, write_results
from bench.proc_cpu import cpu_seconds, pids_matching
from tests.support.fake_llm_server import FakeLLMServer

ENDPOINT = "bench"  # the operator endpoint's name in OPENAI_COMPATIBLE_ENDPOINTS
ENDPOINT_MODEL = "local-a"
NETWORKED = f"openai-compatible:{ENDPOINT}/{ENDPOINT_MODEL}"


@contextlib.contextmanager
def networked_provider(keep_alive: bool = True) -> Iterator[tuple[str, dict[str, str]]]:
    """A local OpenAI-compatible server for the whole benchmark: (its /v1 URL, the app's env
    that names it). Start it before the app: operator endpoints are read at start.

    It keeps its connections open, as providers' APIs do, so the direct client and the app's
    worker each reuse theirs, as a gateway does in steady state. `keep_alive=False` closes each
    after its answer, so that both connect every time (the figure of runs before 2026-12-05
    21:30: about 0.5 ms more added, the app's connect costing more of its loop than the direct
    client's)."""
    server = FakeLLMServer(
        reply=["Hello", " there", "."], openai_models=[ENDPOINT_MODEL], keep_alive=keep_alive
    ).start()
    base_url = f"{server.url}/v1"
    env = {
        "OPENAI_COMPATIBLE_ENDPOINTS": json.dumps({ENDPOINT: {"base_url": base_url}}),
        "OPERATOR_EGRESS_PRIVATE": "true",  # the operator's endpoint is on loopback
    }
    try:
        yield base_url, env
    finally:
        server.stop()


def direct_http_ttft_once(http: httpx.Client, base_url: str, prompt: str) -> float:
    """ms from before the provider request to its first content delta (a keep-alive client)."""
    body = {"model": ENDPOINT_MODEL, "stream": True, "messages": [{"role": "user", "content": prompt}]}
    start = time.perf_counter()
    with http.stream("POST", f"{base_url}/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("data:") and line != "data: [DONE]":
                choices = json.loads(line.split(":", 1)[1])["choices"]
                if choices and choices[0]["delta"].get("content"):
                    return (time.perf_counter() - start) * 1000.0
    raise RuntimeError("the provider sent no text")


async def direct_ttfts(n: int, warmup: int) -> list[float]:
    provider = registry.get_provider(STEADY, Settings())
    values: list[float] = []
    for i in range(n + warmup):
        request = ChatRequest(model="steady", prompt=f"TTFT probe {i} [[simulate:tokens=3]]", max_tokens=16)
        stream = provider.stream(request)
        start = time.perf_counter()
        async for item in stream:
            if isinstance(item, TextChunk) and item.text:
                if i >= warmup:
                    values.append((time.perf_counter() - start) * 1000.0)
                break
        await stream.aclose()  # type: ignore[attr-defined]
    return values


def _read_events(
    events: httpx.Response, start: float, deadline: float
) -> tuple[float | None, str, dict[str, Any] | None]:
    """(ms from `start` to the first text, final statuses, the `comparison` event's data if sent)."""
    first: float | None = None
    final_status = ""
    created: dict[str, Any] | None = None
    event = ""
    for line in events.iter_lines():
        if time.monotonic() > deadline:
            break
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data = json.loads(line.split(":", 1)[1])
            if event == "comparison":
                created = data
            if event == "delta" and data.get("text") and first is None:
                first = (time.perf_counter() - start) * 1000.0
            if event == "done":
                final_status = ",".join(r["status"] for r in data["runs"])
                break
    return first, final_status, created


def api_ttft_once(http: httpx.Client, prompt: str, timeout_s: float) -> tuple[float, float, str, float, str]:
    """Two requests, POST then GET .../events: (ms to the first text, ms the POST took, final
    statuses, wall time of the POST, run key)."""
    wall = time.time()
    start = time.perf_counter()
    response = http.post("/api/v1/comparisons", json={"prompt": prompt, "panes": [{"model": STEADY}]})
    post_ms = (time.perf_counter() - start) * 1000.0
    response.raise_for_status()
    comparison_id = response.json()["id"]
    run = response.json()["runs"][0]
    run_key = short_key(f"{run['id']}:{run['attempt']}")
    deadline = time.monotonic() + timeout_s
    with http.stream("GET", f"/api/v1/comparisons/{comparison_id}/events") as events:
        first, final_status, _ = _read_events(events, start, deadline)
    if first is None:
        raise RuntimeError(f"no text arrived for comparison {comparison_id} (status {final_status!r})")
    return first, post_ms, final_status, wall, run_key


def api_stream_ttft_once(
    http: httpx.Client, prompt: str, timeout_s: float, model: str = STEADY
) -> tuple[float, str, float, str]:
    """One request, POST with Accept: text/event-stream: (ms to the first text, final statuses,
    wall time of the POST, run key)."""
    wall = time.time()
    start = time.perf_counter()
    body = {"prompt": prompt, "panes": [{"model": model}]}
    headers = {"Accept": "text/event-stream"}
    with http.stream("POST", "/api/v1/comparisons", json=body, headers=headers) as events:
        events.raise_for_status()
        first, final_status, created = _read_events(events, start, time.monotonic() + timeout_s)
    if first is None or created is None:
        raise RuntimeError(f"no text arrived for a streamed comparison (status {final_status!r})")
    run = created["runs"][0]
    return first, final_status, wall, short_key(f"{run['id']}:{run['attempt']}")


def split_by_trace(
    trace_paths: list[Path], probes: list[tuple[float, str, float]], direct_p50: float
) -> dict[str, Any]:
    """Where the API's extra time goes, from the worker's trace of the first chunk of each probe:
    before the provider's first chunk (POST, queue, worker pick-up; the provider's own TTFT taken
    out) and after it (events back to the web process, hub, SSE to the client)."""
    trace = read_traces(trace_paths)
    before: list[float] = []
    after: list[float] = []
    for wall, key, api_ms in probes:
        if trace.get(key):
            first_chunk_ms = (min(t for _, t in trace[key]) - wall) * 1000.0
            before.append(first_chunk_ms - direct_p50)
            after.append(api_ms - first_chunk_ms)
    return {
        "request_to_worker_ms": summary(before),
        "first_chunk_to_client_ms": summary(after),
        "method": "from the LLMDASH_TRACE_TOKENS wall time of each probe's first chunk: "
        "(first chunk - POST start) - direct TTFT p50, and API TTFT - (first chunk - POST start)",
    }


def bench_ttft(
    http: httpx.Client,
    n: int,
    warmup: int,
    trace_paths: list[Path] | None = None,
    provider_url: str | None = None,
) -> dict[str, Any]:
    """The target's figure: the networked provider through the one-request form (POST with
    Accept: text/event-stream) against the same provider called directly (`provider_url`, from
    `networked_provider`; None: not measured). Beside it the in-process baseline, in both the
    one-request and the POST-then-GET form."""
    log(f"(3) TTFT: {n} runs (after {warmup} warm-up): direct and through the API, three ways")
    # in a thread: the sync Playwright API may own this thread's event loop
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        direct = pool.submit(asyncio.run, direct_ttfts(n, warmup)).result()
    one: list[float] = []
    two: list[float] = []
    posts: list[float] = []
    http_direct: list[float] = []
    http_api: list[float] = []
    statuses: list[str] = []
    probes: list[tuple[float, str, float]] = []
    with httpx.Client(timeout=30.0) as provider_http:
        for i in range(n + warmup):  # interleaved: every form meets the same machine
            if provider_url:
                via_direct = direct_http_ttft_once(provider_http, provider_url, f"TTFT probe {i}c")
                via_api, status3, _, _ = api_stream_ttft_once(http, f"TTFT probe {i}c", 30, NETWORKED)
                statuses.append(status3)
            value, status, wall, key = api_stream_ttft_once(
                http, f"TTFT probe {i} [[simulate:tokens=3]]", timeout_s=30
            )
            value2, post_ms, status2, _, _ = api_ttft_once(
                http, f"TTFT probe {i}b [[simulate:tokens=3]]", timeout_s=30
            )
            statuses += [status, status2]
            if i >= warmup:
                one.append(value)
                two.append(value2)
                posts.append(post_ms)
                probes.append((wall, key, value))
                if provider_url:
                    http_direct.append(via_direct)
                    http_api.append(via_api)
    d, a, a2 = summary(direct), summary(one), summary(two)
    log(
        f"    in-process baseline: direct p50 {d['p50']:.1f} ms, API p50 {a['p50']:.1f} ms in one request"
        f" (added {a['p50'] - d['p50']:.1f} ms), {a2['p50']:.1f} ms as POST then GET events"
    )
    networked: dict[str, Any] = {}
    if provider_url:
        hd, ha = summary(http_direct), summary(http_api)
        networked = {"model": NETWORKED, "direct_ms": hd, "api_ms": ha, "added_p50_ms": ha["p50"] - hd["p50"]}
        log(
            f"    networked provider: direct p50 {hd['p50']:.1f} ms, through the API p50 {ha['p50']:.1f} ms"
            f" (added {networked['added_p50_ms']:.1f} ms)"
        )
    split = split_by_trace(trace_paths, probes, d["p50"]) if trace_paths else {}
    if split.get("request_to_worker_ms", {}).get("n"):
        before, after = split["request_to_worker_ms"], split["first_chunk_to_client_ms"]
        log(
            f"    of the in-process form's: before the first chunk p50 {before['p50']:.1f} ms,"
            f" after it p50 {after['p50']:.1f} ms"
        )
    return {
        "networked": networked,
        "split": split,
        "model": STEADY,
        "direct_ms": d,
        "api_ms": a,
        "api_two_requests_ms": a2,
        "post_request_ms": summary(posts),
        "added_p50_ms": a["p50"] - d["p50"],
        "added_p95_ms": a["p95"] - d["p95"],
        "added_two_requests_p50_ms": a2["p50"] - d["p50"],
        "non_done_runs": [s for s in statuses if s != "done"],
        "method": "networked (the target): a local OpenAI-compatible server called directly (httpx, "
        "keep-alive) until the first content delta, and through the API (POST with Accept: "
        "text/event-stream, the operator endpoint's model) until its first delta with text; in-process: "
        "registry.get_provider(...).stream() until the first TextChunk against the simulated model "
        "through the API, in one request and as POST then GET .../events",
    }


# --- python -m bench.ttft: the target's figure alone, or beside another checkout's ---------------
def compare_networked(
    apps: dict[str, AppUnderTest], provider_url: str, n: int, warmup: int
) -> dict[str, dict[str, Any]]:
    """Each app's added TTFT over the direct call, the probes interleaved: every round calls the
    provider directly once, then each app once (the apps' order turning round by round); and
    each app's CPU time per comparison (its processes', from /proc: robust where wall time
    follows the machine's load)."""
    names = list(apps)
    server_pids = {
        name: pids_matching(f"--frontend-port {app.base.rsplit(':', 1)[1]}") for name, app in apps.items()
    }
    cpu_before: dict[str, float] = {}
    direct: list[float] = []
    through: dict[str, list[float]] = {name: [] for name in names}
    probes: dict[str, list[tuple[float, str, float]]] = {name: [] for name in names}
    statuses: dict[str, list[str]] = {name: [] for name in names}
    clients = {
        name: httpx.Client(base_url=app.base, timeout=60.0, headers=app.account.api_headers)
        for name, app in apps.items()
    }
    try:
        with httpx.Client(timeout=30.0) as provider_http:
            for i in range(n + warmup):
                if i == warmup:
                    cpu_before = {name: sum(map(cpu_seconds, server_pids[name])) for name in names}
                prompt = f"TTFT probe {i}"
                value = direct_http_ttft_once(provider_http, provider_url, prompt)
                if i >= warmup:
                    direct.append(value)
                for name in names[i % len(names) :] + names[: i % len(names)]:
                    ms, status, wall, key = api_stream_ttft_once(clients[name], prompt, 30, NETWORKED)
                    statuses[name].append(status)
                    if i >= warmup:
                        through[name].append(ms)
                        probes[name].append((wall, key, ms))
        cpu_after = {name: sum(map(cpu_seconds, server_pids[name])) for name in names}
    finally:
        for client in clients.values():
            client.close()
    d = summary(direct)
    out: dict[str, dict[str, Any]] = {}
    for name, app in apps.items():
        a = summary(through[name])
        out[name] = {
            "direct_ms": d,
            "api_ms": a,
            "added_p50_ms": a["p50"] - d["p50"],
            "added_p95_ms": a["p95"] - d["p95"],
            "split": split_by_trace(app.trace_paths, probes[name], d["p50"]),
            "non_done_runs": [s for s in statuses[name] if s != "done"],
            "server_cpu_ms_per_comparison": (cpu_after[name] - cpu_before[name]) * 1000.0 / n,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ttft", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="probes per app (after the warm-up)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--baseline", type=Path, help="another checkout whose app runs beside this one's (the code before)"
    )
    parser.add_argument(
        "--close-connections",
        action="store_true",
        help="the provider closes each connection after its answer (both sides connect every time)",
    )
    parser.add_argument(
        "--no-indexer",
        action="store_true",
        help="SEARCH_EMBEDDER=none in both apps: their search indexers embed every finished probe"
        " (tens of ms of CPU each), load the machine took for the request path",
    )
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="llmdash-ttft-"))
    results: dict[str, Any] = {"started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "config": vars(args)}
    with (
        networked_provider(keep_alive=not args.close_connections) as (provider_url, env),
        contextlib.ExitStack() as stack,
    ):
        if args.no_indexer:
            env = {**env, "SEARCH_EMBEDDER": "none"}
        apps = {"this checkout": stack.enter_context(embedded_app(tmp / "this", 16, extra_env=env))}
        if args.baseline is not None:
            root = args.baseline.resolve()
            apps["baseline"] = stack.enter_context(
                embedded_app(tmp / "baseline", 16, extra_env=env, root=root)
            )
        log(f"(e) {args.runs} probes per app after {args.warmup} warm-up, interleaved: {', '.join(apps)}")
        results["loadavg_at_start"] = os.getloadavg()
        results["apps"] = compare_networked(apps, provider_url, args.runs, args.warmup)
        results["loadavg_at_end"] = os.getloadavg()
    start, end = results["loadavg_at_start"], results["loadavg_at_end"]
    print(f"load average: {start[0]:.2f} at the start, {end[0]:.2f} at the end (1 min)")
    for name, r in results["apps"].items():
        split = r["split"]
        before = split.get("request_to_worker_ms", {}).get("p50", float("nan"))
        after = split.get("first_chunk_to_client_ms", {}).get("p50", float("nan"))
        print(
            f"{name}: direct p50 {r['direct_ms']['p50']:.1f} ms, through the API p50 {r['api_ms']['p50']:.1f}"
            f" / p95 {r['api_ms']['p95']:.1f} ms; added p50 {r['added_p50_ms']:.1f} ms"
            f" ({verdict(r['added_p50_ms'] < TARGET_ADDED_TTFT_MS)} < {TARGET_ADDED_TTFT_MS:g} ms):"
            f" before the provider's first chunk {before:.1f}, after it {after:.1f} ms;"
            f" the app's CPU {r['server_cpu_ms_per_comparison']:.1f} ms per comparison"
            + (f"; runs not done: {r['non_done_runs']}" if r["non_done_runs"] else "")
        )
    out = write_results(f"ttft-{time.strftime('%Y%m%d-%H%M%S')}.json", results)
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
