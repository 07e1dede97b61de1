"""Posts for bulk scoring: JSONL, CSV or Parquet files, local or on any pyarrow filesystem (`s3://`...).

JSONL and CSV go through the job upload's own parsers (service/jobs/rows.py) and Parquet rows through
the same row rule, so bulk accepts and rejects exactly the rows an API job does. A bad row becomes a
row with a `reason` (its file and line, its id when known, never the text) and reading goes on; a
file that cannot be read at all (a CSV header or Parquet file without `id` and `text`, an unknown
extension) becomes one such row with line 0. Every row carries its file and line (for Parquet, its
row number), since Ray hands results back in the order it finishes them, not the input's.

Unlike an API job, a repeated id is not refused: that would take a shuffle of every id across the
cluster (jobs keep the ids seen in Redis). Each file is read by one task, streaming; many files are
read in parallel.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from ray.data.datasource import FileBasedDatasource

from service.jobs.rows import CSV, NDJSON, HeaderError, InputRow, LineError, checked_row, parser_for

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet"}
COMPRESSED = (".gz", ".bz2", ".zst", ".lz4")  # streams pyarrow decompresses on the fly by extension
POSTS = pa.schema(
    [
        ("file", pa.string()),
        ("line", pa.int64()),  # 1-based line (CSV: where the record starts; Parquet: row); 0: the file
        ("id", pa.string()),
        ("text", pa.string()),
        ("author", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("reason", pa.string()),  # why the row is not scored; null for a valid row
    ]
)
ERROR_COLUMNS = ["file", "line", "id", "reason"]
BLOCK_ROWS = 4096
READ_BYTES = 1 << 20


def file_format(path: str) -> str | None:
    """jsonl, csv or parquet by the file's extension (under any compression suffix), or None."""
    name = path.lower()
    for suffix in COMPRESSED:
        name = name.removesuffix(suffix)
    return next((kind for ext, kind in FORMATS.items() if name.endswith(ext)), None)


class PostsDatasource(FileBasedDatasource):
    """The files under some paths, each read by one Ray task into POSTS blocks of BLOCK_ROWS rows."""

    def __init__(self, paths: str | list[str], max_chars: int) -> None:
        super().__init__(paths)
        self.max_chars = max_chars

    @property
    def files(self) -> list[str]:
        """Every file to be read, as Ray resolved the paths (directories listed, schemes dropped)."""
        return self._paths()

    def _open_input_source(self, filesystem: Any, path: str, **open_args: Any) -> Any:
        if file_format(path) == "parquet":  # its footer comes first: random access, not a stream
            return filesystem.open_input_file(path)
        return super()._open_input_source(filesystem, path, **open_args)

    def _read_stream(self, f: Any, path: str) -> Iterator[pa.Table]:
        rows: list[InputRow | LineError] = []
        for item in file_rows(f, path, self.max_chars):
            rows.append(item)
            if len(rows) == BLOCK_ROWS:
                yield block(path, rows)
                rows = []
        if rows:
            yield block(path, rows)


def file_rows(f: Any, path: str, max_chars: int) -> Iterator[InputRow | LineError]:
    """The rows and errors of one file, `f` open for reading (random access for Parquet)."""
    kind = file_format(path)
    if kind is None:
        yield LineError(0, f"not read: the name does not end in {', '.join(FORMATS)}")
        return
    try:
        if kind == "parquet":
            yield from parquet_rows(pq.ParquetFile(f), max_chars)
            return
        parser = parser_for(NDJSON if kind == "jsonl" else CSV, max_chars)
        while piece := f.read(READ_BYTES):
            yield from parser.feed(piece)
        yield from parser.close()
    except HeaderError as exc:
        yield LineError(0, str(exc))
    except pa.ArrowInvalid:  # raised by ParquetFile on a file that is not Parquet
        yield LineError(0, "not read: not a Parquet file")


def parquet_rows(table: pq.ParquetFile, max_chars: int) -> Iterator[InputRow | LineError]:
    """A Parquet file's rows by the upload's row rule; `created_at` may be a timestamp, a date or an
    ISO 8601 string, ids strings or integers."""
    names = set(table.schema_arrow.names)
    if not {"id", "text"} <= names:
        raise HeaderError("the Parquet file must have the columns id and text")
    columns = [name for name in ("id", "text", "author", "created_at") if name in names]
    line = 0
    for batch in table.iter_batches(batch_size=BLOCK_ROWS, columns=columns):
        for record in batch.to_pylist():
            line += 1
            yield parquet_row(line, record, max_chars)


def parquet_row(line: int, record: dict[str, Any], max_chars: int) -> InputRow | LineError:
    row_id, text, author, created = (record.get(k) for k in ("id", "text", "author", "created_at"))
    if isinstance(row_id, bool) or not isinstance(row_id, str | int):
        return LineError(line, "invalid row: id must be a string or an integer")
    if not isinstance(text, str):
        return LineError(line, "invalid row: text must be a string", row_id)
    if isinstance(created, date):  # datetime included; a naive one is UTC, as in an upload
        created = created.isoformat()
    elif created is not None and not isinstance(created, str):
        return LineError(line, "created_at is not an ISO 8601 timestamp", row_id)
    return checked_row(line, row_id, text, None if author is None else str(author), created, max_chars)


def block(path: str, rows: list[InputRow | LineError]) -> pa.Table:
    """POSTS rows of one file; ids become strings (an Arrow column has one type)."""
    columns: dict[str, list[Any]] = {name: [] for name in POSTS.names}
    for row in rows:
        if isinstance(row, InputRow):
            values = [row.text, row.author, None if row.ts is None else round(row.ts * 1e6), None]
        else:
            values = [None, None, None, row.reason]
        for name, value in zip(("text", "author", "created_at", "reason"), values, strict=True):
            columns[name].append(value)
        columns["line"].append(row.line)
        columns["id"].append(None if row.id is None else str(row.id))
    columns["file"] = [path] * len(rows)
    return pa.table(columns, schema=POSTS)
