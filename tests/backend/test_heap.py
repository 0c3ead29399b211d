"""The start-up heap freeze, in a process of its own (a frozen test process would keep the
garbage of every runtime the suite starts)."""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import gc
from backend.heap import freeze_startup_heap

startup = [[i] for i in range(200_000)]  # what an app's imports leave alive
class Cycle:
    pass

garbage = Cycle()
garbage.me = garbage  # a cycle only the collector frees
del garbage
frozen = freeze_startup_heap()
assert frozen == gc.get_freeze_count() >= 200_000, frozen
gc.unfreeze()  # to look at everything: the cycle was collected before the freeze, not kept
assert not any(type(o) is Cycle for o in gc.get_objects()), "start-up garbage was frozen"
gc.freeze()
later = [[i] for i in range(1_000)]
walked = sum(len(gc.get_objects(generation=g)) for g in (0, 1, 2))
assert walked < 200_000, walked  # a full collection now walks what came after, not start-up
print("ok", frozen, walked)
"""


def test_start_up_objects_leave_the_collectors_walks_and_garbage_does_not_stay() -> None:
    result = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
