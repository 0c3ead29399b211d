"""Sampling profiles of the processes under load, with py-spy (optional: `pip install py-spy`).

`Profiles(out_dir).record(name, pids, seconds)` starts one `py-spy record` per process in
the background (non-blocking sampling: the process is never paused, so the profile does not
add the latency it is meant to explain), for at most `seconds`; `finish()` stops them (SIGINT:
py-spy writes what it has) and writes, beside each
raw profile (collapsed stacks, one line per distinct stack with its sample count), a short
summary: the functions with the most samples on top of the stack (self) and anywhere in it
(inclusive).  Only the thread holding the GIL is sampled (`--gil`), so a sample is a moment the
process ran Python (or a C call made from Python that keeps the GIL): its samples add up to the
process's Python CPU time, whatever its threads and the machine's other processes do.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path

from bench.common import log

RATE_HZ = 200
TOP = 30


def available() -> bool:
    return shutil.which("py-spy") is not None


class Profiles:
    def __init__(self, out_dir: Path, limit_s: float | None = None) -> None:
        """`limit_s`: record at most this long from each `record` call (the first seconds of a
        round: the Run burst), whatever the caller asks."""
        self.out_dir = out_dir
        self.limit_s = limit_s
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._running: list[tuple[subprocess.Popen[bytes], Path]] = []

    def record(self, name: str, pids: list[int], seconds: float) -> None:
        exe = shutil.which("py-spy")
        if exe is None:
            log("    (py-spy not found: no profile)")
            return
        if self.limit_s is not None:
            seconds = min(seconds, self.limit_s)
        for pid in pids:
            raw = self.out_dir / f"{name}-{pid}.txt"
            command = [exe, "record", "--pid", str(pid), "--nonblocking", "--gil", "--rate", str(RATE_HZ)]
            command += ["--format", "raw", "--duration", str(max(1, round(seconds))), "--output", str(raw)]
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self._running.append((process, raw))

    def finish(self, timeout_s: float = 30.0) -> list[Path]:
        """Stop the recordings (bounded); summarize each; returns the summaries written."""
        written: list[Path] = []
        for process, _ in self._running:
            process.send_signal(signal.SIGINT)
        for process, raw in self._running:
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(10)
            if raw.exists() and raw.stat().st_size:
                summary = raw.with_suffix(".summary.txt")
                summary.write_text(summarize(raw.read_text()))
                written.append(summary)
        self._running = []
        return written


def _frames(stack: str) -> list[str]:
    return [frame for frame in stack.split(";") if frame]


def summarize(collapsed: str, top: int = TOP) -> str:
    """Self and inclusive sample counts per function of a collapsed-stack profile."""
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = _frames(stack)
        if frames:
            own[frames[-1]] += n
        for frame in set(frames):
            anywhere[frame] += n
    lines = [f"{total} samples at {RATE_HZ} Hz ({total / RATE_HZ:.1f} s holding the GIL)", ""]
    for title, counts in (("self", own), ("inclusive", anywhere)):
        lines.append(f"--- {title} ---")
        for frame, n in counts.most_common(top):
            lines.append(f"{100.0 * n / max(total, 1):5.1f}%  {n:6d}  {frame}")
        lines.append("")
    return "\n".join(lines)
