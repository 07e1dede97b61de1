"""`score_bulk` end to end on a local Ray: one directory of JSONL, CSV and Parquet files with bad rows
and unreadable files among the posts. Every row comes out once, as a result or an error; a post gets
the label and scores the API gives it; the per-author summary is the jobs' summary."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from model.runtime.classifier import Classifier
from service import cli
from service.bulk.run import BulkSummary, score_bulk
from service.jobs.summary import Post
from service.schemas import TextError, check_text
from service.settings import Settings
from tests.bulk.conftest import posts, write_csv, write_jsonl, write_parquet
from tests.jobs.test_rows import reference_summary

BAD_JSONL = (
    "not json",
    '{"id": "b1"}',
    '{"id": "", "text": "no id"}',
    '{"id": "b2", "text": "a fine text", "created_at": "yesterday"}',
)
BAD_CSV = ('b3,"two fields only"', "b4,,brand1,")


@dataclass
class Run:
    inputs: Path
    output: Path
    posts: dict[str, dict[str, Any]]  # by the id its result carries, with the name of its file
    summary: BulkSummary

    def table(self, part: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = pq.read_table(self.output / part).to_pylist()
        for row in rows:
            if "file" in row:
                row["file"] = Path(row["file"]).name
        return rows


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, local_ray: None, settings: Settings) -> Run:
    folder = tmp_path_factory.mktemp("bulk")
    inputs = folder / "in"
    inputs.mkdir()
    rows = posts(240)
    write_jsonl(inputs / "a.jsonl", rows[:100], BAD_JSONL)
    write_csv(inputs / "b.csv", rows[100:170], BAD_CSV)
    write_parquet(inputs / "c.parquet", rows[170:])  # integer ids: p170 is 170
    (inputs / "d.txt").write_text("not posts\n")
    (inputs / "e.csv").write_text("text,author\nhello,bo\n")
    by_id = {row["id"]: row | {"file": "a.jsonl"} for row in rows[:100]}
    by_id |= {row["id"]: row | {"file": "b.csv"} for row in rows[100:170]}
    by_id |= {row["id"].removeprefix("p"): row | {"file": "c.parquet"} for row in rows[170:]}
    summary = score_bulk(str(inputs), str(folder / "out"), settings=settings, actors=2)
    return Run(inputs, folder / "out", by_id, summary)


def text_error(text: str, settings: Settings) -> str | None:
    try:
        check_text(text, settings.max_chars, truncate=False)
    except TextError as exc:
        return str(exc)
    return None


def test_every_row_is_one_result_or_one_error(run: Run, settings: Settings, classifier: Classifier) -> None:
    results, errors = run.table("results"), run.table("errors")
    assert max(Counter((r["file"], r["line"]) for r in results + errors).values()) == 1
    rejected = {i: e for i, row in run.posts.items() if (e := text_error(row["text"], settings))}
    assert sorted(r["id"] for r in results) == sorted(set(run.posts) - set(rejected))
    assert 0 < len(rejected) < len(run.posts) / 2  # the content rule is exercised, not everything
    assert {r["model_version"] for r in results} == {classifier.version}
    reasons = {(e["file"], e["line"] if e["id"] is None else e["id"]): e["reason"] for e in errors}
    bad = {
        ("a.jsonl", 101): "malformed JSON",
        ("a.jsonl", 102): None,  # msgspec's own words, as for an upload
        ("a.jsonl", 103): "id is empty",
        ("a.jsonl", "b2"): "created_at is not an ISO 8601 timestamp",
        ("b.csv", "b4"): "text is empty or has only whitespace, invisible or control characters",
        ("d.txt", 0): "not read: the name does not end in .jsonl, .ndjson, .json, .csv, .parquet",
        ("e.csv", 0): "the CSV header must name the columns id and text",
    }
    for key, reason in bad.items():
        assert key in reasons and reasons[key] == (reason or reasons[key]), key
    assert reasons[("a.jsonl", 102)].startswith("invalid row")
    assert any(k[0] == "b.csv" and v.startswith("bad CSV row") for k, v in reasons.items())  # b3
    assert {i: reasons.get((run.posts[i]["file"], i)) for i in rejected} == rejected
    assert "text" not in pq.read_schema(next((run.output / "errors").iterdir())).names  # never the text
    assert (run.summary.rows, run.summary.errors) == (len(results), len(errors))
    assert json.loads((run.output / "summary.json").read_text())["rows"] == len(results)


def test_a_post_gets_the_apis_label_and_scores(
    run: Run, client: TestClient[Litestar], settings: Settings
) -> None:
    """The same posts through /v1/classify/batch: same label, same scores, same texts refused."""
    ids = sorted(run.posts)
    api: dict[str, Any] = {}
    for start in range(0, len(ids), settings.max_batch):
        chunk = ids[start : start + settings.max_batch]
        items = [{"id": i, "text": run.posts[i]["text"]} for i in chunk]
        response = client.post("/v1/classify/batch", json={"items": items})
        assert response.status_code == 200
        for item in response.json()["results"]:
            api[item["id"]] = "refused" if "error" in item else (item["label"], item["scores"])
    bulk: dict[str, Any] = dict.fromkeys(ids, "refused")
    bulk |= {r["id"]: (r["label"], r["scores"]) for r in run.table("results")}
    assert bulk == api
    assert {v[0] for v in api.values() if v != "refused"} == {"broadcast", "conversation"}


def test_the_author_summary_is_the_jobs_summary(run: Run) -> None:
    """The oracle of the jobs' summary over the bulk results, in input order (files by path, then
    line): same authors, posts, ratios, streaks, and the same ranking in the one authors file."""
    results = run.table("results")
    files = sorted({r["file"] for r in results})
    posts = [
        Post(
            files.index(r["file"]) << 40 | r["line"],
            r["author"],
            None if r["created_at"] is None else r["created_at"].timestamp(),
            r["label"],
        )
        for r in results
    ]
    expected = reference_summary(sorted(posts, key=lambda p: p.line))
    authors = run.table("authors")
    assert len(list((run.output / "authors").iterdir())) == 1
    assert authors == [
        {
            "author": a.author,
            "posts": a.posts,
            "conversation_ratio": a.conversation_ratio,
            "longest_broadcast_streak": a.longest_broadcast_streak,
        }
        for a in expected.authors
    ]
    assert len(authors) == 20 and max(a["longest_broadcast_streak"] for a in authors) > 1
    assert run.summary.labels == expected.labels and run.summary.authors == len(authors)


def test_an_output_that_holds_anything_or_no_actors_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "old.parquet").write_text("earlier results")
    write_jsonl(tmp_path / "posts.jsonl", posts(3))
    assert cli.main(["bulk", str(tmp_path / "posts.jsonl"), str(tmp_path)]) == 2
    assert "exists and is not an empty directory" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.parquet", "posts.jsonl"]
    assert cli.main(["bulk", str(tmp_path / "posts.jsonl"), str(tmp_path / "new"), "--actors", "0"]) == 2
    assert "--actors and --batch-rows must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
