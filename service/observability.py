"""Structured JSON logs, one object per line, each carrying the request id of the request it belongs to.

Post text is personal data and never reaches a log line: records carry ids, sizes, statuses and timings.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import msgspec
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
request_id: ContextVar[str] = ContextVar("request_id", default="-")
access_log = logging.getLogger("dialogic.access")


_JSON = msgspec.json.Encoder(enc_hook=str)  # anything msgspec cannot encode is logged as its str()
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Renders a record as JSON; anything passed via `extra={...}` becomes a top-level key."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        out.update({k: v for k, v in vars(record).items() if k not in _RECORD_ATTRS})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return _JSON.encode(out).decode()


def _stamp_request_id(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    if getattr(factory, "stamps_request_id", False):
        return factory

    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.request_id = request_id.get()  # at creation: handlers may format after the request ended
        return record

    make.stamps_request_id = True  # type: ignore[attr-defined]
    return make


def configure_logging(level: str) -> None:
    # Fields the formatter never writes, skipped when each record is made (the logging HOWTO's
    # "Optimization" list): every request logs an access line.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None  # no caller lookup (file, line) per record
    logging.setLogRecordFactory(_stamp_request_id(logging.getLogRecordFactory()))
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def _client_request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            candidate = value.decode("latin-1")
            # Only short printable ids are trusted; anything else could smuggle data into the logs.
            if 0 < len(candidate) <= 128 and candidate.isprintable():
                return candidate
    return os.urandom(16).hex()  # as random as uuid4().hex, without building a UUID per request


ResponseRecorder = Callable[[Scope, int, float], None]


class RequestContextMiddleware(ASGIMiddleware):
    """Assigns the request id (client's X-Request-ID or a new one), echoes it, logs one access line, and
    hands status and duration to `record` (metrics), so one wrapper and one timer serve all three."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, record: ResponseRecorder | None = None) -> None:
        self.record = record

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        rid = _client_request_id(scope)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500
        header = (REQUEST_ID_HEADER.encode(), rid.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]  # no handler sets this one
            await send(message)

        try:
            await next_app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            if self.record is not None:
                self.record(scope, status, seconds)
            access_log.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )
            request_id.reset(token)
