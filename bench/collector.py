"""A collector stand-in in a process of its own, for bench.tracing_overhead: what the traced app
sends it costs the app, never the clients that time the tokens.

    python -m bench.collector

It takes OTLP/HTTP spans as a collector would (devstack/otlp_receiver.py decodes each request)
and, once told where (the app starts after it: it needs the OTLP endpoint), asks an app's /metrics
every so often (the interval it is given) with a bearer token, as Prometheus would.  Its first
stdout line gives its two addresses: the OTLP endpoint, and a control one (``GET /stats``: the
spans, export requests and scrapes seen so far; ``POST /scrape`` with ``{"url": ..., "token":
..., "every_s": ...}``).  Loopback only.

`collector_process` starts it from the benchmark and stops it at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import subprocess
import sys
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devstack.otlp_receiver import OtlpReceiver


class _Scraper:
    def __init__(self, url: str, token: str, every_s: float) -> None:
        self.url, self.token, self.every_s = url, token, every_s
        self.scrapes = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        request = urllib.request.Request(self.url, headers={"Authorization": f"Bearer {self.token}"})
        while not self.stop.wait(self.every_s):
            with contextlib.suppress(OSError), urllib.request.urlopen(request, timeout=10) as answer:
                answer.read()
                self.scrapes += answer.status == 200


def serve() -> None:
    receiver = OtlpReceiver()
    scrapers: list[_Scraper] = []

    class Control(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            asked = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            scraper = _Scraper(str(asked["url"]), str(asked["token"]), float(asked["every_s"]))
            scrapers.append(scraper)
            scraper.thread.start()
            self._answer({"scraping": scraper.url})

        def do_GET(self) -> None:
            spans = receiver.received()
            self._answer(
                {
                    "spans": len(spans),
                    "by_name": dict(Counter(f"{s.service} {s.name}" for s in spans).most_common()),
                    "requests": receiver.requests,
                    "scrapes": sum(s.scrapes for s in scrapers),
                }
            )

        def _answer(self, answer: dict[str, Any]) -> None:
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    control = ThreadingHTTPServer(("127.0.0.1", 0), Control)
    threading.Thread(target=control.serve_forever, daemon=True).start()
    receiver.start()
    print(json.dumps({"otlp": receiver.endpoint, "control": f"http://127.0.0.1:{control.server_address[1]}"}))
    sys.stdout.flush()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    for scraper in scrapers:
        scraper.stop.set()
    receiver.stop()
    control.shutdown()


@dataclass
class Collector:
    endpoint: str  # OTEL_EXPORTER_OTLP_ENDPOINT for the traced app
    control: str
    pid: int

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.control}/stats", timeout=10) as answer:
            return dict(json.load(answer))

    def scrape(self, metrics_url: str, token: str, every_s: float) -> None:
        """From now on, ask ``metrics_url`` every ``every_s`` seconds with ``token``, as Prometheus would."""
        body = json.dumps({"url": metrics_url, "token": token, "every_s": every_s}).encode()
        asked = urllib.request.Request(f"{self.control}/scrape", data=body, method="POST")
        with urllib.request.urlopen(asked, timeout=10) as answer:
            answer.read()


@contextlib.contextmanager
def collector_process() -> Iterator[Collector]:
    """The stand-in started as ``python -m bench.collector``; stopped (SIGTERM) on the way out."""
    process = subprocess.Popen([sys.executable, "-m", "bench.collector"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        if not first:
            raise RuntimeError(f"the collector stand-in did not start (exit {process.wait(5)})")
        where = json.loads(first)
        yield Collector(endpoint=where["otlp"], control=where["control"], pid=process.pid)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def main(argv: list[str] | None = None) -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    argparse.ArgumentParser(description=__doc__, formatter_class=formatter).parse_args(argv)
    serve()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
