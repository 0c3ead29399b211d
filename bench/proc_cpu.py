"""CPU time of the stack's processes, from /proc (Linux): which component saturates during a run."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat fields after the command name (field 3, the state, is index 0)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (0 if it is gone)."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / TICK if fields else 0.0


def group_pids(pgid: int) -> list[int]:
    """Every process of process group `pgid` (field 5 of /proc/PID/stat)."""
    found = []
    for pid in _pids():
        fields = _stat(pid)
        if fields and int(fields[2]) == pgid:
            found.append(pid)
    return found


def pids_matching(needle: str) -> list[int]:
    return [pid for pid in _pids() if needle in _cmdline(pid) and pid != os.getpid()]


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return float(sum(values) - idle), float(sum(values))


class CpuMeter:
    """Samples each named group of processes before and after a window; reports cores used.

    A group is a function returning its current pids (processes may come and go, e.g.
    PostgreSQL backends); a process that ended inside the window loses its last ticks.
    """

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self.groups = groups
        self._start: dict[str, dict[int, float]] = {}
        self._machine: tuple[float, float] = (0.0, 0.0)
        self._t0 = 0.0

    def _sample(self) -> dict[str, dict[int, float]]:
        sample: dict[str, dict[int, float]] = {}
        for name, find in self.groups.items():
            pids: list[int] = []
            with contextlib.suppress(Exception):
                pids = find()
            sample[name] = {pid: cpu_seconds(pid) for pid in pids}
        return sample

    def start(self, now: float) -> None:
        self._t0 = now
        self._machine = machine_busy()
        self._start = self._sample()

    def stop(self, now: float) -> dict[str, float]:
        """Cores used by each group over the window (1.0 = one core busy all the time), and the machine."""
        end = self._sample()
        wall = max(now - self._t0, 1e-9)
        used: dict[str, float] = {}
        for name, after in end.items():
            before = self._start.get(name, {})
            used[name] = sum(max(0.0, t - before.get(pid, 0.0)) for pid, t in after.items()) / wall
        busy, total = machine_busy()
        d_busy, d_total = busy - self._machine[0], total - self._machine[1]
        used["machine (all processes)"] = (os.cpu_count() or 1) * d_busy / d_total if d_total else 0.0
        return used
