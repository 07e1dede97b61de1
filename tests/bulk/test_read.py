"""Reading bulk input, without Ray: JSONL and CSV rows are the job upload's rows, Parquet rows follow
the same rule, and what cannot be read becomes an error row instead of a failed run."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from service.bulk.read import POSTS, block, file_format, file_rows
from service.jobs.rows import CSV, NDJSON, InputRow, LineError
from tests.jobs.test_rows import parse

MAX_CHARS = 50


def read(path: str, body: bytes) -> list[InputRow | LineError]:
    return list(file_rows(pa.BufferReader(body), path, MAX_CHARS))


def parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=2)  # several row groups: line numbers run across them
    return sink.getvalue()


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("a/posts.jsonl", "jsonl"),
        ("posts.NDJSON", "jsonl"),
        ("s3://bucket/2024/part-1.json.gz", "jsonl"),
        ("export.csv.zst", "csv"),
        ("part-00000.parquet", "parquet"),
        ("notes.txt", None),
        ("posts.jsonl.tar", None),
    ],
)
def test_the_format_comes_from_the_name_under_any_compression(path: str, kind: str | None) -> None:
    assert file_format(path) == kind


def test_jsonl_and_csv_rows_are_the_upload_parsers_rows() -> None:
    ndjson = (
        b'{"id": 1, "text": "hi @ann", "author": "bo", "created_at": "2024-01-01T00:00:00"}\n'
        b"not json\n"
        b'{"id": "x", "text": 5}\n'
        b'{"id": "", "text": "no id"}\n'
        b'{"id": "t", "text": "' + b"a" * 60 + b'"}\n'
        b'{"id": "y", "text": "fine", "created_at": "yesterday"}'
    )
    csv = b'id,text,author\n1,"two\nlines",ann\n2,,bo\n3,"ok"\n4,"unterminated\n'
    assert read("posts.jsonl", ndjson) == parse(NDJSON, ndjson, max_chars=MAX_CHARS)
    assert read("posts.csv", csv) == parse(CSV, csv, max_chars=MAX_CHARS)
    assert len(read("posts.jsonl", ndjson)) == 6 and len(read("posts.csv", csv)) == 4  # nothing lost


def test_parquet_rows_follow_the_upload_rule_whatever_the_column_types() -> None:
    moment = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    table = pa.table(
        {
            "id": pa.array([1, 2, 3, 4, 5, 6, 7, 8], pa.int64()),
            "text": ["hello there", None, " \u200b ", "x" * 51, "ok", "ok", "ok", "fine"],
            "author": pa.array([7, None, 7, 7, 7, 7, 7, 8], pa.int64()),
            "created_at": ["2024-05-01T12:30:00+00:00", None, None, None, "not a time", None, None, None],
        }
    )
    rows = read("part.parquet", parquet(table))
    assert rows[0] == InputRow(1, 1, "hello there", "7", moment.timestamp())
    assert rows[1] == LineError(2, "invalid row: text must be a string", 2)
    assert isinstance(rows[2], LineError) and rows[2].reason.startswith("text is empty")
    assert isinstance(rows[3], LineError) and rows[3].reason.startswith("text has 51 characters")
    assert rows[4] == LineError(5, "created_at is not an ISO 8601 timestamp", 5)
    assert [r.line for r in rows] == list(range(1, 9))

    typed = pa.table(
        {
            "id": ["a", "b", "c"],
            "text": ["one", "two", "three"],
            "created_at": pa.array([moment.replace(tzinfo=None), None, moment], pa.timestamp("ms", tz="UTC")),
            "extra": [1, 2, 3],
        }
    )
    assert read("typed.parquet", parquet(typed)) == [
        InputRow(1, "a", "one", None, moment.timestamp()),
        InputRow(2, "b", "two", None, None),
        InputRow(3, "c", "three", None, moment.timestamp()),
    ]
    dated = (
        pa.table({"id": [True], "text": ["t"]}),
        pa.table({"id": ["d"], "text": ["t"], "created_at": [date(2024, 5, 1)]}),
    )
    assert read("bool.parquet", parquet(dated[0])) == [
        LineError(1, "invalid row: id must be a string or an integer")
    ]
    assert read("date.parquet", parquet(dated[1])) == [
        InputRow(1, "d", "t", None, datetime(2024, 5, 1, tzinfo=UTC).timestamp())
    ]


def test_a_file_that_cannot_be_read_is_one_error_row() -> None:
    assert read("notes.txt", b"hello") == [
        LineError(0, "not read: the name does not end in .jsonl, .ndjson, .json, .csv, .parquet")
    ]
    assert read("no_id.csv", b"text,author\nhi,bo\n") == [
        LineError(0, "the CSV header must name the columns id and text")
    ]
    assert read("fake.parquet", b"not parquet at all") == [LineError(0, "not read: not a Parquet file")]
    assert read("no_text.parquet", parquet(pa.table({"id": [1], "body": ["hi"]}))) == [
        LineError(0, "the Parquet file must have the columns id and text")
    ]


def test_a_block_keeps_each_rows_place_and_never_an_errors_text() -> None:
    rows = [
        InputRow(3, 12, "hi", "ann", 1714566600.123456),
        LineError(4, "malformed JSON"),
        LineError(5, "id is empty", ""),
    ]
    table = block("s3/bucket/posts.jsonl", rows)
    assert table.schema == POSTS
    assert table.to_pylist() == [
        {
            "file": "s3/bucket/posts.jsonl",
            "line": 3,
            "id": "12",
            "text": "hi",
            "author": "ann",
            "created_at": datetime.fromtimestamp(1714566600.123456, UTC),
            "reason": None,
        },
        {
            "file": "s3/bucket/posts.jsonl",
            "line": 4,
            "id": None,
            "text": None,
            "author": None,
            "created_at": None,
            "reason": "malformed JSON",
        },
        {
            "file": "s3/bucket/posts.jsonl",
            "line": 5,
            "id": "",
            "text": None,
            "author": None,
            "created_at": None,
            "reason": "id is empty",
        },
    ]
