"""POST /v1/classify and /v1/classify/batch: validate, score through the Scorer, shape the response.

The handlers take one dependency, the runtime: with several, Litestar resolves them concurrently in
a task group, which cost more than the rest of a cached request's handler (docs/performance.md).

Batch items are validated one by one (same struct, same content rule as the single endpoint), so a
bad item becomes an error object in its slot while its neighbours are scored.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, HeaderParameter

from model.runtime.classifier import Classifier
from service.deadline import DEADLINE_OPT, MAX_TIMEOUT_MS, TIMEOUT_HEADER, client_deadline
from service.errors import (
    INVALID_REQUEST,
    INVALID_TEXT,
    TOO_MANY_ITEMS,
    UNSUPPORTED_MEDIA_TYPE,
    problem_responses,
)
from service.openapi import example
from service.runtime import Runtime
from service.schemas import (
    BatchItem,
    BatchRequest,
    BatchResponse,
    ClassifyRequest,
    ClassifyResult,
    ModelRef,
    TextError,
    check_text,
    to_scores,
)
from service.scoring import Scored

R = TypeVar("R", ClassifyResult, BatchItem)
PROBLEMS = problem_responses(400, 401, 408, 413, 415, 422, 429, 503)
OnePost = Annotated[
    ClassifyRequest,
    Body(
        media_type=RequestEncodingType.JSON,
        examples=example("A brand's reply", {"text": "@sam thanks, DM us your order number", "id": "post-1"}),
    ),
]
ManyPosts = Annotated[
    BatchRequest,
    Body(
        media_type=RequestEncodingType.JSON,
        examples=example(
            "A promotion and a reply",
            {
                "items": [
                    {"id": "a", "text": "Big sale this weekend! Shop now at example.com"},
                    {"id": "b", "text": "@lee sorry about the wait, is the parcel there now?"},
                ]
            },
        ),
    ),
]


async def require_json(request: Request[Any, Any, Any]) -> None:
    """415 unless the body is declared JSON: Litestar would otherwise parse any media type as JSON.
    Async on purpose: Litestar runs a sync before_request hook in a worker thread, per request."""
    media_type = request.content_type[0]
    if media_type != "application/json" and not media_type.endswith("+json"):
        sent = media_type or "no Content-Type"
        raise UNSUPPORTED_MEDIA_TYPE.exception(f"Send application/json, not {sent}.")


def _result(kind: type[R], item_id: str | None, scored: Scored, classifier: Classifier) -> R:
    return kind(
        id=item_id or secrets.token_hex(16),  # as random as uuid4().hex, and cheaper
        label=scored.label,
        scores=to_scores(scored.scores),
        model=ModelRef(classifier.name, classifier.version),
        cached=scored.cached,
    )


def _raw_id(raw: Any) -> str | None:
    value = raw.get("id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


class ClassifyController(Controller):
    path = "/v1/classify"
    tags = ["classify"]  # noqa: RUF012  (Litestar reads this class attribute)
    opt = {DEADLINE_OPT: True}  # noqa: RUF012  (bounded JSON bodies: the whole request has a deadline)
    # Documents the client deadline in the OpenAPI schema; the gate (service/security.py) enforces it.
    parameters = {  # noqa: RUF012  (Litestar reads this class attribute)
        "request_timeout_ms": HeaderParameter(
            annotation=int,
            name=TIMEOUT_HEADER,
            required=False,
            ge=1,
            le=MAX_TIMEOUT_MS,
            description="How long you will wait, in milliseconds (at most the server's own limit). Past "
            "it, texts still queued are dropped unscored and the answer is a 503 problem.",
            examples=example("Two seconds", 2000),
        )
    }

    @post("/", status_code=200, before_request=require_json, summary="Label one post", responses=PROBLEMS)
    async def classify(
        self,
        request: Request[Any, Any, Any],
        data: OnePost,
        runtime: NamedDependency[Runtime],
    ) -> ClassifyResult:
        classifier, scorer = runtime.ready()
        try:
            text = check_text(data.text, runtime.settings.max_chars, data.truncate)
        except TextError as exc:
            raise INVALID_TEXT.exception(str(exc)) from None
        [scored] = await scorer.score([text], client_deadline(request))
        return _result(ClassifyResult, data.id, scored, classifier)

    @post(
        "/batch",
        status_code=200,
        before_request=require_json,
        responses=PROBLEMS,
        summary="Label many posts; invalid items get an error in their slot",
    )
    async def classify_batch(
        self,
        request: Request[Any, Any, Any],
        data: ManyPosts,
        runtime: NamedDependency[Runtime],
    ) -> BatchResponse:
        classifier, scorer = runtime.ready()
        settings = runtime.settings
        if len(data.items) > settings.max_batch:
            raise TOO_MANY_ITEMS.exception(f"{len(data.items)} items; at most {settings.max_batch} allowed.")
        results: list[BatchItem | None] = [None] * len(data.items)
        valid: list[tuple[int, ClassifyRequest, str]] = []
        for i, raw in enumerate(data.items):
            try:
                # strict=False matches how Litestar converts the single endpoint's body.
                item = msgspec.convert(raw, ClassifyRequest, strict=False)
            except msgspec.ValidationError as exc:
                results[i] = BatchItem(_raw_id(raw), error=INVALID_REQUEST.body(str(exc)))
                continue
            try:
                valid.append((i, item, check_text(item.text, settings.max_chars, item.truncate)))
            except TextError as exc:
                results[i] = BatchItem(item.id, error=INVALID_TEXT.body(str(exc)))
        scored = await scorer.score([text for _, _, text in valid], client_deadline(request))
        for (i, item, _), one in zip(valid, scored, strict=True):
            results[i] = _result(BatchItem, item.id, one, classifier)
        return BatchResponse([r for r in results if r is not None])
