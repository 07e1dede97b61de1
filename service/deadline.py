"""The request deadline: every classify request finishes within `DIALOGIC_REQUEST_TIMEOUT_S`, or sooner.

A client that will wait less says so in `X-Request-Timeout-Ms`; past that, its texts still queued for
the model are dropped unscored (a client that gave up must not cost the CPU that others are waiting
for) and the answer, if anyone still listens, is the same 503 problem. Handlers opt in with
DEADLINE_OPT (bounded JSON requests): an upload streams for as long as it takes.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware

from service.errors import INVALID_REQUEST, REQUEST_TIMEOUT, RETRY_AFTER_S, send_problem

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

DEADLINE_OPT = "request_deadline"  # handler opt: the request deadline applies (bounded JSON requests)
TIMEOUT_HEADER = "X-Request-Timeout-Ms"  # the client's own deadline: milliseconds from arrival
CLIENT_DEADLINE = "dialogic_client_deadline"  # where it is left for the handler, in scope["state"]
_MILLISECONDS = re.compile(r"[0-9]{1,9}")  # nine digits bound the parse; the server's own limit caps it
MAX_TIMEOUT_MS = 10**9 - 1  # the largest value _MILLISECONDS admits (for the OpenAPI schema)


def client_timeout_s(raw: str | None) -> float | None:
    """An X-Request-Timeout-Ms value in seconds (None when absent). Raises ValueError unless it is a
    whole number of milliseconds, at least 1."""
    if raw is None:
        return None
    if not _MILLISECONDS.fullmatch(raw) or int(raw) < 1:
        raise ValueError(f"{TIMEOUT_HEADER} must be a whole number of milliseconds, at least 1; got {raw!r}.")
    return int(raw) / 1000


def client_deadline(request: Request[Any, Any, Any]) -> float | None:
    """The client's deadline for this request as a time.monotonic() instant, or None when it set none
    shorter than the server's own."""
    deadline: float | None = request.scope["state"].get(CLIENT_DEADLINE)
    return deadline


class DeadlineMiddleware(ASGIMiddleware):
    """A 503 problem when a request marked with DEADLINE_OPT runs past `timeout_s` (or the client's
    shorter X-Request-Timeout-Ms, which it hands on to the handler), slow body included; a 400 problem
    for a malformed X-Request-Timeout-Ms."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if not scope["route_handler"].opt.get(DEADLINE_OPT):
            await next_app(scope, receive, send)
            return
        request: Request = Request(scope, receive)
        try:
            asked_s = client_timeout_s(request.headers.get(TIMEOUT_HEADER))
        except ValueError as exc:
            await send_problem(request, send, INVALID_REQUEST.exception(str(exc)))
            return
        timeout_s = self.timeout_s
        if asked_s is not None and asked_s < timeout_s:  # a longer one than the server's changes nothing
            timeout_s = asked_s
            scope["state"][CLIENT_DEADLINE] = time.monotonic() + asked_s
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            async with asyncio.timeout(timeout_s):
                await next_app(scope, receive, tracked)
        except TimeoutError:
            if started:  # too late for a problem document: the client sees the connection close
                raise
            await send_problem(
                request,
                send,
                REQUEST_TIMEOUT.exception(
                    f"The request did not complete within {timeout_s:g} s; retry shortly.",
                    headers={"Retry-After": str(RETRY_AFTER_S)},
                ),
            )
