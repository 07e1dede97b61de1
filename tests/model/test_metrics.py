"""Shared metric functions on hand-made arrays with known values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from model.calibrate import fit_temperature
from model.metrics import accuracy, brier, confusion, ece, macro_f1, nll, per_class, report

Y_TRUE = [0, 0, 0, 0, 1, 1]
Y_PRED = [0, 0, 1, 1, 1, 0]


def test_accuracy_and_confusion() -> None:
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(3 / 6)
    assert confusion(Y_TRUE, Y_PRED).tolist() == [[2, 2], [1, 1]]


def test_per_class_and_macro_f1() -> None:
    pc = per_class(Y_TRUE, Y_PRED)
    # class 0: P = 2/3, R = 2/4, F1 = 4/7; class 1: P = 1/3, R = 1/2, F1 = 2/5
    assert pc[0]["precision"] == pytest.approx(2 / 3)
    assert pc[0]["recall"] == pytest.approx(0.5)
    assert pc[0]["f1"] == pytest.approx(4 / 7)
    assert pc[1]["f1"] == pytest.approx(0.4)
    assert pc[0]["support"] == 4 and pc[1]["support"] == 2
    assert macro_f1(Y_TRUE, Y_PRED) == pytest.approx((4 / 7 + 0.4) / 2)


def test_macro_f1_matches_sklearn() -> None:
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    assert macro_f1(t, p) == pytest.approx(f1_score(t, p, average="macro"))
    assert macro_f1([1, 1, 1], [1, 1, 1]) == 1.0  # only one class present: mean over present classes


def test_ece_known_values() -> None:
    # Two bins used: conf 0.9 (2 rows, 1 correct: |0.5 - 0.9| = 0.4) and conf 0.6 (2 rows, both correct: 0.4)
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.4, 0.6]])
    y = [0, 1, 1, 1]
    assert ece(probs, y) == pytest.approx(0.5 * 0.4 + 0.5 * 0.4)
    perfect = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert ece(perfect, [0, 1]) == pytest.approx(0.0)


def test_ece_bins_are_15_equal_width() -> None:
    # 0.70 and 0.72 share the bin [0.667, 0.733): accuracy 0.5 vs mean confidence 0.71 -> 0.21
    probs = np.array([[0.70, 0.30], [0.72, 0.28]])
    assert ece(probs, [0, 1]) == pytest.approx(0.21)
    # 0.66 and 0.68 fall in neighbouring 15-bins (9 and 10): each is its own bin
    split = np.array([[0.66, 0.34], [0.68, 0.32]])
    assert ece(split, [0, 1]) == pytest.approx(0.5 * 0.34 + 0.5 * 0.68)


def test_brier_and_nll() -> None:
    probs = np.array([[0.8, 0.2], [0.3, 0.7], [0.5, 0.5]])
    y = [0, 1, 1]
    assert brier(probs, y) == pytest.approx((0.2**2 + 0.3**2 + 0.5**2) / 3)
    assert nll(probs, y) == pytest.approx(-(math.log(0.8) + math.log(0.7) + math.log(0.5)) / 3)


def test_report_shape() -> None:
    r = report(Y_TRUE, np.eye(2)[Y_PRED])
    assert r["n"] == 6 and r["confusion"] == [[2, 2], [1, 1]]
    assert set(r["per_class"]) == {"broadcast", "conversation"}


def test_temperature_recovers_a_known_scale() -> None:
    rng = np.random.default_rng(1)
    true_logits = rng.normal(0, 2, size=(4000, 2))
    p = np.exp(true_logits) / np.exp(true_logits).sum(1, keepdims=True)
    y = (rng.random(4000) < p[:, 1]).astype(int)
    # The model is 3x over-confident: its logits are the calibrated ones times 3, so T should be ~3.
    assert fit_temperature(3 * true_logits, y) == pytest.approx(3.0, rel=0.1)


def test_cohen_kappa_known_values() -> None:
    from model.metrics import cohen_kappa

    assert cohen_kappa([0, 1, 0, 1], [0, 1, 0, 1]) == 1.0
    # observed 0.5, chance 0.5 (both annotators 50/50): no agreement beyond chance
    assert cohen_kappa([0, 0, 1, 1], [0, 1, 0, 1]) == 0.0
    a, b = [0] * 6 + [1] * 4, [0] * 5 + [1] * 5
    assert abs(cohen_kappa(a, b) - (0.9 - 0.5) / 0.5) < 1e-9


def test_calibrate_cli_refits_on_dev_and_its_copies_and_notes_it(tmp_path: Path) -> None:
    import argparse
    import shutil

    from model import calibrate
    from model.runtime.classifier import ARTIFACT_DIR, META_FILE, artifact_version

    artifact, build = tmp_path / "artifact", tmp_path / "build"
    shutil.copytree(ARTIFACT_DIR, artifact, ignore=shutil.ignore_patterns("onnx"))
    build.mkdir()
    dev = [
        {"text": "We're hiring! Join our team http", "label": "broadcast"},
        {"text": "@user Sorry about that, please DM us your order number", "label": "conversation"},
    ]
    copies = [{"text": "Sorry about that, please DM us your order number", "label": "conversation"}]
    for name, rows in (("dev", dev), ("dev_counterfactual", copies)):
        (build / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (build / "summary.json").write_text(json.dumps({"built_at": "2026-12-02T00:00:00Z"}))
    before, version = json.loads((artifact / META_FILE).read_text()), artifact_version(artifact)

    assert calibrate.run(argparse.Namespace(artifact=artifact, build=build, backend="fp32")) == 0

    meta = json.loads((artifact / META_FILE).read_text())
    assert meta["recalibrated"]["rows"] == 3
    assert meta["recalibrated"]["previous_temperature"] == before["temperature"]
    assert meta["recalibrated"]["build_built_at"] == "2026-12-02T00:00:00Z"
    assert meta["recalibrated"]["backend"] == "fp32"
    assert meta["temperature"] != before["temperature"]  # three easy rows: a sharper temperature
    assert artifact_version(artifact) != version  # cached scores of the old temperature are not reused
