"""Keep Python's cyclic garbage collector off what a server process built at startup.

A full (oldest-generation) collection walks every tracked object. The web process imports the
whole Reflex app (about 275,000 objects: modules, classes, compiled pages and states; 470,000 once
started) and a full collection of that took 170 ms here in a bare process, 0.5-1.7 s in the
capacity benchmark's app on 2 busy cores, on the event loop, whenever enough new objects had
survived into the oldest generation: a stall for every page and stream of the process at once
(66 ms after the freeze, same benchmark and load). After
`gc.freeze()` the collector skips what exists at that moment (never freed, which for modules,
classes and settings is what happens anyway), so its collections only walk what the process made
since. Called once by server processes after start-up. Tests leave their process unfrozen (it
starts many runtimes: it would keep each one's garbage), except around a measurement of the
server's pauses, which unfreezes after (tests/security/test_health_during_the_largest_request.py).
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def freeze_startup_heap() -> int:
    """Collect what start-up left behind, then move everything alive into the permanent
    generation. Answers how many objects were frozen."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("start-up heap frozen: %d objects the garbage collector no longer walks", frozen)
    return frozen
