"""Temperature scaling: one scalar T > 0 so that softmax(logits / T) minimises the NLL on dev.

`fit_temperature` does a grid search over log T (fine, bounded, deterministic) followed by a golden-section
refinement around the best grid point. CLI: `python -m model.calibrate [--artifact DIR] [--build DIR]`
refits T on a build's dev split and its counterfactual copies (the rows training calibrates on), for a
build newer than the artifact's or a changed int8 build, and rewrites `temperature` in the artifact's
dialogic.json, noting the refit under `recalibrated`. It fits the scores of the backend the service
serves by default (int8), which are the ones clients see.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from model.runtime.classifier import ARTIFACT_DIR, BACKENDS, LABELS, META_FILE

CALIBRATION_SPLITS = ("dev", "dev_counterfactual")  # a build's files, here and in model.train


def _nll(logits: np.ndarray, labels: np.ndarray, t: float) -> float:
    z = logits / t
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray, lo: float = 0.05, hi: float = 20.0) -> float:
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if not len(labels):
        return 1.0
    grid = np.linspace(np.log(lo), np.log(hi), 241)
    losses = [_nll(logits, labels, float(np.exp(g))) for g in grid]
    i = int(np.argmin(losses))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    phi = (np.sqrt(5) - 1) / 2
    for _ in range(40):
        c, d = b - phi * (b - a), a + phi * (b - a)
        if _nll(logits, labels, float(np.exp(c))) < _nll(logits, labels, float(np.exp(d))):
            b = d
        else:
            a = c
    return float(np.exp((a + b) / 2))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--artifact", type=Path, default=ARTIFACT_DIR)
    parser.add_argument("--build", type=Path, default=Path(__file__).parent / "data" / "build")
    parser.add_argument("--backend", choices=BACKENDS, default="int8", help="whose scores to calibrate")


def run(args: argparse.Namespace) -> int:
    from model.data import read_jsonl, utc_stamp
    from model.runtime.classifier import Classifier

    rows = [r for split in CALIBRATION_SPLITS for r in read_jsonl(args.build / f"{split}.jsonl")]
    clf = Classifier.load(args.artifact, args.backend)
    logits = clf.logits([r["text"] for r in rows])
    labels = np.array([LABELS.index(r["label"]) for r in rows])
    t = fit_temperature(logits, labels)
    meta_path = args.artifact / META_FILE
    meta = json.loads(meta_path.read_text())
    print(
        f"temperature {meta['temperature']:.4f} -> {t:.4f} on {len(rows)} rows "
        f"(NLL {_nll(logits, labels, meta['temperature']):.4f} -> {_nll(logits, labels, t):.4f})"
    )
    summary = json.loads((args.build / "summary.json").read_text())
    meta["recalibrated"] = {
        "at": utc_stamp(),
        "build_built_at": summary.get("built_at"),
        "rows": len(rows),
        "backend": args.backend,
        "previous_temperature": meta["temperature"],
    }
    meta["temperature"] = t
    meta_path.write_text(json.dumps(meta, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m model.calibrate", description=__doc__)
    add_arguments(p)
    raise SystemExit(run(p.parse_args()))
