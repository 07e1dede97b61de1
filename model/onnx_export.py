"""Export the shipped fp32 model to the int8 ONNX file that `model.runtime.onnx_int8` serves.

The pipeline side of the int8 backend: it needs torch, so the runtime imports it only when an
artifact's file does not exist yet (the first start, or the image build); a process that finds the
file never loads torch.
Steps: export with the last layer computed for the [CLS] row only (the one row the classifier reads),
ONNX Runtime's BERT optimiser (fused bias-GELU and LayerNorm; attention left unfused, since its
quantised form scales a whole pass at once), then int8 matrix products with one activation scale per
token row (`model/quantize.py`), so that a text's scores do not depend on the texts in its pass.
Residual adds and LayerNorms stay two ops, since ORT's fused SkipLayerNormalization kernel was slower
than the pair.
`onnx_int8.RECIPE` names these steps; what each one was worth is in docs/performance.md, the gold-set
figures of both backends in the model card.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import onnx
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.transformers import optimizer
from onnxruntime.transformers.fusion_options import FusionOptions
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from model.quantize import quantize_rows
from model.runtime.onnx_int8 import INPUTS


def build(directory: Path, target: Path, per_row: bool = True) -> None:
    """Export, fuse and quantise the artifact in `directory` into `target` (atomically). `per_row=False`:
    ONNX Runtime's own dynamic quantisation instead (fused QAttention, one activation scale per pass),
    the file a straightforward server would run, kept for the benchmark's peer."""
    model = AutoModelForSequenceClassification.from_pretrained(
        directory, dtype=torch.float32, attn_implementation="eager"
    ).eval()

    class LogitsOnly(torch.nn.Module):
        """Positional inputs in, logits out: the signature the exporter traces. The classifier reads the
        last layer's first ([CLS]) row only, so that layer computes keys and values for every token but
        queries, attention output and feed-forward for [CLS] alone: the same logits for a sixth less work."""

        def __init__(self) -> None:
            super().__init__()
            self.model, self.last = model, model.bert.encoder.layer[-1]
            model.bert.encoder.layer = model.bert.encoder.layer[:-1]

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.model.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            cls = last_layer_for_cls(self.last, hidden, attention_mask)
            return self.model.classifier(self.model.bert.pooler(cls))

    sample = AutoTokenizer.from_pretrained(directory)(
        ["a sample post", "a"], padding=True, return_tensors="pt"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        exported, fused = Path(work) / "fp32.onnx", Path(work) / "fused.onnx"
        dynamic = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
        with warnings.catch_warnings():  # tracer notes on shape-dependent branches: shapes stay dynamic
            warnings.simplefilter("ignore")
            torch.onnx.export(
                LogitsOnly(),
                tuple(sample[name] for name in INPUTS),
                str(exported),
                input_names=list(INPUTS),
                output_names=["logits"],
                dynamic_axes={**dynamic, "logits": {0: "batch"}},
                opset_version=17,
                dynamo=False,  # the TorchScript exporter: no onnxscript, and a graph the optimiser knows
            )
        config, fusions = model.config, FusionOptions("bert")
        fusions.enable_skip_layer_norm = False
        fusions.enable_attention = not per_row
        optimizer.optimize_model(
            str(exported),
            model_type="bert",
            num_heads=config.num_attention_heads,
            hidden_size=config.hidden_size,
            optimization_options=fusions,
        ).save_model_to_file(str(fused))
        staged = Path(work) / "int8.onnx"
        if per_row:
            quantize_rows(fused, staged)
        else:
            quantize_per_pass(fused, staged)
        os.replace(staged, target)  # readers never see a half-written file


def quantize_per_pass(source: Path, target: Path) -> None:
    """ORT's dynamic int8: weights per output channel, each product's activations by one scale per pass."""
    logging.disable(logging.WARNING)  # the quantiser's advice to pre-process goes to the root logger
    try:
        quantize_dynamic(
            source,
            target,
            weight_type=QuantType.QInt8,
            per_channel=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # fused ops: no inferred type
        )
    finally:
        logging.disable(logging.NOTSET)


def last_layer_for_cls(layer: Any, hidden: Any, attention_mask: Any) -> Any:
    """A BERT layer's output for the first row of `hidden` (batch, tokens, width) only, attending to every
    unmasked token: the same arithmetic as the layer's own forward, restricted to one query row."""
    attention = layer.attention.self
    batch, tokens, _ = hidden.shape
    heads, size = attention.num_attention_heads, attention.attention_head_size
    first = hidden[:, :1]
    query = attention.query(first).view(batch, 1, heads, size).transpose(1, 2)
    key = attention.key(hidden).view(batch, tokens, heads, size).transpose(1, 2)
    value = attention.value(hidden).view(batch, tokens, heads, size).transpose(1, 2)
    masked = (1.0 - attention_mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
    weights = torch.softmax(torch.matmul(query, key.transpose(2, 3)) * attention.scaling + masked, dim=-1)
    context = torch.matmul(weights, value).transpose(1, 2).reshape(batch, 1, heads * size)
    attended = layer.attention.output(context, first)
    return layer.output(layer.intermediate(attended), attended)
