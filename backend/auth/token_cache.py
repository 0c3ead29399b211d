"""API tokens checked lately, so a script's burst of requests does not query the
database for its caller on each one (that lookup was a third of the API's added
time to first token on the embedded database).

Only tokens that were valid are kept, for `ttl_s`: a revocation made in this
process takes effect at once (the service forgets the user's entries), one
made in another replica or straight in the database within `ttl_s`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from backend.auth.permissions import Principal

MAX_ENTRIES = 10_000


class PrincipalCache:
    def __init__(
        self, ttl_s: float, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock  # seconds that only go forward; a test passes a fake one to step past `ttl_s`
        self._entries: OrderedDict[str, tuple[float, Principal]] = OrderedDict()

    def get(self, token_hash: str) -> Principal | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if self._clock() - entry[0] > self._ttl_s:
            del self._entries[token_hash]
            return None
        return entry[1]

    def put(self, token_hash: str, principal: Principal) -> None:
        if self._ttl_s <= 0:
            return
        self._entries[token_hash] = (self._clock(), principal)
        self._entries.move_to_end(token_hash)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)  # the oldest check

    def forget_user(self, user_id: str) -> None:
        for key in [k for k, (_, p) in self._entries.items() if p.user_id == user_id]:
            del self._entries[key]
