"""The OpenAPI document (/schema/openapi.json, rendered at /schema): what Litestar generates from the
handlers and Structs, plus what it cannot know by itself.

- The `X-API-Key` scheme, declared whenever DIALOGIC_API_KEYS is set and required by every /v1
  operation (`v1_security`), so that Swagger UI's "Authorize" sends the key and generated clients take it.
- Only the errors the service sends: each handler lists its problems (`problem_responses`), and
  `ProblemsOnly` drops the 400 "ValidationException" that Litestar adds to any operation with a
  parameter, a shape (application/json, `extra`) this service never answers with.
- Request examples written for the docs (`example`), and the upload body of POST /v1/jobs, which the
  handler streams itself rather than declare (`JobUpload`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import (
    Components,
    Example,
    OpenAPIMediaType,
    Operation,
    Reference,
    RequestBody,
    Schema,
    SecurityRequirement,
    SecurityScheme,
)
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType

from service.jobs.rows import NDJSON
from service.schemas import API_KEY_HEADER
from service.settings import Settings
from service.web import swagger_ui

PROBLEM_JSON = "application/problem+json"
API_KEY_SCHEME = "ApiKey"
NDJSON_EXAMPLE = (
    '{"id": 1, "text": "@sam thanks, DM us your order number", "author": "shop", '
    '"created_at": "2026-11-30T09:15:00Z"}\n'
    '{"id": "p-2", "text": "Big sale this weekend! Shop now at example.com", "author": "shop"}\n'
)
CSV_EXAMPLE = (
    "id,text,author,created_at\r\n"
    '1,"@sam thanks, DM us your order number",shop,2026-11-30T09:15:00Z\r\n'
    "p-2,Big sale this weekend! Shop now at example.com,shop,\r\n"
)


def example(summary: str, value: Any) -> list[Example]:
    return [Example(summary=summary, value=value)]


def openapi_config(settings: Settings) -> OpenAPIConfig:
    schemes: dict[str, SecurityScheme | Reference] = {}
    if settings.api_keys:
        schemes[API_KEY_SCHEME] = SecurityScheme(
            type="apiKey",
            name=API_KEY_HEADER,
            security_scheme_in="header",
            description="An API key whose SHA-256 digest is in DIALOGIC_API_KEYS (every /v1 call).",
        )
    return OpenAPIConfig(
        title="Dialogic",
        version="1",
        path="/schema",
        description="Labels social-media posts as broadcast or conversation. Errors are RFC 9457 "
        "problem documents (application/problem+json). The document is at /schema/openapi.json.",
        components=Components(security_schemes=schemes or None),
        render_plugins=[swagger_ui()],  # assets served from /static: works offline
    )


def v1_security(settings: Settings) -> list[SecurityRequirement] | None:
    """What every /v1 operation requires: the key, when keys are configured (the gate enforces it)."""
    return [{API_KEY_SCHEME: []}] if settings.api_keys else None


@dataclass
class ProblemsOnly(Operation):
    """An operation whose documented errors are the problem documents its handler declares."""

    def __post_init__(self) -> None:
        for status, response in list((self.responses or {}).items()):
            content = getattr(response, "content", None) or {}
            if int(status) >= 400 and PROBLEM_JSON not in content:
                del self.responses[status]  # type: ignore[union-attr]


@dataclass
class JobUpload(ProblemsOnly):
    """POST /v1/jobs: the body the handler streams in. Only NDJSON is declared, CSV is described: with two
    raw bodies, openapi-python-client 0.29 generates a module that does not import (and would label
    every upload with the last type)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        text = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY, description="the file of posts")
        self.request_body = RequestBody(
            required=True,
            description="One post per line, as NDJSON objects {id, text, author?, created_at?}. A CSV file "
            "is accepted too, sent as text/csv with a header naming id and text (author and created_at "
            f"optional), for example:\n\n```\n{CSV_EXAMPLE.replace(chr(13), '')}```",
            content={
                NDJSON: OpenAPIMediaType(
                    schema=text, examples={"posts": Example("Two posts", NDJSON_EXAMPLE)}
                )
            },
        )
