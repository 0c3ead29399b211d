"""Stopping background tasks when a library swallows their cancellation.

A task asked to stop gets a CancelledError at its next await; a library that turns it into an
ordinary error or a normal return makes the task carry on as if nothing had been asked. redis-py
(7.4, with a socket timeout, on Python 3.11) does that: of the cancellations that landed while a
command waited for its reply, 306 of 474 came back as the command's answer (a loop of PINGs
cancelled at random, this machine, 2026-12-05). A loop that checks Redis every second then never
ends, and the process's shutdown waited for it for ever (CI's teardown hung 300 s on it).

So the loops that run until cancelled ask `raise_if_cancelled()` after each call that could have
swallowed it (the task's `cancelling()` count stays up when a cancellation is swallowed), and
`stop_tasks` cancels again any task that is still running after a grace period.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection

log = logging.getLogger(__name__)


def raise_if_cancelled() -> None:
    """Raise CancelledError if the current task has been asked to stop and is still running.

    Only for tasks that never handle a cancellation themselves (the runtime's background loops):
    a task that caught one on purpose without `uncancel()` would be stopped again here."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def stop_tasks(tasks: Collection[asyncio.Task[None]], grace_s: float, again_s: float = 1.0) -> None:
    """Cancel `tasks` and wait until they end: `grace_s` for their own clean-up, then every
    `again_s` a new cancellation (with a warning naming the task) until each has ended."""
    pending = {task for task in tasks if not task.done()}
    for task in pending:
        task.cancel()
    wait_s = grace_s
    while pending:
        _, pending = await asyncio.wait(pending, timeout=wait_s)
        for task in pending:
            log.warning("task %s did not stop when cancelled; cancelling it again", task.get_name())
            task.cancel()
        wait_s = again_s
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed while stopping", task.get_name(), exc_info=task.exception())
