"""The `dialogic` command: serve the API, label one text, label a file, and run the model pipeline.

`score` calls Classifier.predict in-process (no server) and shares the API's content rule
(`check_text`), so a file and the API accept and reject the same texts. Heavy imports (torch, the
model pipeline) happen inside the handlers, so `dialogic --help` is instant and the pipeline commands
work as soon as their modules exist.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import os
import signal
import sys
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from service.schemas import TextError, check_text
from service.settings import Settings

_MALFORMED = object()
PIPELINE = {
    "data build": "model.data.build",
    "train": "model.train",
    "evaluate": "model.evaluate",
    "bulk": "service.bulk.run",  # needs the [bulk] extra (Ray)
}


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


def _classify(args: argparse.Namespace, settings: Settings) -> int:
    from service.runtime import load_classifier

    try:
        text = check_text(args.text, settings.max_chars, truncate=False)
    except TextError as exc:
        print(f"dialogic classify: {exc}", file=sys.stderr)
        return 2
    [prediction] = load_classifier(settings).predict([text])
    print(json.dumps({"label": prediction.label, "scores": prediction.scores}))
    return 0


def _records(path: Path, handle: TextIO) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object, or _MALFORMED) for each non-blank line or CSV row."""
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(handle)
        if "text" not in (reader.fieldnames or []):
            raise ValueError("the CSV has no 'text' column")
        for row in reader:
            yield reader.line_num, row
        return
    for number, line in enumerate(handle, start=1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError:
                yield number, _MALFORMED


def _item(obj: Any, number: int, max_chars: int) -> tuple[str, str]:
    """(id, text) of one record; raises TextError with the reason it is skipped."""
    if obj is _MALFORMED:
        raise TextError("malformed JSON")
    if not isinstance(obj, dict):
        raise TextError("not a JSON object")
    text = obj.get("text")
    if not isinstance(text, str):
        raise TextError("missing or non-string 'text'")
    raw_id = obj.get("id")
    item_id = str(raw_id) if isinstance(raw_id, str | int) and raw_id != "" else str(number)
    return item_id, check_text(text, max_chars, truncate=False)


def _score(args: argparse.Namespace, settings: Settings) -> int:
    if args.remote:  # the deployment's workers label the file; nothing is loaded here
        from service.jobs.remote import main as score_remote

        return score_remote(args.remote, args.input, args.output)
    from tqdm import tqdm

    from service.runtime import load_classifier

    classifier = load_classifier(settings)
    scored = skipped = 0
    batch: list[tuple[str, str]] = []

    def flush(out: TextIO) -> None:
        nonlocal scored
        predictions = classifier.predict([text for _, text in batch], batch_size=args.batch_size)
        for (item_id, _), p in zip(batch, predictions, strict=True):
            out.write(json.dumps({"id": item_id, "label": p.label, "scores": p.scores}) + "\n")
        scored += len(batch)
        batch.clear()

    with args.input.open(newline="", encoding="utf-8") as src, args.output.open("w", encoding="utf-8") as out:
        try:
            records = tqdm(_records(args.input, src), unit=" lines", disable=not sys.stderr.isatty())
            for number, obj in records:
                try:
                    batch.append(_item(obj, number, settings.max_chars))
                except TextError as exc:
                    skipped += 1
                    print(f"{args.input}:{number}: skipped: {exc}", file=sys.stderr)
                    continue
                if len(batch) >= args.batch_size:
                    flush(out)
        except ValueError as exc:  # a file-level problem (no text column): nothing more can be read
            print(f"dialogic score: {args.input}: {exc}", file=sys.stderr)
            return 2
        if batch:
            flush(out)
    print(f"{scored} scored, {skipped} skipped", file=sys.stderr)
    return 0


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from service.jobs.worker import main as run_worker

    return run_worker(settings)


def _pipeline(command: str, extra: list[str]) -> int:
    """Hand the remaining arguments to the pipeline module, imported only now."""
    try:
        module = importlib.import_module(PIPELINE[command])
    except ModuleNotFoundError as exc:
        print(f"dialogic {command}: not available ({exc})", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog=f"dialogic {command}")
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(extra)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dialogic", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP API (uvicorn, one process)")
    serve.add_argument("--host", help="address to bind (default: DIALOGIC_HOST)")
    serve.add_argument("--port", type=int, help="port to bind (default: DIALOGIC_PORT)")
    classify = commands.add_parser("classify", help="label one text, print JSON")
    classify.add_argument("text")
    score = commands.add_parser("score", help="label a JSONL or CSV file into JSONL")
    score.add_argument("input", type=Path, help="JSONL of id/text objects, or CSV (.csv) with a text column")
    score.add_argument("-o", "--output", type=Path, required=True, help="JSONL of id, label, scores")
    score.add_argument("--batch-size", type=int, default=64, help="texts per forward pass")
    score.add_argument(
        "--remote",
        metavar="URL",
        help="run as a batch job on the API at URL (key: "
        "DIALOGIC_REMOTE_API_KEY); the summary goes to OUTPUT.summary.json",
    )
    commands.add_parser("worker", help="score batch-job chunks from the Redis queue (one process)")
    commands.add_parser("bulk", help="label files of posts on Ray Data (service.bulk.run)", add_help=False)
    data = commands.add_parser("data", help="data set commands")
    data.add_subparsers(dest="data_command", required=True).add_parser(
        "build", help="build the training data (model.data.build)", add_help=False
    )
    commands.add_parser("train", help="train the classifier (model.train)", add_help=False)
    commands.add_parser("evaluate", help="evaluate an artifact (model.evaluate)", add_help=False)
    hash_key = commands.add_parser("hash-key", help="print an API key's digest for DIALOGIC_API_KEYS")
    hash_key.add_argument("key", nargs="?", help="the key (default: read from stdin, out of shell history)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    command = "data build" if args.command == "data" else args.command
    if command in PIPELINE:
        return _pipeline(command, extra)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if command == "hash-key":
        from service.security import hash_key

        print(hash_key(args.key if args.key is not None else sys.stdin.readline().rstrip("\n")))
        return 0
    settings = Settings.from_env()
    handlers = {"serve": _serve, "classify": _classify, "score": _score, "worker": _worker}
    return handlers[command](args, settings)


if __name__ == "__main__":
    sys.exit(main())
