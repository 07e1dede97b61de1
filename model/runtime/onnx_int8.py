"""The int8 backend at serving time: an ONNX Runtime session on the quantised model.

The repository ships one model (the safetensors artifact); the int8 file is derived from it once, by
`model/onnx_export.py` (torch, about 10 s), and kept beside it under `onnx/` (git-ignored), named by the
artifact version, the export recipe and the onnxruntime version, so a later start, another worker or
the container image reuses it without importing torch. Where the artifact directory is read-only (a
locked-down pod whose image skipped the build), it goes to the temp directory instead.
"""

from __future__ import annotations

import logging
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger("dialogic.model")
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
RECIPE = "r3"  # names onnx_export.py's steps in the file name: a changed recipe never reuses an old file
BUILD = f"int8{RECIPE}"  # this build's name, in the file name and in cached scores' keys
SLOW_FUSIONS = ["SkipLayerNormFusion"]  # slower than the ops it fuses; off in the export too


def describe_cpu() -> str:
    """The CPU's model name and the vector extensions by which ONNX Runtime picks its int8 kernels: int8
    scores differ slightly between CPU types, and speed a lot (docs/performance.md)."""
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


def session(directory: Path, version: str, threads: int) -> Any:
    """An ONNX Runtime session on the int8 model (built first if missing), `threads` per forward pass.
    One session serves concurrent `run` calls from several threads."""
    import onnxruntime

    path = cached_path(directory, version)
    if not path.exists():
        from model import onnx_export  # torch and the exporter: only for an artifact never built before

        log.info("building the int8 model", extra={"event": "onnx_build", "path": str(path)})
        onnx_export.build(directory, path)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads sleep
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    return onnxruntime.InferenceSession(
        str(path), options, providers=["CPUExecutionProvider"], disabled_optimizers=SLOW_FUSIONS
    )
