"""How request bodies arrive and are read, on every route: the rules no handler should have to repeat.

- Encoding: bodies are read as sent. One with a Content-Encoding (gzip, br, ...) is refused with a 415
  problem and `Accept-Encoding: identity` (RFC 7694), instead of being misread as malformed JSON or as a
  CSV of binary; decompressing it would need its own bound on the inflated size.
- Time: a body must arrive within `body_timeout_s`, plus a second for every `body_min_rate` bytes it
  has sent (Apache's mod_reqtimeout rule), so a client that sends headers and then trickles or stops
  holds its connection that long and gets a 408 problem. Only time spent waiting on the client counts,
  not time the handler spends on what it already has (a job upload writing to Redis).
- JSON numbers: one too large for a float (1e999) decodes as infinity, so that the schema rejects the
  field that holds it, not the decoder the whole body: a batch keeps its other items.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import SerializationException
from litestar.middleware import ASGIMiddleware
from litestar.types import Empty

from service.errors import BODY_TIMEOUT, UNSUPPORTED_MEDIA_TYPE, send_problem

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

_JSON = msgspec.json.Decoder(float_hook=float)  # float("1e999") is inf, where msgspec would refuse it


class JsonRequest(Request[Any, Any, Any]):
    """The app's request class: its JSON body decoded with any JSON number allowed (see above)."""

    async def json(self) -> Any:
        if self._json is Empty:
            try:
                self._json = _JSON.decode(await self.body() or b"null")
            except msgspec.DecodeError as exc:
                raise SerializationException(str(exc)) from exc
        return self._json


class _Deadline:
    """A `receive` that bounds how long the body takes to arrive (see the module docstring). One timer
    per wait, cancelled when the wait ends: asyncio.timeout costs twice as much, on every request."""

    def __init__(self, receive: Receive, timeout_s: float, min_rate: int) -> None:
        self.next, self.left_s, self.min_rate = receive, timeout_s, min_rate
        self.complete = self.expired = False
        self.task: asyncio.Task[Any] | None = None

    def _expire(self) -> None:
        self.expired = True
        assert self.task is not None
        self.task.cancel()

    async def __call__(self) -> ReceiveMessage:
        if self.complete:  # later calls wait for a disconnect, which takes as long as it takes
            return await self.next()
        loop, self.task = asyncio.get_running_loop(), asyncio.current_task()
        started = loop.time()
        timer = loop.call_at(started + self.left_s, self._expire)
        try:
            message = await self.next()
        except asyncio.CancelledError:
            if self.expired and self.task is not None and self.task.uncancel() == 0:  # ours, only ours
                raise BODY_TIMEOUT.exception(
                    "The request body did not arrive in time; send it without pauses."
                ) from None
            raise
        finally:
            timer.cancel()
        self.left_s -= loop.time() - started
        if message["type"] == "http.request":
            self.left_s += len(message.get("body", b"")) / self.min_rate
            self.complete = not message.get("more_body", False)
        else:
            self.complete = True
        return message


class BodyMiddleware(ASGIMiddleware):
    """The encoding and time rules for every HTTP request (see the module docstring)."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, timeout_s: float, min_rate: int) -> None:
        self.timeout_s, self.min_rate = timeout_s, min_rate

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        for name, value in scope["headers"]:
            if name == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
                sent = value.decode("latin-1")
                exc = UNSUPPORTED_MEDIA_TYPE.exception(
                    f"Content-Encoding {sent} is not accepted: send the body uncompressed.",
                    headers={"Accept-Encoding": "identity"},
                )
                await send_problem(Request(scope, receive), send, exc)
                return
        await next_app(scope, _Deadline(receive, self.timeout_s, self.min_rate), send)
