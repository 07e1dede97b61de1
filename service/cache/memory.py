"""In-process LRU result cache: the default without Redis, and per replica only (not shared)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from service.cache.base import Scores


class MemoryCache:
    name = "memory"

    def __init__(self, max_entries: int, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries, self.ttl_s, self.clock = max_entries, ttl_s, clock
        self._data: OrderedDict[str, tuple[float, Scores]] = OrderedDict()

    async def get_many(self, keys: Sequence[str]) -> list[Scores | None]:
        now = self.clock()
        out: list[Scores | None] = []
        for key in keys:
            entry = self._data.get(key)
            if entry is None:
                out.append(None)
            elif entry[0] <= now:  # expired: drop lazily
                del self._data[key]
                out.append(None)
            else:
                self._data.move_to_end(key)
                out.append(dict(entry[1]))  # a copy: callers must not mutate the cached entry
        return out

    async def set_many(self, items: Mapping[str, Scores]) -> None:
        expires = self.clock() + self.ttl_s
        for key, scores in items.items():
            self._data[key] = (expires, dict(scores))
            self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    async def flush(self) -> int:
        count = len(self._data)
        self._data.clear()
        return count

    def status(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "state": "up",
            "entries": len(self._data),
            "max_entries": self.max_entries,
        }

    async def close(self) -> None:
        self._data.clear()
