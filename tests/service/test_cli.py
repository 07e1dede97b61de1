"""The `dialogic` CLI in-process, with the session's real model (no second load)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.classifier import LABELS, Classifier
from service import cli, runtime


@pytest.fixture(autouse=True)
def shared_model(monkeypatch: pytest.MonkeyPatch, classifier: Classifier) -> None:
    monkeypatch.setattr(runtime, "load_classifier", lambda settings, threads=None: classifier)
    monkeypatch.setenv("DIALOGIC_MAX_CHARS", "50")


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_score_jsonl_skips_bad_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out = tmp_path / "posts.jsonl", tmp_path / "out.jsonl"
    src.write_text(
        "\n".join(
            [
                json.dumps({"id": "p1", "text": "@user thank you so much for the help!"}),
                "{not json",
                json.dumps({"id": "p3", "text": "   "}),
                json.dumps({"id": "p4"}),
                json.dumps({"id": "p5", "text": 12}),
                json.dumps({"id": "p6", "text": "z" * 51}),
                "",
                json.dumps({"text": "New collection drops Friday, shop now"}),
                json.dumps(["a", "list"]),
                json.dumps({"id": 9, "text": "Can you DM me the tracking number?"}),
            ]
        )
        + "\n"
    )
    assert cli.main(["score", str(src), "-o", str(out), "--batch-size", "2"]) == 0
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == ["p1", "8", "9"]
    for row in rows:
        assert row["label"] in LABELS and set(row["scores"]) == set(LABELS)  # type: ignore[arg-type]
    err = capsys.readouterr().err
    for line in (2, 3, 4, 5, 6, 9):
        assert f"posts.jsonl:{line}: skipped" in err
    assert "3 scored, 6 skipped" in err
    assert "thank you" not in err


def test_score_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out = tmp_path / "posts.csv", tmp_path / "out.jsonl"
    src.write_text('id,text\na,"Hello @user, how was the trip?"\nb,\nc,"Win a free phone, RT to enter"\n')
    assert cli.main(["score", str(src), "-o", str(out)]) == 0
    assert [r["id"] for r in read_jsonl(out)] == ["a", "c"]
    err = capsys.readouterr().err
    assert "posts.csv:3: skipped" in err and "2 scored, 1 skipped" in err


def test_score_csv_without_text_column(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text("id,body\n1,hello\n")
    assert cli.main(["score", str(src), "-o", str(tmp_path / "out.jsonl")]) == 2


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
