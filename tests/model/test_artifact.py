"""The shipped artifact: loads, has a stable version, and gets clear cases (written for this test in the
guide's spirit) right. The artifact ships, so its absence is a failure, not a skip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model import onnx_export
from model.runtime import onnx_int8
from model.runtime.classifier import (
    ARTIFACT_DIR,
    LABELS,
    MAX_TOKENS,
    META_FILE,
    Classifier,
    artifact_version,
    length_buckets,
)
from model.runtime.normalize import NORMALIZE_VERSION, normalize

CLEAR = [
    ("@user So sorry about that, please DM us your order number and we'll sort it out.", "conversation"),
    ("@user thanks for the shout-out, glad you liked the latte!", "conversation"),
    ("@user did restarting the router fix the connection?", "conversation"),
    ("@AcmeHelp my package says delivered but it isn't here, what do I do?", "conversation"),
    ("@user You're welcome! Let us know if there's anything else we can do.", "conversation"),
    ("Big summer sale: 30% off everything this weekend only! http", "broadcast"),
    ("Our spring collection is here! Shop now: https://example.com/spring", "broadcast"),
    ("Breaking: city council approves new bike lanes downtown http", "broadcast"),
    ("We're hiring! Join our engineering team http #jobs", "broadcast"),
    ("RT @user: Join us Thursday for a free webinar on cloud security http", "broadcast"),
    ("Road closed between 5th and 9th Ave due to flooding. Use alternate routes.", "broadcast"),
]


@pytest.fixture(scope="module")
def clf() -> Classifier:
    assert (ARTIFACT_DIR / META_FILE).exists(), "the trained artifact must ship in model/artifacts"
    return Classifier.load(ARTIFACT_DIR, backend="fp32")


def test_artifact_layout_and_metadata() -> None:
    for name in ("model.safetensors", "config.json", META_FILE, "tokenizer.json"):
        assert (ARTIFACT_DIR / name).exists(), name
    assert (ARTIFACT_DIR / "model.safetensors").stat().st_size <= 50 * 2**20
    meta = json.loads((ARTIFACT_DIR / META_FILE).read_text())
    assert meta["name"] == "dialogic-minilm"
    assert meta["labels"] == list(LABELS)
    assert meta["normalize_version"] == NORMALIZE_VERSION
    assert 0.05 < float(meta["temperature"]) < 20
    assert meta.get("metrics", {}).get("gold", {}).get("macro_f1") is not None


def test_weights_are_fp16_on_disk_computed_in_fp32(clf: Classifier) -> None:
    from safetensors import safe_open

    with safe_open(str(ARTIFACT_DIR / "model.safetensors"), framework="pt") as fh:
        name = next(iter(fh.keys()))
        assert str(fh.get_tensor(name).dtype) == "torch.float16"
    assert clf.backend == "fp32" and clf.logits(["a post"]).dtype == np.float32


def test_version_is_stable_across_loads(clf: Classifier) -> None:
    again = Classifier.load(ARTIFACT_DIR)
    assert clf.version == again.version == artifact_version(ARTIFACT_DIR)
    assert clf.name == "dialogic-minilm" and clf.version != "untrained"


def test_clear_examples(clf: Classifier) -> None:
    preds = clf.predict([t for t, _ in CLEAR])
    wrong = [(t, p.label, p.scores) for (t, want), p in zip(CLEAR, preds, strict=True) if p.label != want]
    assert not wrong


def test_scores_are_probabilities_and_deterministic(clf: Classifier) -> None:
    texts = [t for t, _ in CLEAR]
    a = clf.probabilities(texts)
    b = clf.probabilities(list(reversed(texts)))[::-1]
    np.testing.assert_allclose(a.sum(1), 1.0, atol=1e-6)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_int8_backend_agrees_with_fp32(clf: Classifier) -> None:
    q = Classifier.load(ARTIFACT_DIR, backend="int8", threads=1)
    texts = [t for t, _ in CLEAR]
    assert [p.label for p in q.predict(texts)] == [want for _, want in CLEAR]
    assert q.version == clf.version  # one model, two ways to run it ...
    assert q.scores_version != clf.scores_version  # ... whose scores are cached apart
    assert q.scores_version.endswith(onnx_int8.RECIPE)  # as are two int8 builds
    np.testing.assert_allclose(q.probabilities(texts), clf.probabilities(texts), atol=0.1)
    alone = np.concatenate([q.probabilities([t]) for t in texts])
    assert np.array_equal(q.probabilities(texts), alone)  # a text's scores never depend on its batch


def test_int8_export_computes_the_last_layer_for_cls_only_with_the_same_logits() -> None:
    """The exported graph's shortcut (model/onnx_export.py): the last layer's [CLS] row alone, computed in
    fp32 torch, gives the full model's logits, padding included."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(
        ARTIFACT_DIR, dtype=torch.float32, attn_implementation="eager"
    ).eval()  # the weights are stored in fp16, and transformers 5 loads a checkpoint's own dtype by default
    texts = [t for t, _ in CLEAR[:2]] + ["ok"]
    batch = AutoTokenizer.from_pretrained(ARTIFACT_DIR)(texts, padding=True, return_tensors="pt")
    assert not batch["attention_mask"].all()  # the check covers padded positions
    with torch.no_grad():
        full = model(**batch).logits
        before_last = model.bert(**batch, output_hidden_states=True).hidden_states[-2]
        cls = onnx_export.last_layer_for_cls(
            model.bert.encoder.layer[-1], before_last, batch["attention_mask"]
        )
        shortcut = model.classifier(model.bert.pooler(cls))
    torch.testing.assert_close(shortcut, full, rtol=1e-5, atol=1e-5)


def test_int8_model_is_built_once_and_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    Classifier.load(ARTIFACT_DIR, backend="int8", threads=1)  # built here if no earlier test did
    path = onnx_int8.cached_path(ARTIFACT_DIR, artifact_version(ARTIFACT_DIR))
    assert path.exists()

    def no_rebuild(*args: object) -> None:
        raise AssertionError("rebuilt although the int8 model is cached")

    monkeypatch.setattr(onnx_export, "build", no_rebuild)
    Classifier.load(ARTIFACT_DIR, backend="int8", threads=1)


def test_length_buckets_bound_padding_and_size() -> None:
    lengths = [5, 30, 31, 128, 32, 7, 29, 33, 30, 31]
    buckets = length_buckets(lengths, max_size=3)
    assert sorted(i for b in buckets for i in b) == list(range(len(lengths)))  # each text exactly once
    for bucket in buckets:
        sizes = [lengths[i] for i in bucket]
        assert len(bucket) <= 3
        assert max(sizes) * len(sizes) <= 1.1 * sum(sizes)  # padding within the tolerance
    assert [5, 7] not in [[lengths[i] for i in b] for b in buckets]  # 2 pads of 12 tokens: apart
    assert length_buckets([10] * 7, max_size=4) == [[0, 1, 2, 3], [4, 5, 6]]


def test_scores_do_not_depend_on_how_texts_are_grouped(clf: Classifier) -> None:
    texts = [t for t, _ in CLEAR]
    np.testing.assert_allclose(clf.probabilities(texts, batch_size=1), clf.probabilities(texts), atol=1e-5)


def test_token_ids_are_transformers_own(clf: Classifier) -> None:
    """Serving tokenises with the `tokenizers` library alone (model/runtime/classifier.py); the ids must
    be those of transformers' tokenizer, which training used, truncation and odd characters included."""
    from transformers import AutoTokenizer

    texts = [t for t, _ in CLEAR] + ["", "ok", "word " * 300, "Ünïcödé straße 日本語 🙂", "tab\there\u200b"]
    reference = AutoTokenizer.from_pretrained(ARTIFACT_DIR)
    expected = reference([normalize(t) for t in texts], truncation=True, max_length=MAX_TOKENS)["input_ids"]
    assert clf.token_ids(texts) == expected
    assert max(map(len, expected)) == MAX_TOKENS  # the long text was truncated, as in training
    assert clf.pad_id == reference.pad_token_id
