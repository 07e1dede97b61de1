"""A local Ray for the bulk tests (two CPUs, as the issue and this machine have), and their inputs:
real posts (load/texts.py reads ../shared/data, never copied here) with the authors and times of the
jobs' summary tests, in the three formats, with bad rows and unreadable files among them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from load.texts import load_posts
from tests.jobs.test_summary import rows_for


@pytest.fixture(scope="session")
def local_ray() -> Iterator[None]:
    import ray
    import ray.data

    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    ray.data.DataContext.get_current().enable_progress_bars = False  # a test log is no terminal
    yield
    ray.shutdown()


def posts(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """`count` rows with the authors and times of the jobs' summary tests (20 authors, one with
    untimed posts, every 7th row without an author), real texts, and every 25th text a repeat of an
    earlier one under a new id."""
    texts = load_posts(count, seed=seed)
    rows = rows_for(count)
    for i, row in enumerate(rows):
        row["id"], row["text"] = f"p{i}", texts[i - 20] if i % 25 == 24 else texts[i % len(texts)]
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]], bad_lines: tuple[str, ...] = ()) -> None:
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join([*lines, *bad_lines]) + "\n", encoding="utf-8")


def write_csv(path: Path, rows: list[dict[str, Any]], bad_lines: tuple[str, ...] = ()) -> None:
    import csv

    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, ["id", "text", "author", "created_at"])
        writer.writeheader()
        writer.writerows(rows)
        out.write("".join(line + "\r\n" for line in bad_lines))


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    """Integer ids and a real timestamp column, as an archive's Parquet would have them."""
    table = pa.table(
        {
            "id": pa.array([int(row["id"].removeprefix("p")) for row in rows], pa.int64()),
            "text": [row["text"] for row in rows],
            "author": [row.get("author") for row in rows],
            "created_at": pa.array(
                [datetime.fromisoformat(row["created_at"]) if "created_at" in row else None for row in rows],
                pa.timestamp("us", tz="UTC"),
            ),
        }
    )
    pq.write_table(table, path, row_group_size=50)
