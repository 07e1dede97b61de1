"""The `dialogic` CLI in-process, with the session's real model (no second load)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.runtime.classifier import LABELS, Classifier
from service import cli, runtime


@pytest.fixture(autouse=True)
def shared_model(monkeypatch: pytest.MonkeyPatch, classifier: Classifier) -> None:
    monkeypatch.setattr(runtime, "load_classifier", lambda settings, threads=None: classifier)
    monkeypatch.setenv("DIALOGIC_MAX_CHARS", "50")


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_score_jsonl_writes_results_errors_and_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The batch jobs' rules: ids keep their JSON type, a row without an id is rejected like any bad
    line (into OUT.errors.jsonl, never the text), and the summary is written beside the results."""
    src, out = tmp_path / "posts.jsonl", tmp_path / "out.jsonl"
    src.write_text(
        "\n".join(
            [
                json.dumps({"id": "p1", "text": "@user thank you so much for the help!", "author": "ann"}),
                "{not json",
                json.dumps({"id": "p3", "text": "   "}),
                json.dumps({"id": "p4"}),
                json.dumps({"id": "p5", "text": 12}),
                json.dumps({"id": "p6", "text": "z" * 51}),
                "",
                json.dumps({"text": "New collection drops Friday, shop now"}),
                json.dumps(["a", "list"]),
                json.dumps({"id": 9, "text": "Can you DM me the tracking number?", "author": "ann"}),
                json.dumps({"id": "9", "text": "Our store opens at nine"}),
                json.dumps({"id": 9, "text": "a repeated id"}),
            ]
        )
        + "\n"
    )
    assert cli.main(["score", str(src), "-o", str(out), "--batch-size", "2"]) == 0
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == ["p1", 9, "9"]
    for row in rows:
        assert row["label"] in LABELS and set(row["scores"]) == set(LABELS)  # type: ignore[arg-type]
    errors = read_jsonl(tmp_path / "out.jsonl.errors.jsonl")
    assert [e["line"] for e in errors] == [2, 3, 4, 5, 6, 8, 9, 12]
    assert errors[-1] == {"line": 12, "reason": "duplicate id, first seen on line 10", "id": 9}
    assert "id" in str(errors[5]["reason"])  # line 8: no id
    summary = json.loads((tmp_path / "out.jsonl.summary.json").read_text())
    assert summary["rows"] == 3 and [a["author"] for a in summary["authors"]] == ["ann"]
    err = capsys.readouterr().err
    assert "loading the model" in err
    assert f"3 scored, 8 rejected ({out}.errors.jsonl); summary: {out}.summary.json" in err
    assert "thank you" not in err and "thank you" not in (tmp_path / "out.jsonl.errors.jsonl").read_text()


def test_score_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out = tmp_path / "posts.csv", tmp_path / "out.jsonl"
    src.write_text('id,text\na,"Hello @user, how was the trip?"\nb,\nc,"Win a free phone, RT to enter"\n')
    assert cli.main(["score", str(src), "-o", str(out)]) == 0
    assert [r["id"] for r in read_jsonl(out)] == ["a", "c"]
    assert read_jsonl(tmp_path / "out.jsonl.errors.jsonl")[0]["line"] == 3
    assert "2 scored, 1 rejected" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "body", "reason"),
    [
        ("bad.csv", "text,author\nhello,ann\n", "the CSV header must name the columns id and text"),
        ("empty.jsonl", "\n\n", "the file holds no post"),
    ],
)
def test_a_file_refused_whole_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, body: str, reason: str
) -> None:
    src, out = tmp_path / name, tmp_path / "out.jsonl"
    src.write_text(body)
    out.write_text("an earlier run's results\n")
    assert cli.main(["score", str(src), "-o", str(out)]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"dialogic score: {src}: {reason}")
    assert out.read_text() == "an earlier run's results\n"  # nothing half-written, nothing replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "out.jsonl"])


def test_classify_prints_json(capsys: pytest.CaptureFixture[str], classifier: Classifier) -> None:
    assert cli.main(["classify", "@user see you at the game tonight?"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["label"] in LABELS
    assert body["scores"] == classifier.predict(["@user see you at the game tonight?"])[0].scores
    assert cli.main(["classify", "  "]) == 2


def test_pipeline_commands_dispatch_lazily(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(cli.PIPELINE, "train", "service.no_such_module")
    assert cli.main(["train", "--epochs", "3"]) == 2
    assert "not available" in capsys.readouterr().err

    class Stub:
        @staticmethod
        def add_arguments(parser: object) -> None:
            parser.add_argument("--epochs", type=int)  # type: ignore[attr-defined]

        @staticmethod
        def run(args: object) -> int:
            return 7 if args.epochs == 3 else 1  # type: ignore[attr-defined]

    monkeypatch.setattr(cli.importlib, "import_module", lambda name: Stub)
    assert cli.main(["train", "--epochs", "3"]) == 7
    assert cli.main(["data", "build", "--epochs", "3"]) == 7
    assert cli.main(["evaluate", "--epochs", "3"]) == 7
