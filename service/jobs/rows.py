"""Reading a batch file (NDJSON or CSV) into chunks of rows and per-line errors: the one contract for
a job's upload and for `dialogic score` on this machine.

The parsers are fed the file piece by piece and keep only the unfinished line (or CSV record), so a
200 MB upload never sits in memory: a line or record longer than a row can be is reported, not kept. A
bad line becomes a `LineError` (line number and reason, never the text) and reading goes on; only a CSV
header without `id` and `text`, or a file without a single post, rejects the whole file (`UploadError`).
A UTF-8 byte-order mark at the start (Excel's "CSV UTF-8" writes one) is not part of the first line.
Every row needs an id (a row without one is a line error: results are joined back by id), kept as
given: a JSON number stays a number, a string a string, and a CSV's ids are strings. `chunks` cuts the
rows into the chunks a job is scored in and drops repeated ids, so both paths score the same chunks.
"""

from __future__ import annotations

import csv
import heapq
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime

import msgspec
from msgspec import Struct

from service.schemas import Scores, TextError, check_text

NDJSON = "application/x-ndjson"
CSV = "text/csv"
FORMATS = (NDJSON, CSV)
LINE_SLACK_BYTES = 64 * 1024  # room for the id, author, timestamp and JSON escapes beyond the text
BOM = b"\xef\xbb\xbf"
# Rows are stored as MessagePack, whose integers have 64 bits (signed or not): a numeric id beyond them
# is a line error (as a string, any id works).
ID_RANGE = range(-(2**63), 2**64)
ERRORS_PAGE = 1000  # line errors gathered before they are handed on, however few rows came with them


class InputRow(Struct, array_like=True):
    """A valid row as stored in a chunk; `ts` is created_at in epoch seconds (None when absent)."""

    line: int
    id: str | int
    text: str
    author: str | None
    ts: float | None


class JobResult(Struct):
    """One line of a job's results: the same id/label/scores shape as the synchronous API."""

    id: str | int
    label: str
    scores: Scores


class LineError(Struct, omit_defaults=True):
    line: int
    reason: str
    id: str | int | None = None


class _NdjsonRow(Struct):
    id: str | int
    text: str
    author: str | None = None
    created_at: str | None = None


class UploadError(ValueError):
    """Nothing in the file can be scored: the whole upload is refused (422), not line by line."""


class HeaderError(UploadError):
    """The CSV header lacks a required column."""


class EmptyUpload(UploadError):
    """The file holds no line but blank ones (or only a CSV header)."""


Parsed = InputRow | LineError


def _timestamp(value: str | None) -> float | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)  # ValueError for anything but ISO 8601
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def checked_row(
    line: int, row_id: str | int, text: str, author: str | None, created: str | None, max_chars: int
) -> Parsed:
    """The content rules every reader applies (NDJSON, CSV, and Parquet in bulk scoring): an id, the
    API's text rule, then the timestamp."""
    if row_id == "":
        return LineError(line, "id is empty")
    if isinstance(row_id, int) and row_id not in ID_RANGE:
        return LineError(line, "id is an integer beyond 64 bits; send it as a string")
    try:
        check_text(text, max_chars, truncate=False)
    except TextError as exc:
        return LineError(line, str(exc), row_id)
    try:
        ts = _timestamp(created)
    except ValueError:
        return LineError(line, "created_at is not an ISO 8601 timestamp", row_id)
    return InputRow(line, row_id, text, author or None, ts)


class _Lines:
    """Split a byte stream into numbered physical lines; an over-long line is reported, not buffered."""

    def __init__(self, max_line: int) -> None:
        self.max_line, self.pending, self.number, self.skipping = max_line, b"", 0, False

    def feed(self, data: bytes) -> Iterator[tuple[int, bytes | None]]:
        """Complete lines as (number, bytes); bytes is None for a line over the limit."""
        parts = (self.pending + data).split(b"\n")
        self.pending = parts.pop()
        for part in parts:
            self.number += 1
            yield self.number, None if self.skipping or len(part) > self.max_line else part
            self.skipping = False
        if len(self.pending) > self.max_line:  # keep counting the line, drop its bytes
            self.pending, self.skipping = b"", True

    def close(self) -> Iterator[tuple[int, bytes | None]]:
        if self.pending or self.skipping:
            yield from self.feed(b"\n")


class Parser(ABC):
    """Common driver: `feed` body pieces, then `close`; both yield rows and line errors in order."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.lines = _Lines(max_chars * 6 + LINE_SLACK_BYTES)  # \uXXXX escapes: 6 bytes a character

    def feed(self, data: bytes) -> Iterator[Parsed]:
        yield from self._parse(self.lines.feed(data))

    def close(self) -> Iterator[Parsed]:
        yield from self._parse(self.lines.close())
        yield from self._end()

    def _parse(self, lines: Iterator[tuple[int, bytes | None]]) -> Iterator[Parsed]:
        for number, line in lines:
            yield from self._line(number, line.removeprefix(BOM) if number == 1 and line else line)

    @abstractmethod
    def _line(self, number: int, line: bytes | None) -> Iterator[Parsed]: ...

    def _end(self) -> Iterator[Parsed]:
        return iter(())


class NdjsonParser(Parser):
    decoder = msgspec.json.Decoder(_NdjsonRow)

    def _line(self, number: int, line: bytes | None) -> Iterator[Parsed]:
        if line is None:
            yield LineError(number, "line too long")
            return
        if not line.strip():
            return  # blank lines (a trailing newline, a separator) carry no post
        try:
            row = self.decoder.decode(line)
        except msgspec.ValidationError as exc:
            yield LineError(number, f"invalid row: {exc}")
            return
        except msgspec.DecodeError:
            yield LineError(number, "malformed JSON")
            return
        yield checked_row(number, row.id, row.text, row.author, row.created_at, self.max_chars)


class CsvParser(Parser):
    """RFC 4180 CSV with a header row; a quoted field may span lines, so records are joined first. A
    record is bounded like a line: past that, its quote never closed, and parsing resumes at the next
    line rather than keep the rest of the upload as one field."""

    def __init__(self, max_chars: int) -> None:
        super().__init__(max_chars)
        self.header: list[str] | None = None
        self.record: list[bytes] = []
        self.size = 0  # bytes in the pending record
        self.start = 0  # line number where the pending record began
        self.quotes = 0  # quote characters seen in the pending record: odd means inside a field

    def _line(self, number: int, line: bytes | None) -> Iterator[Parsed]:
        if line is None:
            self.record, self.size, self.quotes = [], 0, 0
            yield LineError(number, "line too long")
            return
        if not self.record:
            self.start = number
        self.record.append(line)
        self.size += len(line) + 1
        self.quotes += line.count(b'"')
        if self.quotes % 2 == 0:
            yield from self._record(self.start, b"\n".join(self.record))
            self.record, self.size, self.quotes = [], 0, 0
        elif self.size > self.lines.max_line:
            yield LineError(
                self.start,
                f"bad CSV row: a quoted field still open at line {number}, past {self.lines.max_line} "
                f"bytes (an unclosed quote?); lines {self.start}-{number} skipped",
            )
            self.record, self.size, self.quotes = [], 0, 0

    def _end(self) -> Iterator[Parsed]:
        if self.record:
            yield LineError(self.start, "bad CSV row: unterminated quoted field")
        if self.header is None:
            raise HeaderError("the CSV file has no header row")

    def _record(self, number: int, raw: bytes) -> Iterator[Parsed]:
        if not raw.strip():
            return
        try:
            fields = next(csv.reader([raw.decode("utf-8").rstrip("\r")], strict=True))
        except (UnicodeDecodeError, csv.Error):
            yield LineError(number, "bad CSV row: not valid UTF-8 CSV")
            return
        if self.header is None:
            self.header = [name.strip().lower() for name in fields]
            if not {"id", "text"} <= set(self.header):
                raise HeaderError("the CSV header must name the columns id and text")
            return
        if len(fields) != len(self.header):
            yield LineError(number, f"bad CSV row: {len(fields)} fields, the header has {len(self.header)}")
            return
        row = dict(zip(self.header, fields, strict=True))
        yield checked_row(
            number, row["id"], row["text"], row.get("author"), row.get("created_at"), self.max_chars
        )


def parser_for(content_type: str, max_chars: int) -> Parser:
    return (NdjsonParser if content_type == NDJSON else CsvParser)(max_chars)


class Chunk(Struct):
    """A chunk's worth of the file: rows to score together, and the line errors met on the way (repeated
    ids included), in line order. Either may be empty."""

    rows: list[InputRow]
    errors: list[LineError]


# Per row: 0 when no earlier row of the file has its id (it is now this row's), else that row's line.
ClaimIds = Callable[[Sequence[InputRow]], Awaitable[Sequence[int]]]


async def chunks(
    pieces: AsyncIterable[bytes], parser: Parser, size: int, claim: ClaimIds
) -> AsyncIterator[Chunk]:
    """The file as chunks of at most `size` rows (a chunk is cut early after ERRORS_PAGE errors), in line
    order. A row whose id an earlier scored row has is a line error, `duplicate id, first seen on line
    N`: ids compare as JSON values (1 and "1" differ). Raises UploadError when nothing can be scored."""
    rows: list[InputRow] = []
    errors: list[LineError] = []
    seen = 0

    async def cut() -> Chunk:
        firsts = await claim(rows) if rows else []
        unique = [row for row, first in zip(rows, firsts, strict=True) if not first]
        repeats = [
            LineError(row.line, f"duplicate id, first seen on line {first}", row.id)
            for row, first in zip(rows, firsts, strict=True)
            if first
        ]
        chunk = Chunk(unique, list(heapq.merge(errors, repeats, key=lambda e: e.line)))
        rows.clear()
        errors.clear()
        return chunk

    def take(parsed: Iterable[Parsed]) -> Iterator[None]:
        """Sort each item into rows or errors; yields whenever a chunk is full."""
        nonlocal seen
        for item in parsed:
            seen += 1
            if isinstance(item, InputRow):
                rows.append(item)
            else:
                errors.append(item)
            if len(rows) >= size or len(errors) >= ERRORS_PAGE:
                yield

    async for piece in pieces:
        for _ in take(parser.feed(piece)):
            yield await cut()
    for _ in take(parser.close()):
        yield await cut()
    if not seen:
        raise EmptyUpload("the file holds no post: it is empty, or has only blank lines or a header")
    if rows or errors:
        yield await cut()
