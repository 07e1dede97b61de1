"""Every error leaves the service one way: an RFC 9457 problem document (application/problem+json).

Litestar's own exceptions (404, 405, 413, malformed JSON, schema validation) and ours are all mapped
here, so clients parse one shape and tests check one shape. Status choices, documented in docs/api.md:
schema errors (wrong type, unknown or missing field, malformed JSON) are 400, as Litestar's validation
reports them; well-formed but unacceptable text (empty, whitespace, too long) is 422; a batch with more
items than allowed is 413, like an oversized body; a full model queue, a missed model deadline or a
request past its deadline is 503 with Retry-After; a missing or unknown API key is 401, a client over
its rate limit 429 with Retry-After; a body that arrives too slowly is 408, a compressed one 415;
anything unexpected is a 500 whose detail never echoes the request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)

from service.inference.batcher import DeadlineExceeded, Overloaded
from service.schemas import Problem

if TYPE_CHECKING:
    from litestar.types import Send

log = logging.getLogger("dialogic.errors")

TYPE_BASE = "/problems/"
RETRY_AFTER_S = 1


@dataclass(frozen=True)
class ProblemKind:
    """One kind of problem: raised for a whole request, or embedded in a batch slot, with one shape."""

    status: int
    slug: str
    title: str

    def body(self, detail: str) -> Problem:
        return Problem(type=TYPE_BASE + self.slug, title=self.title, status=self.status, detail=detail)

    def exception(
        self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> ProblemDetailsException:
        """The exception the ProblemDetailsPlugin renders; `extra` become extension members."""
        return ProblemDetailsException(
            status_code=self.status,
            type_=TYPE_BASE + self.slug,
            title=self.title,
            detail=detail,
            headers=headers,
            extra=extra or None,
        )


INVALID_REQUEST = ProblemKind(400, "invalid-request", "Invalid request")
INVALID_TEXT = ProblemKind(422, "invalid-text", "Invalid text")
TOO_MANY_ITEMS = ProblemKind(413, "too-many-items", "Too many items")
UNSUPPORTED_MEDIA_TYPE = ProblemKind(415, "unsupported-media-type", "Unsupported media type")
NOT_READY = ProblemKind(503, "not-ready", "Not ready")
OVERLOADED = ProblemKind(503, "overloaded", "Service overloaded")
TIMEOUT = ProblemKind(503, "timeout", "Model timeout")
REQUEST_TIMEOUT = ProblemKind(503, "request-timeout", "Request timeout")
UNAUTHORIZED = ProblemKind(401, "unauthorized", "Missing or invalid API key")
TOO_MANY_REQUESTS = ProblemKind(429, "rate-limited", "Too many requests")
BODY_TIMEOUT = ProblemKind(408, "body-timeout", "Request body too slow")
INTERNAL = ProblemKind(500, "internal", "Internal server error")
_RETRY = {"Retry-After": str(RETRY_AFTER_S)}


async def send_problem(request: Request[Any, Any, Any], send: Send, exc: ProblemDetailsException) -> None:
    """Answer with `exc`'s problem document from a middleware, in front of the routes' own handling."""
    response = exc.to_response(request).to_asgi_response(app=None, request=request)
    await response(request.scope, request.receive, send)


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problems a handler answers: application/problem+json, where Litestar
    would otherwise document its 400 as application/json and leave the others out."""
    return {
        status: ResponseSpec(
            Problem,
            description=HTTPStatus(status).phrase,
            generate_examples=False,
            media_type="application/problem+json",
        )
        for status in statuses
    }


def _from_http(exc: HTTPException) -> ProblemDetailsException:
    if isinstance(exc, ValidationException):
        errors = exc.extra if isinstance(exc.extra, list) else []
        sources = {e.get("source") for e in errors if isinstance(e, dict)}
        detail = (
            "The query parameters do not match the schema."  # each error names its `key`
            if sources == {"query"}
            else "The request body does not match the schema."
        )
        return INVALID_REQUEST.exception(detail, errors=errors)
    phrase = HTTPStatus(exc.status_code).phrase
    return ProblemDetailsException(
        status_code=exc.status_code,
        type_="about:blank",
        title=phrase,
        detail=exc.detail or phrase,
        headers=exc.headers,
    )


def _from_overloaded(exc: Overloaded) -> ProblemDetailsException:
    return OVERLOADED.exception("The model queue is full; retry shortly.", headers=_RETRY)


def _from_deadline(exc: DeadlineExceeded) -> ProblemDetailsException:
    return TIMEOUT.exception("The model could not answer within the request deadline.", headers=_RETRY)


def _from_undecodable(exc: RecursionError | UnicodeDecodeError) -> ProblemDetailsException:
    """msgspec raises these, not a DecodeError, for JSON nested deeper than it parses or not UTF-8."""
    what = "nested too deeply" if isinstance(exc, RecursionError) else "not valid UTF-8"
    return INVALID_REQUEST.exception(f"The request body is {what}.")


def _from_unexpected(exc: Exception) -> ProblemDetailsException:
    log.error("unhandled error", exc_info=exc)
    return INTERNAL.exception("An unexpected error occurred.")


def problem_details_plugin() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(
            exception_to_problem_detail_map={
                HTTPException: _from_http,
                Overloaded: _from_overloaded,
                DeadlineExceeded: _from_deadline,
                RecursionError: _from_undecodable,
                UnicodeDecodeError: _from_undecodable,
                Exception: _from_unexpected,
            }
        )
    )
