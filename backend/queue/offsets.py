"""Which request offset a worker may commit, with several runs of a partition in flight.

Kafka commits one offset per partition ("everything before this is done"), but
runs finish out of order.  The tracker remembers the offsets handed out, in
order, and on each completion returns the new commit point only if the
completed prefix grew: a slow run holds back the commit of faster ones after
it, so a crash redelivers it (and maybe some finished runs, which the worker
recognises and skips) rather than losing it.
"""

from __future__ import annotations


class OffsetTracker:
    def __init__(self) -> None:
        self._pending: dict[int, bool] = {}  # offset -> done, in delivery (ascending) order
        self.revoked = False  # its partition went to another consumer: its requests are theirs now
        self.next_offset: int | None = None  # after the last offset handed out (None: none yet)

    def __contains__(self, offset: int) -> bool:
        return offset in self._pending

    def __len__(self) -> int:
        return len(self._pending)

    def first_pending(self) -> int | None:
        """The lowest offset handed out and not done yet (what a commit waits for), if any."""
        return next(iter(self._pending), None)

    def add(self, offset: int) -> None:
        self._pending.setdefault(offset, False)
        self.next_offset = max(self.next_offset or 0, offset + 1)

    def complete(self, offset: int) -> int | None:
        """Mark `offset` done; return the offset to commit (last done of the prefix + 1), if it moved."""
        if offset not in self._pending:
            return None
        self._pending[offset] = True
        commit: int | None = None
        for first, done in list(self._pending.items()):
            if not done:
                break
            del self._pending[first]
            commit = first + 1
        return commit
