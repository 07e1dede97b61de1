"""Request and response bodies as msgspec Structs: they are the OpenAPI schema and the wire format.

Requests forbid unknown fields so a typo ("txt") fails loudly instead of scoring an empty default.
Batch items arrive as raw objects and are validated one by one, so one bad item cannot sink the batch.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Struct

API_KEY_HEADER = "X-API-Key"  # carries a client's API key (checked by service/security.py)


class ClassifyRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    text: str
    id: str | None = None
    truncate: bool = False


class BatchRequest(Struct, forbid_unknown_fields=True):
    items: list[Any]  # each a ClassifyRequest object; validated individually


class Scores(Struct):
    broadcast: float
    conversation: float


class ModelRef(Struct):
    name: str
    version: str


class ClassifyResult(Struct):
    id: str
    label: str
    scores: Scores
    model: ModelRef
    cached: bool


class Problem(Struct):
    type: str
    title: str
    status: int
    detail: str


class BatchItem(Struct, omit_defaults=True):
    """One slot of a batch answer: a result's fields, or `error` (a problem object). One struct rather
    than a union because OpenAPI generation needs tagged unions, and a tag would change the wire shape."""

    id: str | None
    label: str | None = None
    scores: Scores | None = None
    model: ModelRef | None = None
    cached: bool | None = None
    error: Problem | None = None


class BatchResponse(Struct):
    results: list[BatchItem]


class ModelInfo(Struct):
    name: str
    version: str
    labels: list[str]
    backend: str
    metrics: dict[str, Any]


class Liveness(Struct):
    status: str


class Readiness(Struct):
    status: str
    model: dict[str, Any]
    cache: dict[str, Any]
    jobs: dict[str, Any]  # the job store: {"backend": null} without Redis, else its state ("up", "down")
    workers: dict[str, Any]  # job workers: {"alive": n, "last_heartbeat": ISO 8601}; alive null: unknown
    queue_depth: int


class TextError(ValueError):
    """A well-formed text the model must not score (empty, whitespace only, too long): 422 in the API,
    a skipped line in the CLI."""


def check_text(text: str, max_chars: int, truncate: bool) -> str:
    """The one content rule for a text, shared by the API and the CLI; returns the text to score.

    A text of only spaces, zero-width or control characters normalises to nothing: it is empty too."""
    if not any(ch.isprintable() and not ch.isspace() for ch in text):  # stops at the first visible one
        raise TextError("text is empty or has only whitespace, invisible or control characters")
    if len(text) > max_chars:
        if not truncate:
            raise TextError(f"text has {len(text)} characters, more than the limit of {max_chars}")
        return text[:max_chars]
    return text


def to_scores(scores: dict[str, float]) -> Scores:
    return msgspec.convert(scores, Scores)
