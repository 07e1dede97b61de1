"""The result-cache interface: one protocol, two backends (Redis, in-process LRU).

A key covers everything that decides a result (model version, normalisation version, normalised
text), so a new model never reads old entries. Backends never raise to callers: a failed lookup is a
miss and a failed write is dropped, because the cache must never be the reason a request fails.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from model.runtime.normalize import NORMALIZE_VERSION

Scores = dict[str, float]


def results_namespace(prefix: str) -> str:
    """What every result key starts with. Other data under `{prefix}:` (rate-limit counters, batch
    jobs) shares the prefix but not this namespace, so a cache flush leaves it alone."""
    return f"{prefix}:r:"


def cache_key(prefix: str, model_version: str, normalized_text: str) -> str:
    digest = hashlib.blake2b(normalized_text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return f"{results_namespace(prefix)}{model_version}:n{NORMALIZE_VERSION}:{digest}"


class ResultCache(Protocol):
    name: str

    async def get_many(self, keys: Sequence[str]) -> list[Scores | None]: ...

    async def set_many(self, items: Mapping[str, Scores]) -> None: ...

    async def flush(self) -> int: ...

    def status(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...
