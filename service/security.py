"""API keys and rate limits for /v1, in one middleware in front of the routes.

Keys: clients send `X-API-Key`; the service only ever holds SHA-256 hex digests of the accepted keys
(`DIALOGIC_API_KEYS`, comma-separated, so a key is rotated by adding the new digest, deploying, then
removing the old one). A presented key is hashed and compared with every digest in constant time, so
neither the match nor its position leaks through timing. Unset: /v1 is open (one warning at startup).
The front page, health, /metrics and /schema are outside /v1 and always open: probes and scrapers carry
no key.

Make a digest: `dialogic hash-key KEY` or `python -m service.security hash KEY`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import sys
from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware

from service.errors import TOO_MANY_REQUESTS, UNAUTHORIZED, send_problem
from service.schemas import API_KEY_HEADER

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from service.ratelimit import RateLimiter

PROTECTED_PREFIX = "/v1/"
CALLER_KEY = "dialogic_api_key"  # where the gate leaves the caller's key id for the handler, likewise
_DIGEST = re.compile(r"[0-9a-f]{64}")
log = logging.getLogger("dialogic.security")


def client_ip(request: Request) -> str:
    """The client's address, the rate limits' key without an API key. Behind a proxy it is the proxy's
    unless uvicorn trusts it to forward the client's (FORWARDED_ALLOW_IPS)."""
    return request.client.host if request.client else "unknown"


def caller_key(request: Request[Any, Any, Any]) -> str | None:
    """The id of the API key this request came with (see `KeyRing.identify`); None when /v1 is open."""
    key_id: str | None = request.scope["state"].get(CALLER_KEY)
    return key_id


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
    """On /v1/*: 401 without a valid key, 429 over the rate limit (RateLimit-* headers on every answer,
    the request deadline's problems included: service/deadline.py runs inside this).

    Refusals are rendered here, inside the request-id middleware, so they carry the request id and get
    an access-log line like any other answer."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, keys: KeyRing | None, limiter: RateLimiter | None) -> None:
        self.keys, self.limiter = keys, limiter
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
        if not headers:
            await next_app(scope, receive, send)
            return
        extra = [(name.lower().encode(), value.encode()) for name, value in headers.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":  # names no handler sets: appending is enough
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await next_app(scope, receive, send_with_headers)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "hash":
        print("usage: python -m service.security hash KEY", file=sys.stderr)
        return 2
    print(hash_key(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
