"""Baselines trained on the same train split as the model: majority class and TF-IDF + logistic regression.

TF-IDF uses word 1-2-grams and character 2-5-grams (within word boundaries) of the normalised text;
read labels keep their higher weight through `sample_weight`. `python -m model.baselines` prints the
baselines' metrics on test and gold.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from model.data import DEFAULT_BUILD_DIR, read_jsonl
from model.metrics import report
from model.runtime.classifier import LABELS


def load_split(build_dir: Path, split: str) -> list[dict[str, Any]]:
    return list(read_jsonl(Path(build_dir) / f"{split}.jsonl"))


def labels_of(rows: list[dict[str, Any]]) -> np.ndarray:
    return np.array([LABELS.index(r["label"]) for r in rows], dtype=np.int64)


class Majority:
    name = "majority class"

    def fit(self, rows: list[dict[str, Any]]) -> Majority:
        counts: Counter[str] = Counter()
        for r in rows:
            counts[r["label"]] += r.get("weight", 1.0)
        self.label = LABELS.index(counts.most_common(1)[0][0])
        return self

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        p = np.zeros((len(texts), len(LABELS)))
        p[:, self.label] = 1.0
        return p


class TfidfLR:
    name = "TF-IDF + LR"

    def __init__(self, c: float = 4.0, seed: int = 0) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, make_pipeline

        features = FeatureUnion(
            [
                (
                    "word",
                    TfidfVectorizer(
                        analyzer="word",
                        ngram_range=(1, 2),
                        min_df=2,
                        sublinear_tf=True,
                        token_pattern=r"(?u)@?\b\w+\b|[?!]",
                    ),
                ),
                (
                    "char",
                    TfidfVectorizer(
                        analyzer="char_wb",
                        ngram_range=(2, 5),
                        min_df=2,
                        sublinear_tf=True,
                        max_features=200_000,
                    ),
                ),
            ]
        )
        self.pipeline = make_pipeline(features, LogisticRegression(C=c, max_iter=2000, random_state=seed))

    def fit(self, rows: list[dict[str, Any]]) -> TfidfLR:
        self.pipeline.fit(
            [r["text"] for r in rows],
            labels_of(rows),
            logisticregression__sample_weight=np.array([r.get("weight", 1.0) for r in rows]),
        )
        return self

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.pipeline.predict_proba(texts)


def train_baselines(build_dir: Path = DEFAULT_BUILD_DIR) -> list[Majority | TfidfLR]:
    train = load_split(build_dir, "train")
    return [Majority().fit(train), TfidfLR().fit(train)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--build", type=Path, default=DEFAULT_BUILD_DIR)


def run(args: argparse.Namespace) -> int:
    models = train_baselines(args.build)
    for split in ("test", "gold"):
        rows = load_split(args.build, split)
        y = labels_of(rows)
        for m in models:
            r = report(y, m.predict_proba([row["text"] for row in rows]))
            print(
                f"{split:5s} {m.name:15s} n={r['n']:4d} acc={r['accuracy']:.3f} macro-F1={r['macro_f1']:.3f} "
                f"ECE={r['ece']:.3f} Brier={r['brier']:.3f}"
            )
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m model.baselines", description=__doc__)
    add_arguments(p)
    raise SystemExit(run(p.parse_args()))
