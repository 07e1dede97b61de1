"""Export the shipped fp32 model to the int8 ONNX file that `model.runtime.onnx_int8` serves.

The pipeline side of the int8 backend: it needs torch, so the runtime imports it only when an
artifact's file does not exist yet (the first start, or the image build); a process that finds the
file never loads torch.
Steps: export with eager attention (the pattern ONNX Runtime's BERT optimiser fuses into one Attention
op, with fused bias-GELU) and with the last layer computed for the [CLS] row only (the one row the
classifier reads), then dynamic int8 quantisation of the weights, per output channel. Residual adds and
LayerNorms stay two ops, since ORT's fused SkipLayerNormalization kernel was slower than the pair.
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

from model.runtime.onnx_int8 import INPUTS


def build(directory: Path, target: Path) -> None:
    """Export, fuse and quantise the artifact in `directory` into `target` (atomically)."""
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
        optimizer.optimize_model(
            str(exported),
            model_type="bert",
            num_heads=config.num_attention_heads,
            hidden_size=config.hidden_size,
            optimization_options=fusions,
        ).save_model_to_file(str(fused))
        staged = Path(work) / "int8.onnx"
        logging.disable(logging.WARNING)  # the quantiser's advice to pre-process goes to the root logger
        try:
            quantize_dynamic(
                fused,
                staged,
                weight_type=QuantType.QInt8,
                per_channel=True,
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # fused ops: no inferred type
            )
        finally:
            logging.disable(logging.NOTSET)
        os.replace(staged, target)  # readers never see a half-written file


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
