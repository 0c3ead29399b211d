"""nginx (Debian's nginx-light) as the load balancer in front of app replicas, for tests.

The config comes from deploy/nginx.conf.template (rendered by deploy/nginx.py), the
same one scripts/stack uses; everything nginx writes stays under its prefix directory.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from deploy import nginx as nginx_conf

ACCESS_LINE = re.compile(
    r'"(?P<method>\S+) (?P<path>\S+) [^"]*" (?P<status>\d+) \d+ upstream=(?P<upstream>\S+)'
)


def nginx_available() -> bool:
    return Path(nginx_conf.NGINX).exists() or shutil.which("nginx") is not None


@dataclass(frozen=True)
class Nginx:
    url: str
    prefix: Path

    def access_log(self) -> list[dict[str, str]]:
        """Each proxied request: method, path, status and the replica (host:port) that served it."""
        log = self.prefix / "access.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return [m.groupdict() for m in ACCESS_LINE.finditer(text)]

    def error_log(self) -> str:
        log = self.prefix / "error.log"
        return log.read_text(errors="replace") if log.exists() else ""


@contextlib.contextmanager
def running_nginx(prefix: Path, port: int, upstreams: list[str], timeout_s: float = 15.0) -> Iterator[Nginx]:
    """nginx in the foreground on 127.0.0.1:`port`, round robin over `upstreams`; stopped on exit."""
    nginx_conf.write(prefix, f"127.0.0.1:{port}", upstreams)
    binary = nginx_conf.NGINX if Path(nginx_conf.NGINX).exists() else (shutil.which("nginx") or "nginx")
    with open(prefix / "nginx.out", "wb") as out:
        proc = subprocess.Popen(nginx_conf.command(prefix, binary), stdout=out, stderr=subprocess.STDOUT)
    balancer = Nginx(f"http://127.0.0.1:{port}", prefix.resolve())
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                output = (prefix / "nginx.out").read_text()
                raise RuntimeError(f"nginx exited ({proc.returncode}): {output}{balancer.error_log()}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{balancer.url}/ping", timeout=2):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"nginx did not answer in {timeout_s} s: {balancer.error_log()}")
            time.sleep(0.2)
        yield balancer
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # fast shutdown (a graceful one waits for open WebSockets)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)
