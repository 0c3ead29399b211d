"""LangChain chat models kept for reuse between runs, per connection and request parameters.

A chat model is built from a connection (key, address, HTTP client) and a run's parameters
(temperature, max tokens, seed, options). Building one per run cost about 0.7 ms of CPU on the
path to the first token (LangChain's validators and a new SDK client each time), and the
OpenAI SDK's first request on a new client looks up the platform in a worker thread: a thread
hop per run. Most runs of a model repeat the same parameters, so the model is kept under all of
them and built again only when one differs; a new key, address or HTTP client (another event
loop's) is another entry, and the least recently used entries go past `max_entries`. LangChain
chat models hold no per-call state, so runs share one concurrently. A stored key saved or
deleted in this process drops every kept model (`forget_models`): none holds a key the person
took back.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

M = TypeVar("M")

MAX_MODELS = 256  # a team's distinct (key, model, parameters) in use at once fit many times over


def options_key(options: dict[str, Any]) -> str:
    """A hashable form of a model's keyword options (lists, a JSON schema's dicts)."""
    return json.dumps(options, sort_keys=True, default=str)


class ChatModelCache(Generic[M]):
    def __init__(self, max_entries: int = MAX_MODELS) -> None:
        self._max_entries = max_entries
        self._models: OrderedDict[Hashable, M] = OrderedDict()
        _CACHES.append(self)

    def get(self, key: Hashable, build: Callable[[], M]) -> M:
        """The model kept under `key`, else `build()`'s (kept from now on)."""
        model = self._models.get(key)
        if model is not None:
            self._models.move_to_end(key)
            return model
        model = self._models[key] = build()
        while len(self._models) > self._max_entries:
            self._models.popitem(last=False)
        return model

    def clear(self) -> None:
        self._models.clear()

    def __len__(self) -> int:
        return len(self._models)


_CACHES: list[ChatModelCache[Any]] = []  # one per provider module, made at its import


def forget_models() -> None:
    """Drop every kept model of every provider (a stored key changed: rebuilt at the next run)."""
    for cache in _CACHES:
        cache.clear()
