"""The plumbing every fake provider server shares: a threaded HTTP server on a free port of
127.0.0.1, its handler class bound to the fake (as `state`), started and stopped by the test.

The fakes differ only in the protocol they speak (their handler's do_GET/do_POST)."""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out or hung up mid-stream is expected here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LocalHTTPServer:
    """Mixed into a fake's dataclass: call `_listen(Handler)` from its __post_init__."""

    _httpd: QuietServer
    _thread: threading.Thread

    def _listen(self, handler: type[BaseHTTPRequestHandler]) -> None:
        bound = type(handler.__name__, (handler,), {"state": self})
        self._httpd = QuietServer(("127.0.0.1", 0), bound)
        # A short poll interval keeps stop() (and so each test's teardown) fast.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def origin(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
