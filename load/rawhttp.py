"""A minimal HTTP/1.1 keep-alive client for the bench: a few microseconds of CPU per request.

The bench client shares the 2 CPUs with the server it measures. httpx spends about 5 CPU-ms per
request, more than the server's cached path, so a cached-path figure measured with it is the client's
ceiling. This client writes prebuilt request bytes and reads the status line, the headers up to the
blank line and a Content-Length body; that is all the bench needs of a response (it never follows
redirects, decodes chunked bodies or reuses a connection after an error).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any


class ConnectionClosed(Exception):
    """The server closed the connection, or sent something that is not an HTTP/1.1 response."""


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, f"{host}:{port}")

    async def post_json(self, path: str, body: Any) -> tuple[int, bytes]:
        """(status, body) of one POST with a JSON body."""
        payload = json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        )
        self.writer.write(head.encode() + payload)
        try:
            header = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise ConnectionClosed(str(exc)) from None
        status_line, _, rest = header.partition(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ConnectionClosed(f"not an HTTP response: {status_line[:60]!r}")
        length = 0
        for line in rest.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        try:
            content = await self.reader.readexactly(length)
        except asyncio.IncompleteReadError as exc:
            raise ConnectionClosed(str(exc)) from None
        return int(parts[1]), content

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()
