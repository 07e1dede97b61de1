"""What `dialogic score FILE -o OUT` leaves, whichever machine scored the file: OUT (the results, NDJSON
in input order), OUT.errors.jsonl (the rejected lines) and OUT.summary.json, each byte for byte what the
job endpoints serve, with `--report PAGE` the HTML report as well, and one line saying what was written.

They appear together or not at all: they are written beside OUT under temporary names and renamed
once complete, so a failed run leaves no half-written results to be taken for whole ones. This module
imports nothing heavy: the remote client uses it without the model.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from service.jobs.rows import CSV, NDJSON


def content_type(source: Path) -> str:
    """A file's format by its name: CSV for `.csv`, NDJSON for anything else."""
    return CSV if source.suffix.lower() == ".csv" else NDJSON


@dataclass(frozen=True)
class Outputs:
    results: Path
    page: Path | None = None  # the HTML report, when asked for

    @property
    def errors(self) -> Path:
        return self.results.with_name(self.results.name + ".errors.jsonl")

    @property
    def summary(self) -> Path:
        return self.results.with_name(self.results.name + ".summary.json")

    @property
    def paths(self) -> tuple[Path, ...]:
        return self.results, self.errors, self.summary, *([self.page] if self.page else [])

    @contextmanager
    def writing(self) -> Iterator[Outputs]:
        """Temporary outputs to write, renamed over these when the block completes, removed if it raises."""
        partial = f"partial-{os.getpid()}"
        temp = Outputs(
            self.results.with_name(f"{self.results.name}.{partial}"),
            self.page.with_name(f"{self.page.name}.{partial}") if self.page else None,
        )
        try:
            yield temp
            for written, final in zip(temp.paths, self.paths, strict=True):
                os.replace(written, final)
        finally:
            for path in temp.paths:
                path.unlink(missing_ok=True)

    def report(self, scored: int, rejected: int) -> str:
        page = f"; report: {self.page}" if self.page else ""
        return f"{scored} scored, {rejected} rejected ({self.errors}); summary: {self.summary}{page}"
