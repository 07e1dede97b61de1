"""The int8 backend: the shipped fp32 model exported to ONNX, fused and quantised, run by ONNX Runtime.

The repository ships one model (the safetensors artifact); this file is derived from it on first use
(about 10 s) and kept beside it under `onnx/` (git-ignored), named by the artifact version and the
onnxruntime version, so a later start, another worker or the container image reuses it. Where the
artifact directory is read-only (a locked-down pod whose image skipped the build), it goes to the
temp directory instead.

Steps: export with eager attention (the pattern ONNX Runtime's BERT optimiser fuses into one
Attention op, with fused bias-GELU) and with the last layer computed for the [CLS] row only (the one
row the classifier reads: 10% less time a post, same gold-set labels), then dynamic int8 quantisation
of the weights, per output channel. Residual adds and LayerNorms stay two ops: ORT's fused
SkipLayerNormalization kernel cost 85 us a call on a 37-token post against 25 us for the pair (ORT 1.32
profile), so the fusion is off both when the file is built and when a session loads it; posts/s went
up by 14% with identical gold-set labels.
The gold-set figures of both backends are in the model card, the throughput in the README.
"""

from __future__ import annotations

import logging
import os
import platform
import tempfile
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger("dialogic.model")
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
RECIPE = "r3"  # names the build steps below in the file name: a changed recipe never reuses an old file
BUILD = f"int8{RECIPE}"  # this build's name, in the file name and in cached scores' keys
SLOW_FUSIONS = ["SkipLayerNormFusion"]  # see the module docstring


def describe_cpu() -> str:
    """The CPU's model name and the vector extensions by which ONNX Runtime picks its int8 kernels: int8
    scores differ slightly between CPU types, and speed a lot (the int8 ceiling was 227 posts/s on an
    AVX2-only EPYC VM and 541 on a VNNI Xeon VM, both 2 CPUs)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    fields: dict[str, str] = {}
    for line in lines:
        key, colon, value = line.partition(":")
        if colon:
            fields.setdefault(key.strip(), value.strip())  # the first CPU's
    name, flags = fields.get("model name") or platform.machine(), set(fields.get("flags", "").split())
    extensions = [f for f in ("avx2", "avx512f", "avx_vnni", "avx512_vnni", "amx_int8") if f in flags]
    return f"{name}; {' '.join(extensions) or 'no AVX2'}"


def cached_path(directory: Path, version: str) -> Path:
    import onnxruntime

    name = f"{version}-{BUILD}-ort{onnxruntime.__version__}.onnx"
    folder = directory / "onnx"
    try:
        folder.mkdir(exist_ok=True)
        if os.access(folder, os.W_OK) or (folder / name).exists():
            return folder / name
    except OSError:
        pass
    return Path(tempfile.gettempdir()) / "dialogic-onnx" / name


def build(directory: Path, target: Path) -> None:
    """Export, fuse and quantise the artifact in `directory` into `target` (atomically)."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

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
    import torch

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


def session(directory: Path, version: str, threads: int) -> Any:
    """An ONNX Runtime session on the int8 model (built first if missing), `threads` per forward pass.
    One session serves concurrent `run` calls from several threads."""
    import onnxruntime

    path = cached_path(directory, version)
    if not path.exists():
        log.info("building the int8 model", extra={"event": "onnx_build", "path": str(path)})
        build(directory, path)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads sleep
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    return onnxruntime.InferenceSession(
        str(path), options, providers=["CPUExecutionProvider"], disabled_optimizers=SLOW_FUSIONS
    )
