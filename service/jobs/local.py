"""`dialogic score FILE` on this machine: the file is read, chunked and summarised exactly as a batch job's
upload is (service/jobs/rows.py, summary.py), and each chunk is scored through the same Scorer as a
job's worker (normalised once, cached in Redis when DIALOGIC_REDIS_URL is set, in memory otherwise), so
the outputs are those of `dialogic score --remote`, byte for byte.

Memory follows the chunk, the file's ids and its timed posts' timeline entries (about 50 bytes each),
never the file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import BinaryIO

import msgspec

from model.runtime.classifier import Classifier
from service.cache import build_cache
from service.jobs.examples import ExamplePicker
from service.jobs.outputs import Outputs, content_type
from service.jobs.rows import InputRow, chunks, parser_for
from service.jobs.summary import Summarizer, Tally, posts_of, timeline
from service.jobs.tasks import score_rows
from service.report.page import render
from service.scoring import Scorer, in_thread
from service.settings import Settings

BLOCK = 1 << 20
_encoder = msgspec.json.Encoder()


class SeenIds:
    """The ids met so far (as JSON), each with its line: the in-memory twin of a job upload's Redis hash."""

    def __init__(self) -> None:
        self.lines: dict[bytes, int] = {}

    async def claim(self, rows: Sequence[InputRow]) -> list[int]:
        firsts = [self.lines.setdefault(msgspec.json.encode(row.id), row.line) for row in rows]
        return [0 if first == row.line else first for row, first in zip(rows, firsts, strict=True)]


async def _blocks(source: BinaryIO) -> AsyncIterator[bytes]:
    while block := source.read(BLOCK):
        yield block


async def score_file(
    source: Path,
    out: Outputs,
    scorer: Scorer,
    settings: Settings,
    progress: Callable[[int], object],
    examples: int = 0,
) -> tuple[int, int]:
    """Score `source` into `out`; returns (rows scored, lines rejected). `progress` hears the number of
    input lines read so far after each chunk. With `out.page`, the report is written too, with
    `examples` posts per account and label (see service/jobs/examples.py). Raises UploadError when
    nothing in the file can be scored."""
    parser = parser_for(content_type(source), settings.max_chars)
    summarizer, entries, picker = Summarizer(), [], ExamplePicker(examples)
    scored = rejected = 0
    with source.open("rb") as src, out.results.open("wb") as results, out.errors.open("wb") as errors:
        async for chunk in chunks(_blocks(src), parser, settings.job_chunk_size, SeenIds().claim):
            if chunk.rows:
                labelled = await score_rows(scorer, chunk.rows)
                results.write(_encoder.encode_lines(labelled))
                posts = posts_of(chunk.rows, labelled)
                summarizer.add_tally(Tally.of(posts))
                entries += timeline(posts)
                picker.add(chunk.rows, labelled)
            errors.write(_encoder.encode_lines(chunk.errors))
            scored, rejected = scored + len(chunk.rows), rejected + len(chunk.errors)
            progress(parser.lines.number)
    summarizer.add_timeline(sorted(entries))
    summary = summarizer.summary()
    out.summary.write_bytes(msgspec.json.encode(summary))
    if out.page:
        picked = picker.examples([a.author for a in summary.authors]) if examples else None
        out.page.write_text(render(summary, picked), encoding="utf-8")
    return scored, rejected


@asynccontextmanager
async def local_scorer(classifier: Classifier, settings: Settings, batch_size: int) -> AsyncIterator[Scorer]:
    """A Scorer on the configured cache with `classifier` behind it, in a thread: how the CLI scores."""
    cache = await build_cache(settings)
    try:
        yield Scorer(
            cache, in_thread(classifier, batch_size), classifier.scores_version, settings.cache_prefix
        )
    finally:
        await cache.close()


async def score_here(
    source: Path,
    out: Outputs,
    classifier: Classifier,
    settings: Settings,
    batch_size: int,
    progress: Callable[[int], object],
    examples: int = 0,
) -> tuple[int, int]:
    """`score_file` through the local Scorer."""
    async with local_scorer(classifier, settings, batch_size) as scorer:
        return await score_file(source, out, scorer, settings, progress, examples)
