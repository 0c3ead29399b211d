"""Render deploy/nginx.conf.template for a set of app replicas, and the nginx command line.

    python deploy/nginx.py PREFIX LISTEN UPSTREAM [UPSTREAM ...]
    # e.g. python deploy/nginx.py /tmp/lb 3000 127.0.0.1:3101 127.0.0.1:3102

writes PREFIX/nginx.conf (PREFIX is created, world-traversable so that nginx's worker,
which runs as "nobody" when the master is root, reaches its temp directories) and prints
the command that runs nginx in the foreground with that prefix.  Used by scripts/stack
and by the scale-out test (devstack/nginx.py).
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

TEMPLATE = Path(__file__).with_name("nginx.conf.template")
NGINX = "/usr/sbin/nginx"


def render(prefix: Path, listen: str | int, upstreams: Sequence[str]) -> str:
    """The config text: `listen` is a port or address:port, `upstreams` host:port of each replica."""
    if not upstreams:
        raise ValueError("at least one upstream replica is needed")
    servers = "\n".join(f"        server {u} max_fails=1 fail_timeout=5s;" for u in upstreams)
    text = TEMPLATE.read_text()
    for key, value in {
        "@PREFIX@": str(prefix),
        "@LISTEN@": str(listen),
        "@UPSTREAM_SERVERS@": servers,
    }.items():
        text = text.replace(key, value)
    return text


def write(prefix: Path, listen: str | int, upstreams: Sequence[str]) -> Path:
    """Create `prefix` and write its nginx.conf; returns the config's path."""
    prefix = prefix.resolve()
    prefix.mkdir(parents=True, exist_ok=True)
    prefix.chmod(0o755)
    conf = prefix / "nginx.conf"
    conf.write_text(render(prefix, listen, upstreams))
    return conf


def command(prefix: Path, nginx: str = NGINX) -> list[str]:
    """nginx in the foreground, everything (config, pid, logs, temp files) under `prefix`."""
    prefix = prefix.resolve()
    return [
        nginx,
        "-p",
        str(prefix),
        "-c",
        str(prefix / "nginx.conf"),
        "-g",
        f"daemon off; pid {prefix}/nginx.pid;",
    ]


def main(argv: Sequence[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    prefix = Path(argv[0])
    write(prefix, argv[1], argv[2:])
    print(shlex.join(command(prefix)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
