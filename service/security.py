"""API keys, rate limits and the request deadline for /v1, in one middleware in front of the routes.

Keys: clients send `X-API-Key`; the service only ever holds SHA-256 hex digests of the accepted keys
(`DIALOGIC_API_KEYS`, comma-separated, so a key is rotated by adding the new digest, deploying, then
removing the old one). A presented key is hashed and compared with every digest in constant time, so
neither the match nor its position leaks through timing. Unset: /v1 is open (one warning at startup).
The front page, health, /metrics and /schema are outside /v1 and always open: probes and scrapers carry
no key.

Make a digest: `dialogic hash-key KEY` or `python -m service.security hash KEY`.

Deadline: every classify request must finish within `DIALOGIC_REQUEST_TIMEOUT_S`. A client that will
wait less says so in `X-Request-Timeout-Ms`; past that, its texts still queued for the model are dropped
unscored (a client that gave up must not cost the CPU that others are waiting for) and the answer, if
anyone still listens, is the same 503 problem.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import sys
import time
from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware

from service.errors import (
    INVALID_REQUEST,
    REQUEST_TIMEOUT,
    RETRY_AFTER_S,
    TOO_MANY_REQUESTS,
    UNAUTHORIZED,
    send_problem,
)
from service.schemas import API_KEY_HEADER

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from service.ratelimit import RateLimiter

PROTECTED_PREFIX = "/v1/"
DEADLINE_OPT = "request_deadline"  # handler opt: the request deadline applies (bounded JSON requests)
TIMEOUT_HEADER = "X-Request-Timeout-Ms"  # the client's own deadline: milliseconds from arrival
CLIENT_DEADLINE = "dialogic_client_deadline"  # where the gate leaves it for the handler, in scope["state"]
CALLER_KEY = "dialogic_api_key"  # where the gate leaves the caller's key id for the handler, likewise
_MILLISECONDS = re.compile(r"[0-9]{1,9}")  # nine digits bound the parse; the server's own limit caps it
MAX_TIMEOUT_MS = 10**9 - 1  # the largest value _MILLISECONDS admits (for the OpenAPI schema)
_DIGEST = re.compile(r"[0-9a-f]{64}")
log = logging.getLogger("dialogic.security")


def client_ip(request: Request) -> str:
    """The client's address, the rate limits' key without an API key. Behind a proxy it is the proxy's
    unless uvicorn trusts it to forward the client's (FORWARDED_ALLOW_IPS)."""
    return request.client.host if request.client else "unknown"


def client_timeout_s(raw: str | None) -> float | None:
    """An X-Request-Timeout-Ms value in seconds (None when absent). Raises ValueError unless it is a
    whole number of milliseconds, at least 1."""
    if raw is None:
        return None
    if not _MILLISECONDS.fullmatch(raw) or int(raw) < 1:
        raise ValueError(f"{TIMEOUT_HEADER} must be a whole number of milliseconds, at least 1; got {raw!r}.")
    return int(raw) / 1000


def caller_key(request: Request[Any, Any, Any]) -> str | None:
    """The id of the API key this request came with (see `KeyRing.identify`); None when /v1 is open."""
    key_id: str | None = request.scope["state"].get(CALLER_KEY)
    return key_id


def client_deadline(request: Request[Any, Any, Any]) -> float | None:
    """The client's deadline for this request as a time.monotonic() instant, or None when it set none
    shorter than the server's own."""
    deadline: float | None = request.scope["state"].get(CLIENT_DEADLINE)
    return deadline


def hash_key(key: str) -> str:
    """The digest to put in DIALOGIC_API_KEYS for `key`."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class KeyRing:
    """The accepted key digests; `identify` names the caller by a digest prefix, never by the key."""

    def __init__(self, digests: list[str]) -> None:
        if not digests:
            raise ValueError("DIALOGIC_API_KEYS is set but lists no digest")
        for digest in digests:
            if not _DIGEST.fullmatch(digest):
                raise ValueError(
                    "DIALOGIC_API_KEYS must list SHA-256 hex digests (64 lowercase hex "
                    "characters, see `dialogic hash-key`), not keys"
                )
        self.digests = digests

    @classmethod
    def from_setting(cls, raw: str | None) -> KeyRing | None:
        if raw is None:
            return None
        return cls([d.strip().lower() for d in raw.split(",") if d.strip()])

    def identify(self, presented: str | None) -> str | None:
        """The caller's id (`key:` + 12 hex of its digest), or None when the key is missing or unknown."""
        if not presented:
            return None
        digest = hash_key(presented)
        match = None
        for candidate in self.digests:  # no early exit: the time taken does not depend on which matched
            if hmac.compare_digest(candidate, digest):
                match = candidate
        return None if match is None else f"key:{match[:12]}"


class ApiGateMiddleware(ASGIMiddleware):
    """On /v1/*: 401 without a valid key, 429 over the rate limit (RateLimit-* headers on every answer),
    and a 503 problem when a request marked with DEADLINE_OPT runs past `timeout_s` (or the client's
    shorter X-Request-Timeout-Ms, which it hands on to the handler), slow body included.

    Refusals are rendered here, inside the request-id middleware, so they carry the request id and get
    an access-log line like any other answer."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, keys: KeyRing | None, limiter: RateLimiter | None, timeout_s: float) -> None:
        self.keys, self.limiter, self.timeout_s = keys, limiter, timeout_s
        if keys is None:
            log.warning(
                "DIALOGIC_API_KEYS is unset: /v1 is open to anyone who can reach it",
                extra={"event": "api_keys_unset"},
            )

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if not scope["path"].startswith(PROTECTED_PREFIX):
            await next_app(scope, receive, send)
            return
        request: Request = Request(scope, receive)
        client = client_ip(request)
        if self.keys is not None:
            key_id = self.keys.identify(request.headers.get(API_KEY_HEADER))
            if key_id is None:
                detail = "Send a valid API key in the X-API-Key header."
                await send_problem(
                    request,
                    send,
                    UNAUTHORIZED.exception(detail, headers={"WWW-Authenticate": 'ApiKey header="X-API-Key"'}),
                )
                return
            client = scope["state"][CALLER_KEY] = key_id
        headers: dict[str, str] = {}
        if self.limiter is not None:
            decision = await self.limiter.hit(client)
            headers = decision.headers()
            if not decision.allowed:
                await send_problem(
                    request,
                    send,
                    TOO_MANY_REQUESTS.exception(
                        f"More than {decision.limit} requests a minute; retry in {decision.reset_s} s.",
                        headers=headers,
                    ),
                )
                return
        started = False

        extra = [(name.lower().encode(), value.encode()) for name, value in headers.items()]

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if extra:  # names no handler sets: appending is enough
                    message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        if not scope["route_handler"].opt.get(DEADLINE_OPT):
            await next_app(scope, receive, send_with_headers)
            return
        try:
            asked_s = client_timeout_s(request.headers.get(TIMEOUT_HEADER))
        except ValueError as exc:
            await send_problem(request, send_with_headers, INVALID_REQUEST.exception(str(exc)))
            return
        timeout_s = self.timeout_s
        if asked_s is not None and asked_s < timeout_s:  # a longer one than the server's changes nothing
            timeout_s = asked_s
            scope["state"][CLIENT_DEADLINE] = time.monotonic() + asked_s
        try:
            async with asyncio.timeout(timeout_s):
                await next_app(scope, receive, send_with_headers)
        except TimeoutError:
            if started:  # too late for a problem document: the client sees the connection close
                raise
            await send_problem(
                request,
                send_with_headers,
                REQUEST_TIMEOUT.exception(
                    f"The request did not complete within {timeout_s:g} s; retry shortly.",
                    headers={"Retry-After": str(RETRY_AFTER_S)},
                ),
            )


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "hash":
        print("usage: python -m service.security hash KEY", file=sys.stderr)
        return 2
    print(hash_key(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
