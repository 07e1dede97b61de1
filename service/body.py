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
import time
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
    """A `receive` that bounds how long the body takes to arrive (see the module docstring)."""

    def __init__(self, receive: Receive, timeout_s: float, min_rate: int) -> None:
        self.next, self.left_s, self.min_rate = receive, timeout_s, min_rate
        self.complete = False

    async def __call__(self) -> ReceiveMessage:
        if self.complete:  # later calls wait for a disconnect, which takes as long as it takes
            return await self.next()
        started = time.monotonic()
        try:
            async with asyncio.timeout(max(self.left_s, 0.0)):
                message = await self.next()
        except TimeoutError:
            raise BODY_TIMEOUT.exception(
                "The request body did not arrive in time; send it without pauses."
            ) from None
        self.left_s -= time.monotonic() - started
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
        encodings = [
            token.strip().lower()
            for name, value in scope["headers"]
            if name == b"content-encoding"
            for token in value.decode("latin-1").split(",")
        ]
        if any(token not in ("", "identity") for token in encodings):
            exc = UNSUPPORTED_MEDIA_TYPE.exception(
                f"Content-Encoding {', '.join(encodings)} is not accepted: send the body uncompressed.",
                headers={"Accept-Encoding": "identity"},
            )
            await send_problem(Request(scope, receive), send, exc)
            return
        await next_app(scope, _Deadline(receive, self.timeout_s, self.min_rate), send)
