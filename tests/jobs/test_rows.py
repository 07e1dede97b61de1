"""Upload parsing and the summary, without Redis: pure functions over bytes and rows."""

from __future__ import annotations

import pytest

from service.jobs.rows import CSV, NDJSON, HeaderError, InputRow, LineError, Parsed, parser_for
from service.jobs.summary import AuthorSummary, Post, summarize


def parse(content_type: str, body: bytes, piece: int = 7, max_chars: int = 50) -> list[Parsed]:
    """Feed `body` in small pieces, as a network would, so lines straddle the pieces."""
    parser = parser_for(content_type, max_chars)
    out = [item for start in range(0, len(body), piece) for item in parser.feed(body[start : start + piece])]
    return out + list(parser.close())


def test_ndjson_rows_and_errors_keep_their_line_numbers() -> None:
    body = (
        b'{"id": 1, "text": "hi @ann", "author": "bo", "created_at": "2024-01-01T00:00:00"}\n'
        b"not json\n"
        b'{"id": "x", "text": 5}\n'
        b"\n"
        b'{"id": "", "text": "no id"}\n'
        b'{"id": "y", "text": "last line without a newline"}'
    )
    assert parse(NDJSON, body) == [
        InputRow(1, 1, "hi @ann", "bo", 1704067200.0),
        LineError(2, "malformed JSON"),
        LineError(3, "invalid row: Expected `str`, got `int` - at `$.text`"),
        LineError(5, "id is empty"),
        InputRow(6, "y", "last line without a newline", None, None),
    ]


def test_an_over_long_line_is_an_error_not_a_buffer() -> None:
    huge = b'{"id": "big", "text": "' + b"a" * 200_000 + b'"}\n'
    items = parse(NDJSON, huge + b'{"id": "ok", "text": "fine"}\n', piece=4096, max_chars=10)
    assert items == [LineError(1, "line too long"), InputRow(2, "ok", "fine", None, None)]


def test_csv_quoted_newlines_count_as_one_row_at_their_first_line() -> None:
    body = b'ID,Text,author\n1,"a ""quoted""\nsecond line",ann\n2,"unterminated\n'
    assert parse(CSV, body) == [
        InputRow(2, "1", 'a "quoted"\nsecond line', "ann", None),
        LineError(4, "bad CSV row: unterminated quoted field"),
    ]


@pytest.mark.parametrize("body", [b"", b"id,body\n1,x\n"])
def test_csv_without_id_and_text_columns_is_rejected(body: bytes) -> None:
    with pytest.raises(HeaderError):
        parse(CSV, body)


def test_summary_ranks_broadcast_heavy_authors_first_with_time_ordered_streaks() -> None:
    b, c = "broadcast", "conversation"
    posts = [
        # ann: in input order b b c b, but by time b b b c -> streak 3
        Post(1, "ann", 4.0, b),
        Post(2, "ann", 1.0, b),
        Post(3, "ann", 5.0, c),
        Post(4, "ann", 2.0, b),
        # bo: one post without a timestamp, so input order: b c b b -> streak 2
        Post(5, "bo", 1.0, b),
        Post(6, "bo", None, c),
        Post(7, "bo", 3.0, b),
        Post(8, "bo", 4.0, b),
        Post(9, "cy", None, c),
        Post(10, None, None, b),  # counted in the labels, not per author
    ]
    summary = summarize(posts)
    assert summary.rows == 10
    assert summary.labels == {b: 7, c: 3}
    assert summary.authors == [
        AuthorSummary("ann", 4, 0.25, 3),
        AuthorSummary("bo", 4, 0.25, 2),
        AuthorSummary("cy", 1, 1.0, 0),
    ]
