"""`dialogic bulk INPUT OUTPUT`: label files of posts on Ray Data, then summarise them beside the results.

INPUT is a file or directory of JSONL, CSV or Parquet files (local, or any pyarrow filesystem URI such
as `s3://bucket/archive/`), with the job upload's columns: `id`, `text`, and optionally `author` and
`created_at`. OUTPUT, a directory that must be empty or absent, receives:

    results/      id, label, scores, model_version, author, created_at, file, line
    errors/       file, line, id, reason: one row per row not scored (line 0: the whole file)
    authors/      author, posts, conversation_ratio, longest_broadcast_streak, most broadcast-heavy first
    summary.json  rows, labels, errors, authors, model, actors, seconds: written last, so it marks
                  a finished run

Results are not in input order (Ray writes batches as they finish): `file` and `line` give each
row's place. Ray runs where it is told: `RAY_ADDRESS` names a cluster, otherwise a local Ray is started
on this machine's CPUs. On a cluster, INPUT and OUTPUT must be storage every node reaches.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import msgspec
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.json as pj
import ray
import ray.data
from ray.data.expressions import col

from service.bulk.read import ERROR_COLUMNS, POSTS, PostsDatasource
from service.bulk.score import RESULTS, score
from service.bulk.summary import author_summaries, label_counts
from service.inference.threads import available_cpus
from service.runtime import load_classifier
from service.settings import Settings

FORMATS = ("parquet", "jsonl")
BATCH_ROWS = 256  # posts per actor call: about a second of one actor's work
FILE_ROWS = 100_000  # rows per output file, so a billion posts make thousands of files, not millions
# Reading, parsing, filtering and writing (num_cpus=0) take a small fraction of the model's CPU and
# reserve none, so they never wait for CPUs held by the actors: with an actor per CPU, none are left.
LIGHT = {"num_cpus": 0}
MAX_PARTITIONS = 200  # Ray's own default for shuffles: enough for a large cluster
ERRORS = pa.schema([POSTS.field(name) for name in ERROR_COLUMNS])


class BulkError(ValueError):
    """A problem with the command's arguments, found before any work starts."""


class ModelRef(msgspec.Struct):
    name: str
    version: str
    backend: str


class BulkSummary(msgspec.Struct):
    """summary.json: what was scored, and with which model. The authors themselves are in authors/."""

    rows: int
    labels: dict[str, int]
    errors: int
    authors: int
    model: ModelRef
    actors: int
    seconds: dict[str, float]  # wall time of each phase: start (Ray, model check), score, errors, summary


def score_bulk(
    source: str,
    destination: str,
    *,
    settings: Settings,
    actors: int | None = None,
    output_format: str = "parquet",
    batch_rows: int = BATCH_ROWS,
) -> BulkSummary:
    """Score every post under `source` into `destination` (see the module docstring) and return the
    summary. Starts a local Ray unless one is running or RAY_ADDRESS names a cluster."""
    if (actors is not None and actors < 1) or batch_rows < 1:
        raise BulkError("--actors and --batch-rows must be at least 1")
    output = Output.empty(destination, output_format)
    started = time.perf_counter()
    connect()
    cpus = int(ray.cluster_resources().get("CPU", 1))
    actors = actors or cpus
    # Loaded once here too: it checks the artifact before any actor starts, and on this machine it
    # builds the int8 file that the local actors then share.
    classifier = load_classifier(settings, threads=1)
    pipeline = Pipeline.of(source, settings, actors, batch_rows)
    seconds = {"start": time.perf_counter() - started}
    with _timed(seconds, "score"):
        output.write("results", pipeline.results)
    with _timed(seconds, "errors"):
        output.write("errors", pipeline.errors)
    with _timed(seconds, "summary"):
        results = output.read("results", RESULTS)
        authors = author_summaries(results, pipeline.files, min(cpus, MAX_PARTITIONS)).materialize()
        output.write("authors", authors)  # one block: one file, in rank order
        labels = label_counts(results)
    summary = BulkSummary(
        rows=sum(labels.values()),
        labels=labels,
        errors=output.read("errors", ERRORS).count(),
        authors=authors.count(),
        model=ModelRef(classifier.name, classifier.version, classifier.backend),
        actors=actors,
        seconds={phase: round(s, 2) for phase, s in seconds.items()},
    )
    with output.filesystem.open_output_stream(f"{output.root}/summary.json") as out:
        out.write(msgspec.json.format(msgspec.json.encode(summary)) + b"\n")
    return summary


@dataclass(frozen=True)
class Pipeline:
    """The lazy datasets of one run: Ray executes each when it is written (or iterated)."""

    files: list[str]  # every input file, as Ray resolved the paths
    results: ray.data.Dataset  # RESULTS rows of the valid posts
    errors: ray.data.Dataset  # ERROR_COLUMNS rows of the rest

    @classmethod
    def of(cls, source: str, settings: Settings, actors: int, batch_rows: int) -> Pipeline:
        datasource = PostsDatasource(source, settings.max_chars)
        posts = ray.data.read_datasource(datasource, num_cpus=0)
        valid = posts.filter(expr=col("reason").is_null(), num_cpus=0)
        invalid = posts.filter(expr=col("reason").is_not_null(), num_cpus=0)
        return cls(
            datasource.files,
            score(valid, settings, actors, batch_rows),
            invalid.select_columns(ERROR_COLUMNS),
        )


@contextmanager
def _timed(seconds: dict[str, float], phase: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    seconds[phase] = time.perf_counter() - start


def connect() -> None:
    """Join the cluster named by RAY_ADDRESS, or start a local Ray on the CPUs this process may use
    (its container's quota, not the host's core count)."""
    if ray.is_initialized():
        return
    if os.environ.get("RAY_ADDRESS"):
        ray.init()
    else:
        ray.init(num_cpus=available_cpus(), include_dashboard=False)


@dataclass(frozen=True)
class Output:
    """The OUTPUT directory: where each part is written, in which format, and how it is read back."""

    filesystem: pafs.FileSystem
    root: str
    output_format: str

    @classmethod
    def empty(cls, destination: str, output_format: str) -> Output:
        """OUTPUT, created; refused when it holds anything (a file or a non-empty directory)."""
        if output_format not in FORMATS:
            raise BulkError(f"the output format must be one of {', '.join(FORMATS)}, not {output_format!r}")
        if "://" in destination:
            filesystem, root = pafs.FileSystem.from_uri(destination)
        else:
            filesystem, root = pafs.LocalFileSystem(), os.path.abspath(destination)
        info = filesystem.get_file_info(root)
        if info.type == pafs.FileType.File or (
            info.type == pafs.FileType.Directory and filesystem.get_file_info(pafs.FileSelector(root))
        ):
            raise BulkError(f"{destination} exists and is not an empty directory")
        filesystem.create_dir(root)
        return cls(filesystem, root.rstrip("/"), output_format)

    def write(self, part: str, dataset: ray.data.Dataset) -> None:
        path = f"{self.root}/{part}"
        self.filesystem.create_dir(path)  # present even when nothing is written to it
        if self.output_format == "parquet":
            dataset.write_parquet(
                path, filesystem=self.filesystem, min_rows_per_file=FILE_ROWS, ray_remote_args=LIGHT
            )
            return
        dataset.write_json(
            path,
            filesystem=self.filesystem,
            min_rows_per_file=FILE_ROWS,
            ray_remote_args=LIGHT,
            date_format="iso",  # JSON has no timestamps: ISO 8601, read back by the schema
            date_unit="us",
        )

    def read(self, part: str, schema: pa.Schema) -> ray.data.Dataset:
        """What `write` wrote, with its types."""
        path = f"{self.root}/{part}"
        if not self.filesystem.get_file_info(pafs.FileSelector(path)):
            return ray.data.from_arrow(schema.empty_table())
        if self.output_format == "parquet":
            return ray.data.read_parquet(path, filesystem=self.filesystem, schema=schema)
        options = pj.ParseOptions(explicit_schema=schema)
        return ray.data.read_json(path, filesystem=self.filesystem, parse_options=options)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="a JSONL, CSV or Parquet file, or a directory of them (path or URI)")
    parser.add_argument("output", help="an empty or new directory (path or URI) for results, errors, summary")
    parser.add_argument("--actors", type=int, help="model actors (default: one per CPU of the Ray cluster)")
    parser.add_argument(
        "--format", choices=FORMATS, default="parquet", help="output format (default: parquet)"
    )
    parser.add_argument("--batch-rows", type=int, default=BATCH_ROWS, help="posts per actor call")


def run(args: argparse.Namespace) -> int:
    try:
        summary = score_bulk(
            args.input,
            args.output,
            settings=Settings.from_env(),
            actors=args.actors,
            output_format=args.format,
            batch_rows=args.batch_rows,
        )
    except (BulkError, FileNotFoundError) as exc:
        print(f"dialogic bulk: {exc}", file=sys.stderr)
        return 2
    print(
        f"{summary.rows} scored, {summary.errors} errors, {summary.authors} authors: {args.output}",
        file=sys.stderr,
    )
    return 0
