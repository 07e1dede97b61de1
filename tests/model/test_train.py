"""`dialogic train` end to end on the real build, a few steps only: the artifact it writes loads through
the serving path, carries its calibration, and its model selection saw dev's counterfactual copies."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from model.runtime.classifier import META_FILE, Classifier

pytestmark = pytest.mark.slow


def test_a_short_run_writes_a_servable_artifact(built: Any, tmp_path: Path) -> None:
    from model.train import add_arguments, train

    build_dir, _, rows = built
    assert rows["dev_counterfactual"], "the build writes dev posts in another form"
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    out = tmp_path / "artifact"
    args = parser.parse_args(
        [
            "--build",
            str(build_dir),
            "--out",
            str(out),
            "--limit",
            "96",
            "--max-steps",
            "4",
            "--eval-every",
            "2",
        ]
    )
    meta = train(args)
    training = meta["training"]
    assert training["steps"] == 4 and 1 <= training["best_step"] <= 4
    assert training["calibration_rows"] == len(rows["dev"]) + len(rows["dev_counterfactual"])
    assert 0.05 < meta["temperature"] < 20
    stored = json.loads((out / META_FILE).read_text())
    assert stored["training"]["roundtrip"]["version_stable"]
    clf = Classifier.load(out)
    assert clf.version == stored["training"]["roundtrip"]["version"]
    assert len(clf.predict(["@user thanks, that fixed it!"])) == 1
