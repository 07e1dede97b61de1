"""The `dialogic` command: serve the API, run a job worker, label one text, label a file (here or on a
deployment), and run the model pipeline.

`score` reads a file with the batch jobs' own reader and rules (service/jobs/rows.py), here or, with
--remote, as a job on a deployment, and writes the same outputs either way (with --report, the same
HTML report). Heavy imports (torch,
the model pipeline) happen inside the handlers, so `dialogic --help` and `score --remote` start at once.
Each subcommand registers its handler with `set_defaults(run=...)`; a handler returns an exit code or
raises `Failure` (service/exits.py), which is printed as one line, never as a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.exits import Exit, Failure
from service.schemas import TextError, check_text
from service.settings import Settings

if TYPE_CHECKING:
    from model.runtime.classifier import Classifier
    from service.jobs.outputs import Outputs
    from service.scoring import Scored

PIPELINE = {
    "data build": "model.data.build",
    "train": "model.train",
    "evaluate": "model.evaluate",
    "bulk": "service.bulk.run",  # needs the [bulk] extra (Ray)
}
DATA_HINT = (
    "the texts come from ../shared/data beside the repository (see README, The model); or pass --data DIR"
)


def server_options(settings: Settings, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """How `dialogic serve` runs uvicorn (tests run the same): one process (the model, its thread pool
    and the batcher are sized for the whole container), our own access log (structured, with the request
    id), the graceful shutdown, and X-Forwarded-For/-Proto believed only from the proxies that uvicorn's
    FORWARDED_ALLOW_IPS names. Unset, none is believed: uvicorn's own default, 127.0.0.1, would let any
    local sidecar or proxy claim any client address, past the per-address limits."""
    trusted = environ.get("FORWARDED_ALLOW_IPS", "").strip()
    return {
        "host": settings.host,
        "port": settings.port,
        "workers": 1,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": settings.shutdown_grace_s,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or None,
    }


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from service.app import create_app

    settings = replace(settings, host=args.host or settings.host, port=args.port or settings.port)
    # On SIGTERM uvicorn stops accepting, lets in-flight requests finish for up to the grace period, then
    # runs the lifespan shutdown (not ready, drain the batcher, close the cache). Uvicorn then re-raises
    # the signal it caught to the handler it found; a no-op one makes a clean drain exit 0, not 143.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    uvicorn.run(create_app(settings), **server_options(settings))
    return 0


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as exc:  # a DIALOGIC_* variable that does not parse
        raise Failure(Exit.INPUT, str(exc)) from None


def _load_model(settings: Settings, command: str) -> Classifier:
    """The model, with a visible step: loading takes seconds, and silence looks like a hang."""
    from service.runtime import load_classifier

    print(f"dialogic {command}: loading the model ({settings.model_backend})...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    classifier = load_classifier(settings)
    elapsed = time.perf_counter() - started
    print(
        f"dialogic {command}: {classifier.name} {classifier.version} loaded in {elapsed:.1f} s",
        file=sys.stderr,
    )
    return classifier


def _classify(args: argparse.Namespace, settings: Settings) -> int:
    try:
        text = check_text(args.text, settings.max_chars, truncate=False)
    except TextError as exc:
        raise Failure(Exit.INPUT, str(exc)) from None
    [scored] = asyncio.run(_score_one(_load_model(settings, "classify"), settings, text))
    print(json.dumps({"label": scored.label, "scores": scored.scores}))
    return Exit.OK


async def _score_one(classifier: Classifier, settings: Settings, text: str) -> list[Scored]:
    """`text` through the Scorer, as every other path scores (cached when DIALOGIC_REDIS_URL is set)."""
    from service.jobs.local import local_scorer

    async with local_scorer(classifier, settings, batch_size=1) as scorer:
        return await scorer.score([text])


def _lines(path: Path) -> int:
    """The file's line count, for the progress bar's total: one quick pass, a block at a time."""
    count, last = 0, b"\n"
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            count, last = count + block.count(b"\n"), block[-1:]
    return count + (last != b"\n")


def _score(args: argparse.Namespace, settings: Settings) -> int:
    from service.jobs.outputs import Outputs

    if not args.input.is_file():
        raise Failure(Exit.INPUT, f"{args.input}: no such file")
    for path in (args.output, args.report):
        if path is not None and not path.resolve().parent.is_dir():
            raise Failure(Exit.INPUT, f"{path}: its folder does not exist")
    if args.examples and args.report is None:
        raise Failure(Exit.INPUT, "--examples go into the report: give --report FILE too")
    out = Outputs(args.output, args.report)
    try:
        if args.remote:  # the deployment's workers label the file; nothing is loaded here
            from service.jobs.remote import main as score_remote

            return score_remote(args.remote, args.input, out, args.examples)
        return _score_here(args, out, settings)
    except OSError as exc:  # a file that cannot be read or written (permissions, a full disk)
        raise Failure(Exit.INPUT, f"{exc.filename or args.output}: {exc.strerror or exc}") from None


def _score_here(args: argparse.Namespace, out: Outputs, settings: Settings) -> int:
    from tqdm import tqdm

    from service.jobs.local import score_here
    from service.jobs.rows import UploadError

    total = _lines(args.input)
    classifier = _load_model(settings, "score")
    with tqdm(total=total, unit=" lines", desc="scoring", disable=not sys.stderr.isatty()) as bar:

        def progress(lines: int) -> None:
            bar.update(lines - bar.n)

        try:
            with out.writing() as partial:
                scored, rejected = asyncio.run(
                    score_here(
                        args.input, partial, classifier, settings, args.batch_size, progress, args.examples
                    )
                )
        except UploadError as exc:
            raise Failure(Exit.INPUT, f"{args.input}: {exc}") from None
    print(out.report(scored, rejected), file=sys.stderr)
    return Exit.OK


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.redis_url:
        raise Failure(
            Exit.INPUT, "batch jobs need Redis: set DIALOGIC_REDIS_URL (and the API's DIALOGIC_CACHE_PREFIX)"
        )
    from redis.exceptions import ConnectionError as Unreachable
    from redis.exceptions import TimeoutError as NoAnswer

    from service.jobs.worker import main as run_worker

    try:
        return run_worker(settings)
    except (Unreachable, NoAnswer) as exc:
        raise Failure(Exit.UNREACHABLE, f"cannot reach Redis at {settings.redis_url}: {exc}") from None


def _hash_key(args: argparse.Namespace, settings: Settings) -> int:
    from service.security import hash_key

    print(hash_key(args.key if args.key is not None else sys.stdin.readline().rstrip("\n")))
    return Exit.OK


def _pipeline(command: str, extra: list[str]) -> int:
    """Hand the remaining arguments to the pipeline module, imported only now."""
    try:
        module = importlib.import_module(PIPELINE[command])
    except ModuleNotFoundError as exc:
        raise Failure(Exit.INPUT, f"not available ({exc})") from None
    parser = argparse.ArgumentParser(prog=f"dialogic {command}")
    module.add_arguments(parser)
    args = parser.parse_args(extra)
    data = getattr(args, "data", None)
    if command == "data build" and data is not None and not Path(data).is_dir():
        raise Failure(Exit.INPUT, f"no data folder at {data}: {DATA_HINT}")
    try:
        return int(module.run(args))
    except FileNotFoundError as exc:
        raise Failure(Exit.INPUT, f"{exc.filename or exc}: no such file or folder") from None


def _example_count(value: str) -> int:
    from service.report import MAX_EXAMPLES

    if not value.isdigit() or int(value) > MAX_EXAMPLES:
        raise argparse.ArgumentTypeError(f"a whole number from 0 to {MAX_EXAMPLES}, not {value!r}")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dialogic", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP API (uvicorn, one process)")
    serve.add_argument("--host", help="address to bind (default: DIALOGIC_HOST)")
    serve.add_argument("--port", type=int, help="port to bind (default: DIALOGIC_PORT)")
    serve.set_defaults(run=_serve)
    classify = commands.add_parser("classify", help="label one text, print JSON")
    classify.add_argument("text")
    classify.set_defaults(run=_classify)
    score = commands.add_parser(
        "score",
        help="label an NDJSON or CSV file of posts: OUTPUT, OUTPUT.errors.jsonl, OUTPUT.summary.json",
    )
    score.add_argument(
        "input",
        type=Path,
        help="NDJSON of {id, text, author?, created_at?} objects, or CSV (.csv) with id, text",
    )
    score.add_argument("-o", "--output", type=Path, required=True, help="NDJSON of id, label, scores")
    score.add_argument("--batch-size", type=int, default=64, help="texts per forward pass (local scoring)")
    score.add_argument(
        "--report",
        type=Path,
        metavar="FILE",
        help="also write the HTML report (charts per account; the JSON summary's figures) to FILE",
    )
    score.add_argument(
        "--examples",
        type=_example_count,
        default=0,
        metavar="N",
        help="show N example posts per account and label in the report (default 0: no post is shown)",
    )
    score.add_argument(
        "--remote",
        metavar="URL",
        help="run as a batch job on the API at URL (key: DIALOGIC_REMOTE_API_KEY) instead of here",
    )
    score.set_defaults(run=_score)
    commands.add_parser(
        "worker", help="score batch-job chunks from the Redis queue (one process)"
    ).set_defaults(run=_worker)
    commands.add_parser("bulk", help="label files of posts on Ray Data (service.bulk.run)", add_help=False)
    data = commands.add_parser("data", help="data set commands")
    data.add_subparsers(dest="data_command", required=True).add_parser(
        "build", help="build the training data (model.data.build)", add_help=False
    )
    commands.add_parser("train", help="train the classifier (model.train)", add_help=False)
    commands.add_parser("evaluate", help="evaluate an artifact (model.evaluate)", add_help=False)
    hash_key = commands.add_parser("hash-key", help="print an API key's digest for DIALOGIC_API_KEYS")
    hash_key.add_argument("key", nargs="?", help="the key (default: read from stdin, out of shell history)")
    hash_key.set_defaults(run=_hash_key)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    command = "data build" if args.command == "data" else args.command
    if command not in PIPELINE and extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if command in PIPELINE:
            return _pipeline(command, extra)
        return int(args.run(args, _settings()))
    except Failure as exc:
        print(f"dialogic {command}: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print(f"dialogic {command}: interrupted", file=sys.stderr)
        return Exit.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
