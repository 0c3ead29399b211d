"""Start the real app (`reflex run --env prod --single-port`) on a free port.

Used by the browser tests and by bench/: the app is built and served exactly as
`scripts/run` serves it, only with its own data directory and port.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, timeout: float = 2.0) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return int(response.status)


@contextlib.contextmanager
def running_app(
    data_dir: Path, extra_env: dict[str, str] | None = None, timeout_s: float = 420, root: Path = ROOT
) -> Iterator[str]:
    """Yield the base URL of a freshly started app; stop it (and its children) on exit.

    `root`: the checkout to run (another one than this, e.g. the code before a change, for a
    benchmark that measures both side by side); its own modules come first on the path."""
    port = free_port()
    venv_bin = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "DATA_DIR": str(data_dir),
        "REFLEX_USE_SYSTEM_BUN": "1",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    if root != ROOT:
        env["PYTHONPATH"] = str(root)
    log_path = data_dir / "app.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [str(venv_bin / "reflex"), "run", "--env", "prod", "--single-port", "--frontend-port", str(port)],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the app exited early; log:\n{log_path.read_text()[-4000:]}")
            with contextlib.suppress(OSError):
                if _get(f"{base}/api/v1/health") == 200 and _get(f"{base}/") == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the app did not start in {timeout_s:.0f} s; log:\n{log_path.read_text()[-4000:]}"
                )
            time.sleep(1.0)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
