"""`model/average.py` on the shipped artifact: weights on the line between two models, parents named,
and a refusal to average models that do not share labels or tensors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from model.average import average
from model.runtime.classifier import ARTIFACT_DIR, META_FILE, WEIGHTS_FILE, Classifier, artifact_version

HEAD = "classifier.weight"


@pytest.fixture
def round_(tmp_path: Path) -> Path:
    """A stand-in for a further round: the shipped artifact with its head's weights doubled."""
    out = tmp_path / "round"
    shutil.copytree(ARTIFACT_DIR, out, ignore=shutil.ignore_patterns("onnx"))
    tensors = load_file(out / WEIGHTS_FILE)
    tensors[HEAD] = tensors[HEAD] * 2
    save_file(tensors, out / WEIGHTS_FILE, metadata={"format": "pt"})
    return out


def test_the_average_lies_on_the_line_and_names_its_parents(round_: Path, tmp_path: Path) -> None:
    out = tmp_path / "mixed"
    meta = average(ARTIFACT_DIR, round_, 0.25, out)
    shipped, mixed = load_file(ARTIFACT_DIR / WEIGHTS_FILE), load_file(out / WEIGHTS_FILE)
    assert torch.allclose(mixed[HEAD].float(), 1.25 * shipped[HEAD].float(), rtol=1e-3, atol=1e-4)
    assert all(torch.equal(mixed[k], shipped[k]) for k in shipped if k != HEAD)
    assert meta["averaged"] == json.loads((out / META_FILE).read_text())["averaged"]
    assert meta["averaged"]["previous"] == artifact_version(ARTIFACT_DIR)
    assert meta["averaged"]["round"] == artifact_version(round_)
    assert meta["averaged"]["weight_of_round"] == 0.25
    assert not (out / "onnx").exists()  # built afresh for the new weights, never reused
    # A new version, so no cache keyed by a parent's version serves the average's scores.
    assert Classifier.load(out).version not in {meta["averaged"]["previous"], meta["averaged"]["round"]}


def test_models_that_do_not_share_labels_or_a_valid_weight_are_refused(round_: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="weight"):
        average(ARTIFACT_DIR, round_, 1.5, tmp_path / "out")
    meta = json.loads((round_ / META_FILE).read_text())
    (round_ / META_FILE).write_text(json.dumps(meta | {"labels": meta["labels"][::-1]}))
    with pytest.raises(ValueError, match="labels"):
        average(ARTIFACT_DIR, round_, 0.3, tmp_path / "out")
    assert not (tmp_path / "out").exists()
