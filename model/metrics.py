"""Metric functions shared by training, calibration, baselines and evaluation (one definition each).

Labels are integer indices into `model.runtime.classifier.LABELS` (0 = broadcast, 1 = conversation);
`probs` is an (n, k) array of class probabilities whose rows sum to 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from model.runtime.classifier import LABELS


def _arr(x: Sequence[int] | np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def accuracy(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray) -> float:
    t, p = _arr(y_true), _arr(y_pred)
    return float((t == p).mean()) if len(t) else float("nan")


def cohen_kappa(a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray) -> float:
    """Agreement of two annotators beyond what their label frequencies give by chance."""
    x, y = _arr(a), _arr(b)
    observed = float((x == y).mean())
    chance = sum(float((x == k).mean()) * float((y == k).mean()) for k in range(len(LABELS)))
    return (observed - chance) / (1 - chance) if chance < 1 else 1.0


def confusion(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, n_classes: int = len(LABELS)
) -> np.ndarray:
    """Rows are true classes, columns predicted classes."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    for t, p in zip(_arr(y_true), _arr(y_pred), strict=True):
        m[t, p] += 1
    return m


def per_class(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, n_classes: int = len(LABELS)
) -> list[dict[str, float]]:
    """Precision, recall, F1 and support per class; an undefined ratio (0/0) counts as 0."""
    m = confusion(y_true, y_pred, n_classes)
    out = []
    for c in range(n_classes):
        tp = m[c, c]
        pred, true = m[:, c].sum(), m[c, :].sum()
        p = tp / pred if pred else 0.0
        r = tp / true if true else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        out.append({"precision": float(p), "recall": float(r), "f1": float(f), "support": int(true)})
    return out


def macro_f1(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, n_classes: int = len(LABELS)
) -> float:
    """Mean F1 over the classes present in y_true or y_pred (sklearn's behaviour with default labels)."""
    t, p = _arr(y_true), _arr(y_pred)
    if not len(t):
        return float("nan")
    present = sorted(set(t.tolist()) | set(p.tolist()))
    stats = per_class(t, p, n_classes)
    return float(np.mean([stats[c]["f1"] for c in present]))


def ece(probs: np.ndarray, y_true: Sequence[int] | np.ndarray, n_bins: int = 15) -> float:
    """Expected calibration error of the top-label confidence, `n_bins` equal-width bins over [0, 1]
    (a confidence of exactly 1 falls in the last bin): sum over bins of |acc - conf| * share of rows."""
    probs = np.asarray(probs, dtype=np.float64)
    t = _arr(y_true)
    if not len(t):
        return float("nan")
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == t).astype(np.float64)
    bins = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            total += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(total)


def brier(probs: np.ndarray, y_true: Sequence[int] | np.ndarray) -> float:
    """Brier score of the positive class (conversation) for the binary task: mean (p1 - y)^2.
    (Half the multi-class Brier sum over both classes.)"""
    probs = np.asarray(probs, dtype=np.float64)
    t = _arr(y_true)
    if not len(t):
        return float("nan")
    return float(np.mean((probs[:, 1] - (t == 1)) ** 2))


def nll(probs: np.ndarray, y_true: Sequence[int] | np.ndarray) -> float:
    probs = np.asarray(probs, dtype=np.float64)
    t = _arr(y_true)
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(t)), t], 1e-12, 1.0))))


def report(y_true: Sequence[int] | np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """All headline metrics for one set of rows."""
    probs = np.asarray(probs, dtype=np.float64)
    t = _arr(y_true)
    pred = probs.argmax(axis=1) if len(t) else np.zeros(0, dtype=np.int64)
    pc = per_class(t, pred)
    return {
        "n": len(t),
        "accuracy": accuracy(t, pred),
        "macro_f1": macro_f1(t, pred),
        "per_class": {LABELS[c]: pc[c] for c in range(len(LABELS))},
        "confusion": confusion(t, pred).tolist(),
        "ece": ece(probs, t),
        "brier": brier(probs, t),
    }
